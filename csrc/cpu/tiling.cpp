// CPU tiling kernel (OpenMP over tile x lead blocks).
#include "ednn/tiling.hpp"

#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ednn::cpu {
namespace {

struct Bytes16 {
    uint64_t lo, hi;
};

inline int64_t wrap(int64_t x, int64_t n) {
    const int64_t r = x % n;
    return r < 0 ? r + n : r;
}

// Copies `t` elements along the last spatial axis, starting at periodic position `start` of a
// row of `n` elements with byte stride `stride`.
template <typename T>
inline void copy_row(const char* row, int64_t stride, int64_t n, int64_t start, int64_t t, T* dst) {
    if (stride == static_cast<int64_t>(sizeof(T))) {
        const T* src = reinterpret_cast<const T*>(row);
        int64_t pos = start;
        while (t > 0) {
            const int64_t seg = (n - pos) < t ? (n - pos) : t;
            if (seg >= 16) {
                std::memcpy(dst, src + pos, static_cast<size_t>(seg) * sizeof(T));
            } else {
                for (int64_t k = 0; k < seg; ++k) dst[k] = src[pos + k];
            }
            dst += seg;
            t -= seg;
            pos = 0;
        }
    } else {
        int64_t pos = start;
        for (int64_t k = 0; k < t; ++k) {
            std::memcpy(&dst[k], row + pos * stride, sizeof(T));
            if (++pos == n) pos = 0;
        }
    }
}

template <typename T>
void tile_typed(const char* grid, T* out, const TileLayout& L, int64_t first, int64_t count, int threads) {
    // Spatial axes are padded to 3 with unit axes in front (size 1, focus 1, context 0).
    int64_t S[3], st[3], f[3], c[3], t[3], n[3];
    const int pad = kMaxSpatialDims - L.ndim;
    for (int k = 0; k < 3; ++k) {
        const int src = k - pad;
        S[k] = src >= 0 ? L.size[src] : 1;
        st[k] = src >= 0 ? L.stride[src] : 0;
        f[k] = src >= 0 ? L.focus[src] : 1;
        c[k] = src >= 0 ? L.context[src] : 0;
        t[k] = f[k] + 2 * c[k];
        n[k] = S[k] / f[k];
    }
    const int n_lead = static_cast<int>(L.lead_shape.size());
    const int64_t lead = L.lead_elements();
    const int64_t block = t[0] * t[1] * t[2];
    const int64_t n_blocks = count * lead;
    const int64_t* lshape = L.lead_shape.data();
    const int64_t* lstride = L.lead_strides.data();

#ifdef _OPENMP
    const int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n_blocks * block > 16384)
#else
    (void)threads;
#endif
    for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t tile_idx = first + b / lead;
        int64_t l = b % lead;
        int64_t lead_off = 0;
        for (int a = n_lead - 1; a >= 0; --a) {
            lead_off += (l % lshape[a]) * lstride[a];
            l /= lshape[a];
        }
        const int64_t i2 = tile_idx % n[2];
        const int64_t i1 = (tile_idx / n[2]) % n[1];
        const int64_t i0 = tile_idx / (n[2] * n[1]);
        const char* base = grid + lead_off;
        T* dst = out + b * block;
        const int64_t start2 = wrap(i2 * f[2] - c[2], S[2]);
        int64_t r0 = wrap(i0 * f[0] - c[0], S[0]);
        for (int64_t j0 = 0; j0 < t[0]; ++j0) {
            int64_t r1 = wrap(i1 * f[1] - c[1], S[1]);
            for (int64_t j1 = 0; j1 < t[1]; ++j1) {
                copy_row<T>(base + r0 * st[0] + r1 * st[1], st[2], S[2], start2, t[2], dst);
                dst += t[2];
                if (++r1 == S[1]) r1 = 0;
            }
            if (++r0 == S[0]) r0 = 0;
        }
    }
}

}  // namespace

void tile(const void* grid, void* out, const TileLayout& L, int64_t first, int64_t count, int threads) {
    const char* g = static_cast<const char*>(grid);
    switch (L.elem_size) {
        case 1: tile_typed(g, static_cast<uint8_t*>(out), L, first, count, threads); break;
        case 2: tile_typed(g, static_cast<uint16_t*>(out), L, first, count, threads); break;
        case 4: tile_typed(g, static_cast<uint32_t*>(out), L, first, count, threads); break;
        case 8: tile_typed(g, static_cast<uint64_t*>(out), L, first, count, threads); break;
        case 16: tile_typed(g, static_cast<Bytes16*>(out), L, first, count, threads); break;
        default: break;  // rejected by validate()
    }
}

}  // namespace ednn::cpu
