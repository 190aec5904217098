// CUDA runtime helpers: device count and plain device allocations.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "ednn/build_info.hpp"
#include "../dispatch.hpp"

namespace ednn {

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no driver / no device" error
        return 0;
    }
    return n;
}

namespace cuda {

static void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("ednn CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

void* malloc_device(std::size_t bytes) {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc");
    return p;
}

void free_device(void* ptr) noexcept { cudaFree(ptr); }

void synchronize(void* stream) { check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize"); }

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (device to host)");
}

void copy_to_device(void* dst, const void* src, std::size_t bytes) {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (host to device)");
}

}  // namespace cuda
}  // namespace ednn
