// Compiled instead of csrc/cuda/*.cu when ednn is built without CUDA.
#include <stdexcept>

#include "ednn/build_info.hpp"
#include "ednn/rasterize.hpp"
#include "ednn/tiling.hpp"
#include "../dispatch.hpp"

namespace ednn {

namespace {
[[noreturn]] void no_cuda() {
    throw std::runtime_error("ednn was built without CUDA: rebuild with nvcc available (EDNN_CUDA=ON)");
}
}  // namespace

int cuda_device_count() { return 0; }

namespace cuda {
void tile(const void*, void*, const TileLayout&, int64_t, int64_t, void*) { no_cuda(); }
void rasterize(const double*, const double*, int64_t, const RasterGrid&, void*, void*) { no_cuda(); }
void* malloc_device(std::size_t) { no_cuda(); }
void free_device(void*) noexcept {}
void synchronize(void*) { no_cuda(); }
void copy_to_host(void*, const void*, std::size_t) { no_cuda(); }
void copy_to_device(void*, const void*, std::size_t) { no_cuda(); }
}  // namespace cuda

}  // namespace ednn
