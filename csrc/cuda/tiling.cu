// CUDA tiling kernel: one thread per output element (grid-stride loop), 64-bit indices,
// coalesced writes.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "ednn/tiling.hpp"
#include "../dispatch.hpp"
#include "../tiling_geometry.hpp"

namespace ednn::cuda {
namespace {

struct Bytes16 {
    unsigned long long lo, hi;
};

struct Params : detail::TileGeometry3 {
    int n_lead;
    int64_t lshape[kMaxLeadDims];
    int64_t lstride[kMaxLeadDims];
    int64_t lead;
    int64_t first;
    int64_t total;  // count * lead * t0 * t1 * t2
};

__device__ inline int64_t wrap(int64_t x, int64_t n) {
    const int64_t r = x % n;
    return r < 0 ? r + n : r;
}

template <typename T>
__global__ void tile_kernel(const char* __restrict__ grid, T* __restrict__ out, Params p) {
    const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < p.total;
         idx += step) {
        int64_t r = idx;
        const int64_t j2 = r % p.t[2]; r /= p.t[2];
        const int64_t j1 = r % p.t[1]; r /= p.t[1];
        const int64_t j0 = r % p.t[0]; r /= p.t[0];
        int64_t l = r % p.lead; r /= p.lead;
        const int64_t tile_idx = p.first + r;
        const int64_t i2 = tile_idx % p.n[2];
        const int64_t i1 = (tile_idx / p.n[2]) % p.n[1];
        const int64_t i0 = tile_idx / (p.n[2] * p.n[1]);
        int64_t off = 0;
        for (int a = p.n_lead - 1; a >= 0; --a) {
            off += (l % p.lshape[a]) * p.lstride[a];
            l /= p.lshape[a];
        }
        off += wrap(i0 * p.f[0] - p.c[0] + j0, p.S[0]) * p.st[0];
        off += wrap(i1 * p.f[1] - p.c[1] + j1, p.S[1]) * p.st[1];
        off += wrap(i2 * p.f[2] - p.c[2] + j2, p.S[2]) * p.st[2];
        out[idx] = *reinterpret_cast<const T*>(grid + off);
    }
}

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("ednn CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

}  // namespace

void tile(const void* grid, void* out, const TileLayout& L, int64_t first, int64_t count, void* stream) {
    Params p{};
    static_cast<detail::TileGeometry3&>(p) = detail::pad_to_3d(L);
    p.n_lead = static_cast<int>(L.lead_shape.size());
    for (int a = 0; a < p.n_lead; ++a) {
        p.lshape[a] = L.lead_shape[a];
        p.lstride[a] = L.lead_strides[a];
    }
    p.lead = L.lead_elements();
    p.first = first;
    p.total = count * p.lead * p.t[0] * p.t[1] * p.t[2];
    if (p.total == 0) return;
    const int threads = 256;
    const int64_t want = (p.total + threads - 1) / threads;
    const int blocks = static_cast<int>(want < 65536 * 8 ? want : 65536 * 8);
    auto s = static_cast<cudaStream_t>(stream);
    const char* g = static_cast<const char*>(grid);
    switch (L.elem_size) {
        case 1: tile_kernel<<<blocks, threads, 0, s>>>(g, static_cast<unsigned char*>(out), p); break;
        case 2: tile_kernel<<<blocks, threads, 0, s>>>(g, static_cast<unsigned short*>(out), p); break;
        case 4: tile_kernel<<<blocks, threads, 0, s>>>(g, static_cast<unsigned int*>(out), p); break;
        case 8: tile_kernel<<<blocks, threads, 0, s>>>(g, static_cast<unsigned long long*>(out), p); break;
        case 16: tile_kernel<<<blocks, threads, 0, s>>>(g, static_cast<Bytes16*>(out), p); break;
        default: throw std::invalid_argument("grid: unsupported element size");
    }
    check(cudaGetLastError(), "tile kernel launch");
}

}  // namespace ednn::cuda
