// CPU tiling kernel.
//
// Each OpenMP thread owns a contiguous range of output blocks (one block = one tile of one lead
// index, t_1..t_d elements), walks it with odometer counters (no divisions per block), and writes
// its part of the output as one contiguous stream: short rows are gathered into a cache-resident
// staging buffer, long contiguous rows go straight out. Large outputs use non-temporal stores,
// which skip the read-for-ownership of the destination and so approach memcpy bandwidth.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ednn/tiling.hpp"
#include "../dispatch.hpp"
#include "../tiling_geometry.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ednn::cpu {
namespace {

struct Bytes16 {
    uint64_t lo, hi;
};

// Outputs at least this large are written with non-temporal stores; smaller ones are likely to be
// read again soon (e.g. a tile batch handed to a network) and stay in cache.
constexpr int64_t kStreamingThreshold = int64_t{16} << 20;
constexpr int64_t kStage = 16 << 10;      // staging buffer per thread, bytes
constexpr int64_t kDirectRowBytes = 256;  // contiguous rows at least this long bypass staging

inline int64_t wrap(int64_t x, int64_t n) {
    const int64_t r = x % n;
    return r < 0 ? r + n : r;
}

// Copies n bytes; with `stream`, the 16-byte aligned middle uses non-temporal stores.
inline void put_bytes(char* dst, const char* src, int64_t n, bool stream) {
#if defined(__SSE2__)
    if (stream && n >= 64) {
        const int64_t head = (16 - (reinterpret_cast<uintptr_t>(dst) & 15)) & 15;
        std::memcpy(dst, src, static_cast<size_t>(head));
        dst += head;
        src += head;
        n -= head;
        int64_t k = 0;
        for (; k + 64 <= n; k += 64) {
            const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k));
            const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k + 16));
            const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k + 32));
            const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k + 48));
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + k), a);
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + k + 16), b);
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + k + 32), c);
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + k + 48), d);
        }
        for (; k + 16 <= n; k += 16)
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + k),
                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k)));
        std::memcpy(dst + k, src + k, static_cast<size_t>(n - k));
        return;
    }
#else
    (void)stream;
#endif
    std::memcpy(dst, src, static_cast<size_t>(n));
}

inline void store_fence(bool stream) {
#if defined(__SSE2__)
    if (stream) _mm_sfence();
#else
    (void)stream;
#endif
}

// Writes one thread's contiguous share of the output.
template <typename T>
class RowWriter {
public:
    RowWriter(char* dst, bool stream) : dst_(dst), stream_(stream) {}
    ~RowWriter() { flush(); }

    // Appends t elements of a periodic row of n elements (byte stride `stride`), from `start`.
    void put_row(const char* row, int64_t stride, int64_t n, int64_t start, int64_t t) {
        constexpr int64_t E = sizeof(T);
        if (stride == E && t * E < kDirectRowBytes && start + t <= n && fill_ + t * E <= kStage) {
            // fast path for short rows that do not wrap: the common case of small tiles
            const T* s = reinterpret_cast<const T*>(row) + start;
            T* d = reinterpret_cast<T*>(buf_ + fill_);
            for (int64_t q = 0; q < t; ++q) d[q] = s[q];
            fill_ += t * E;
            return;
        }
        if (stride == E && t * E >= kDirectRowBytes) {
            flush();
            int64_t pos = start;
            while (t > 0) {
                const int64_t seg = std::min(t, n - pos);
                put_bytes(dst_, row + pos * E, seg * E, stream_);
                dst_ += seg * E;
                t -= seg;
                pos = 0;
            }
            return;
        }
        int64_t pos = start;
        while (t > 0) {
            if (fill_ + E > kStage) flush();
            const int64_t m = std::min(t, (kStage - fill_) / E);
            T* d = reinterpret_cast<T*>(buf_ + fill_);
            if (stride == E) {
                const T* s = reinterpret_cast<const T*>(row);
                int64_t k = 0;
                while (k < m) {
                    const int64_t seg = std::min(m - k, n - pos);
                    for (int64_t q = 0; q < seg; ++q) d[k + q] = s[pos + q];
                    k += seg;
                    pos += seg;
                    if (pos == n) pos = 0;
                }
            } else {
                for (int64_t k = 0; k < m; ++k) {
                    std::memcpy(&d[k], row + pos * stride, sizeof(T));
                    if (++pos == n) pos = 0;
                }
            }
            fill_ += m * E;
            t -= m;
        }
    }

    // Room for `bytes` more in the staging buffer (flushing if needed); returns where to write.
    T* reserve(int64_t bytes, int64_t slack = 0) {
        if (fill_ + bytes + slack > kStage) flush();
        T* d = reinterpret_cast<T*>(buf_ + fill_);
        fill_ += bytes;
        return d;
    }

    void flush() {
        if (fill_ == 0) return;
        put_bytes(dst_, buf_, fill_, stream_);
        dst_ += fill_;
        fill_ = 0;
    }

private:
    alignas(64) char buf_[kStage + 64];
    int64_t fill_ = 0;
    char* dst_;
    bool stream_;
};

using Geometry = detail::TileGeometry3;

// Copies t elements; T2 > 0 fixes t at compile time.
template <typename T, int T2>
inline void copy_short(T* __restrict d, const T* __restrict s, int64_t t) {
    if constexpr (T2 > 0) {
        (void)t;
        for (int q = 0; q < T2; ++q) d[q] = s[q];
    } else {
        for (int64_t q = 0; q < t; ++q) d[q] = s[q];
    }
}

template <typename T, int T2>
void tile_range(const char* grid, char* out, const TileLayout& L, const Geometry& G, int64_t first,
                int64_t b0, int64_t b1, bool stream) {
    const int n_lead = static_cast<int>(L.lead_shape.size());
    const int64_t lead = L.lead_elements();
    const int64_t block_bytes = G.t[0] * G.t[1] * G.t[2] * static_cast<int64_t>(sizeof(T));
    // decompose the first block once, then count like an odometer
    int64_t tile_idx = first + b0 / lead;
    int64_t l = b0 % lead;
    int64_t lidx[kMaxLeadDims] = {0};
    int64_t lead_off = 0;
    for (int a = n_lead - 1; a >= 0; --a) {
        lidx[a] = l % L.lead_shape[a];
        lead_off += lidx[a] * L.lead_strides[a];
        l /= L.lead_shape[a];
    }
    int64_t i2 = tile_idx % G.n[2];
    int64_t i1 = (tile_idx / G.n[2]) % G.n[1];
    int64_t i0 = tile_idx / (G.n[2] * G.n[1]);
    int64_t s0 = wrap(i0 * G.f[0] - G.c[0], G.S[0]);
    int64_t s1 = wrap(i1 * G.f[1] - G.c[1], G.S[1]);
    int64_t s2 = wrap(i2 * G.f[2] - G.c[2], G.S[2]);

    // Small tiles of a grid contiguous along the last axis go through a fixed-size copy from
    // cached row pointers: consecutive tiles along the last axis share their source rows. Their
    // output goes out with ordinary stores: measured here, non-temporal stores of the small staged
    // chunks were slower and far less steady than letting the cache write them back.
    const bool small = G.st[2] == static_cast<int64_t>(sizeof(T)) && block_bytes <= kStage / 4 &&
                       G.t[2] * static_cast<int64_t>(sizeof(T)) < kDirectRowBytes;
    stream = stream && !small;
    RowWriter<T> w(out + b0 * block_bytes, stream);
    const int64_t n_rows = G.t[0] * G.t[1];
    std::vector<const T*> rows(small ? static_cast<size_t>(n_rows) : 0);
    bool rows_valid = false;
    for (int64_t b = b0; b < b1; ++b) {
        const char* base = grid + lead_off;
        int64_t r0 = s0;
        if (small && s2 + G.t[2] <= G.S[2]) {
            if (!rows_valid) {
                size_t k = 0;
                for (int64_t j0 = 0; j0 < G.t[0]; ++j0) {
                    int64_t r1 = s1;
                    for (int64_t j1 = 0; j1 < G.t[1]; ++j1) {
                        rows[k++] = reinterpret_cast<const T*>(base + r0 * G.st[0] + r1 * G.st[1]);
                        if (++r1 == G.S[1]) r1 = 0;
                    }
                    if (++r0 == G.S[0]) r0 = 0;
                }
                rows_valid = true;
            }
            // rows of at most 16 bytes may be moved 16 bytes at a time when the source row has them
            const bool over = T2 > 0 && T2 * sizeof(T) <= 16 && (G.S[2] - s2) * int64_t(sizeof(T)) >= 16;
            T* d = w.reserve(block_bytes, 16);
            if (over) {
                // one 16-byte move per row; the bytes past a row are overwritten by the next row
                // (or lie in the staging buffer's slack)
                for (int64_t k = 0; k < n_rows; ++k, d += T2) std::memcpy(d, rows[k] + s2, 16);
            } else {
                for (int64_t k = 0; k < n_rows; ++k, d += G.t[2]) copy_short<T, T2>(d, rows[k] + s2, G.t[2]);
            }
        } else
        for (int64_t j0 = 0; j0 < G.t[0]; ++j0) {
            int64_t r1 = s1;
            for (int64_t j1 = 0; j1 < G.t[1]; ++j1) {
                w.put_row(base + r0 * G.st[0] + r1 * G.st[1], G.st[2], G.S[2], s2, G.t[2]);
                if (++r1 == G.S[1]) r1 = 0;
            }
            if (++r0 == G.S[0]) r0 = 0;
        }
        // next lead index; on wrap-around, the next tile
        int a = n_lead - 1;
        if (a >= 0) rows_valid = false;
        for (; a >= 0; --a) {
            lead_off += L.lead_strides[a];
            if (++lidx[a] < L.lead_shape[a]) break;
            lead_off -= lidx[a] * L.lead_strides[a];
            lidx[a] = 0;
        }
        if (a < 0) {
            s2 += G.f[2];
            if (s2 >= G.S[2]) s2 -= G.S[2];
            if (++i2 == G.n[2]) {
                rows_valid = false;
                i2 = 0;
                s2 = wrap(-G.c[2], G.S[2]);
                s1 += G.f[1];
                if (s1 >= G.S[1]) s1 -= G.S[1];
                if (++i1 == G.n[1]) {
                    i1 = 0;
                    s1 = wrap(-G.c[1], G.S[1]);
                    s0 += G.f[0];
                    if (s0 >= G.S[0]) s0 -= G.S[0];
                }
            }
        }
    }
    w.flush();
    store_fence(stream);
}

template <typename T>
void dispatch_range(const char* grid, char* out, const TileLayout& L, const Geometry& G, int64_t first,
                    int64_t b0, int64_t b1, bool stream) {
    switch (G.t[2]) {
        case 1: tile_range<T, 1>(grid, out, L, G, first, b0, b1, stream); break;
        case 2: tile_range<T, 2>(grid, out, L, G, first, b0, b1, stream); break;
        case 3: tile_range<T, 3>(grid, out, L, G, first, b0, b1, stream); break;
        case 4: tile_range<T, 4>(grid, out, L, G, first, b0, b1, stream); break;
        case 5: tile_range<T, 5>(grid, out, L, G, first, b0, b1, stream); break;
        case 6: tile_range<T, 6>(grid, out, L, G, first, b0, b1, stream); break;
        case 8: tile_range<T, 8>(grid, out, L, G, first, b0, b1, stream); break;
        default: tile_range<T, 0>(grid, out, L, G, first, b0, b1, stream); break;
    }
}

template <typename T>
void tile_typed(const char* grid, char* out, const TileLayout& L, int64_t first, int64_t count, int threads) {
    const Geometry G = detail::pad_to_3d(L);
    const int64_t n_blocks = count * L.lead_elements();
    const int64_t total_bytes = n_blocks * G.t[0] * G.t[1] * G.t[2] * static_cast<int64_t>(sizeof(T));
    const bool stream = total_bytes >= kStreamingThreshold;
#ifdef _OPENMP
    int nt = threads > 0 ? threads : omp_get_max_threads();
    if (total_bytes < (int64_t{256} << 10)) nt = 1;  // not worth waking a team
    nt = static_cast<int>(std::min<int64_t>(nt, n_blocks));
#pragma omp parallel num_threads(nt)
    {
        const int id = omp_get_thread_num();
        const int team = omp_get_num_threads();
        const int64_t b0 = n_blocks * id / team;
        const int64_t b1 = n_blocks * (id + 1) / team;
        if (b1 > b0) dispatch_range<T>(grid, out, L, G, first, b0, b1, stream);
    }
#else
    (void)threads;
    dispatch_range<T>(grid, out, L, G, first, 0, n_blocks, stream);
#endif
}

}  // namespace

void tile(const void* grid, void* out, const TileLayout& L, int64_t first, int64_t count, int threads) {
    const char* g = static_cast<const char*>(grid);
    char* o = static_cast<char*>(out);
    switch (L.elem_size) {
        case 1: tile_typed<uint8_t>(g, o, L, first, count, threads); break;
        case 2: tile_typed<uint16_t>(g, o, L, first, count, threads); break;
        case 4: tile_typed<uint32_t>(g, o, L, first, count, threads); break;
        case 8: tile_typed<uint64_t>(g, o, L, first, count, threads); break;
        case 16: tile_typed<Bytes16>(g, o, L, first, count, threads); break;
        default: break;  // rejected by validate()
    }
}

}  // namespace ednn::cpu
