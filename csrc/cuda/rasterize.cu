// CUDA rasterization kernel: one thread per (atom, stencil point), float64 atomic accumulation.
//
// Blocks stride over atoms (blockIdx.x) and split each atom's box stencil (blockIdx.y, threads);
// every stencil point adds Z exp(-|d|^2 / 2g^2) to each window point it maps to (one, or several
// when the window is wider than the periodic grid). The sum goes into a float64 buffer (the output
// itself for float64, a stream-ordered scratch buffer converted afterwards for float32). 64-bit
// indices throughout.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "ednn/rasterize.hpp"
#include "../dispatch.hpp"

namespace ednn::cuda {
namespace {

struct Params {
    int d;
    int64_t n_atoms;
    double L[3], h[3];
    int64_t N[3], W[3], o[3];  // padded to 3 axes with N = W = 1, o = 0
    double rc, inv2g2;
};

__device__ inline int64_t mod_pos(int64_t x, int64_t n) {
    const int64_t r = x % n;
    return r < 0 ? r + n : r;
}

__global__ void scatter_kernel(const double* __restrict__ pos, const double* __restrict__ Z, Params p,
                               double* __restrict__ acc) {
    for (int64_t atom = blockIdx.x; atom < p.n_atoms; atom += gridDim.x) {
        const double z = Z[atom];
        if (z == 0) continue;
        double x[3] = {0, 0, 0};
        int64_t a[3] = {0, 0, 0}, len[3] = {1, 1, 1}, w0[3] = {0, 0, 0};
        bool hit = true;
        for (int k = 0; k < p.d; ++k) {
            double xk = pos[atom * p.d + k];
            xk -= floor(xk / p.L[k]) * p.L[k];
            if (!(xk >= 0)) xk = 0;
            x[k] = xk;
            a[k] = static_cast<int64_t>(ceil((xk - p.rc) / p.h[k]));
            len[k] = static_cast<int64_t>(floor((xk + p.rc) / p.h[k])) - a[k] + 1;
            w0[k] = mod_pos(a[k] - p.o[k], p.N[k]);
            // the stencil's indices, mod N, are [w0, w0 + len) wrapped: do they meet [0, W)?
            hit = hit && len[k] > 0 && (w0[k] < p.W[k] || w0[k] + len[k] > p.N[k]);
        }
        if (!hit) continue;  // uniform over the block
        const int64_t total = len[0] * len[1] * len[2];
        const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.y;
        for (int64_t t = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x; t < total; t += step) {
            const int64_t j2 = t % len[2];
            const int64_t j1 = (t / len[2]) % len[1];
            const int64_t j0 = t / (len[2] * len[1]);
            const int64_t j[3] = {j0, j1, j2};
            double r2 = 0;
            int64_t w[3];
            bool inside = true;
            for (int k = 0; k < 3; ++k) {
                if (k < p.d) {
                    const double dk = static_cast<double>(a[k] + j[k]) * p.h[k] - x[k];
                    r2 += dk * dk;
                    int64_t wk = w0[k] + j[k];
                    if (wk >= p.N[k]) wk %= p.N[k];
                    w[k] = wk;
                    inside = inside && wk < p.W[k];
                } else {
                    w[k] = 0;
                }
            }
            if (!inside) continue;
            const double v = z * exp(-r2 * p.inv2g2);
            for (int64_t i0 = w[0]; i0 < p.W[0]; i0 += p.N[0])
                for (int64_t i1 = w[1]; i1 < p.W[1]; i1 += p.N[1])
                    for (int64_t i2 = w[2]; i2 < p.W[2]; i2 += p.N[2])
                        atomicAdd(acc + (i0 * p.W[1] + i1) * p.W[2] + i2, v);
        }
    }
}

__global__ void to_float_kernel(const double* __restrict__ src, float* __restrict__ dst, int64_t n) {
    const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
        dst[i] = static_cast<float>(src[i]);
}

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("ednn CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

// Stream-ordered device allocation (none for 0 bytes), freed on the same stream when it goes out of scope.
class StreamBuffer {
public:
    StreamBuffer(size_t bytes, cudaStream_t s) : s_(s) {
        if (bytes > 0) check(cudaMallocAsync(&ptr_, bytes, s), "cudaMallocAsync");
    }
    ~StreamBuffer() {
        if (ptr_ != nullptr) cudaFreeAsync(ptr_, s_);
    }
    StreamBuffer(const StreamBuffer&) = delete;
    StreamBuffer& operator=(const StreamBuffer&) = delete;
    template <typename T>
    T* as() const {
        return static_cast<T*>(ptr_);
    }

private:
    void* ptr_ = nullptr;
    cudaStream_t s_;
};

}  // namespace

void rasterize(const double* positions, const double* numbers, int64_t n_atoms, const RasterGrid& G, void* out,
               void* stream) {
    Params p{};
    p.d = G.ndim;
    p.n_atoms = n_atoms;
    for (int k = 0; k < 3; ++k) {
        const bool real = k < G.ndim;
        p.L[k] = real ? G.cell[k] : 1.0;
        p.h[k] = real ? G.spacing(k) : 1.0;
        p.N[k] = real ? G.shape[k] : 1;
        p.W[k] = real ? G.window[k] : 1;
        p.o[k] = real ? G.origin[k] % G.shape[k] : 0;
        if (p.o[k] < 0) p.o[k] += p.N[k];
    }
    p.rc = rasterize_cutoff(G.gamma);
    p.inv2g2 = 1.0 / (2.0 * G.gamma * G.gamma);
    const int64_t points = G.window_points();
    auto s = static_cast<cudaStream_t>(stream);

    StreamBuffer scratch(G.elem_size == 8 ? 0 : static_cast<size_t>(points) * sizeof(double), s);
    double* acc = G.elem_size == 8 ? static_cast<double*>(out) : scratch.as<double>();
    check(cudaMemsetAsync(acc, 0, static_cast<size_t>(points) * sizeof(double), s), "cudaMemsetAsync");
    if (n_atoms > 0) {
        const size_t pos_bytes = static_cast<size_t>(n_atoms) * G.ndim * sizeof(double);
        const size_t z_bytes = static_cast<size_t>(n_atoms) * sizeof(double);
        StreamBuffer atoms(pos_bytes + z_bytes, s);
        double* d_pos = atoms.as<double>();
        double* d_z = d_pos + n_atoms * G.ndim;
        // from pageable memory these return once the host data is staged: the caller may reuse it
        check(cudaMemcpyAsync(d_pos, positions, pos_bytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (positions)");
        check(cudaMemcpyAsync(d_z, numbers, z_bytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (numbers)");
        double stencil = 1;
        for (int k = 0; k < G.ndim; ++k) stencil *= 2 * p.rc / p.h[k] + 2;
        const int threads = 256;
        const double chunks = stencil / (threads * 4.0);
        const unsigned by = chunks < 1 ? 1u : chunks > 65535 ? 65535u : static_cast<unsigned>(chunks);
        const unsigned bx = static_cast<unsigned>(n_atoms < (int64_t{1} << 20) ? n_atoms : (int64_t{1} << 20));
        scatter_kernel<<<dim3(bx, by), threads, 0, s>>>(d_pos, d_z, p, acc);
        check(cudaGetLastError(), "rasterize kernel launch");
    }
    if (G.elem_size == 4) {
        const int threads = 256;
        const int64_t want = (points + threads - 1) / threads;
        const int blocks = static_cast<int>(want < 65536 * 8 ? want : 65536 * 8);
        to_float_kernel<<<blocks, threads, 0, s>>>(acc, static_cast<float*>(out), points);
        check(cudaGetLastError(), "rasterize float32 conversion launch");
    }
}

}  // namespace ednn::cuda
