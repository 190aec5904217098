// CPU rasterization kernel: per-atom separable stencils, binned into blocks of window rows.
//
// The Gaussian factorises over the axes, exp(-|d|^2 / 2g^2) = prod_k exp(-d_k^2 / 2g^2), and the
// cutoff is a box, so each atom is described per axis by a short 1-D profile (the factors of the
// grid points within r_c, from a two-multiplication recurrence re-anchored every 32 points) and
// by the segments of window indices it lands on, one per periodic image that meets the window.
// Where images overlap (a cell smaller than the stencil), the profile is folded into one dense
// profile over the window. Accumulation is then a sum of outer products of the per-axis profiles.
//
// Threads own disjoint blocks of rows along the window's first axis; each block visits the atoms
// binned to it, in atom order, and sums in float64 (into a per-thread cache-sized buffer for a
// float32 output, directly into the output for float64). No two threads write one point, and each
// point sees its terms in the same order whatever the number of threads, so results are
// reproducible bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "ednn/rasterize.hpp"
#include "../dispatch.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ednn::cpu {
namespace {

inline int64_t floor_div(int64_t a, int64_t b) {  // b > 0
    const int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

struct Axis {
    int64_t N = 1, W = 1, o = 0;  // o reduced to [0, N)
    double L = 1, h = 1;
};

// Window indices [w0, w0 + len), weighted by factors[f0 .. f0 + len).
struct Segment {
    int64_t w0, len, f0;
};

// One atom along one axis.
struct AxisPlan {
    double x = 0;                  // wrapped coordinate, in [0, L]
    int64_t a = 0, b = -1;         // unwrapped grid indices within the cutoff: [a, b]
    int64_t n_lo = 0, n_hi = -1;   // images n whose indices [a + nN, b + nN] meet [o, o + W)
    bool folded = false;           // images overlap: one dense profile over the whole window
    bool empty() const { return b < a || n_hi < n_lo; }
    int64_t n_segments() const { return empty() ? 0 : folded ? 1 : n_hi - n_lo + 1; }
    int64_t n_factors(const Axis& ax) const { return empty() ? 0 : folded ? ax.W : b - a + 1; }
};

AxisPlan plan_axis(double p, const Axis& ax, double rc) {
    AxisPlan P;
    double x = p - std::floor(p / ax.L) * ax.L;
    if (!(x >= 0)) x = 0;  // guards -0.0 and rounding just below zero
    P.x = x;
    P.a = static_cast<int64_t>(std::ceil((x - rc) / ax.h));
    P.b = static_cast<int64_t>(std::floor((x + rc) / ax.h));
    if (P.b < P.a) return P;
    P.n_lo = -floor_div(P.b - ax.o, ax.N);  // ceil((o - b) / N)
    P.n_hi = floor_div(ax.o + ax.W - 1 - P.a, ax.N);
    if (P.n_hi < P.n_lo) return P;
    int64_t total = 0;
    for (int64_t n = P.n_lo; n <= P.n_hi; ++n) {
        const int64_t lo = std::max(P.a + n * ax.N, ax.o);
        const int64_t hi = std::min(P.b + n * ax.N, ax.o + ax.W - 1);
        total += hi - lo + 1;
        if (total > ax.W) {
            P.folded = true;
            break;
        }
    }
    return P;
}

// f[j] = exp(-((a + j) h - x)^2 / (2 g^2)) for j < len: the ratio of neighbours is itself a
// geometric sequence, so two multiplications per point; re-anchored every 32 points.
void gaussian_profile(double* f, int64_t a, int64_t len, double x, double h, double inv2g2) {
    const double q = std::exp(-2.0 * h * h * inv2g2);
    double g = 0, r = 0;
    for (int64_t j = 0; j < len; ++j) {
        if ((j & 31) == 0) {
            const double d = static_cast<double>(a + j) * h - x;
            g = std::exp(-d * d * inv2g2);
            r = std::exp(-(2.0 * d * h + h * h) * inv2g2);
        }
        f[j] = g;
        g *= r;
        r *= q;
    }
}

void fill_axis(const AxisPlan& P, const Axis& ax, double inv2g2, double* factors, int64_t f_off,
               Segment* segs, std::vector<double>& scratch) {
    if (P.empty()) return;
    const int64_t len = P.b - P.a + 1;
    if (!P.folded) {
        gaussian_profile(factors + f_off, P.a, len, P.x, ax.h, inv2g2);
        int64_t s = 0;
        for (int64_t n = P.n_lo; n <= P.n_hi; ++n, ++s) {
            const int64_t lo = std::max(P.a + n * ax.N, ax.o);
            const int64_t hi = std::min(P.b + n * ax.N, ax.o + ax.W - 1);
            segs[s] = Segment{lo - ax.o, hi - lo + 1, f_off + (lo - n * ax.N - P.a)};
        }
        return;
    }
    scratch.resize(static_cast<size_t>(len));
    gaussian_profile(scratch.data(), P.a, len, P.x, ax.h, inv2g2);
    double* dense = factors + f_off;
    std::fill(dense, dense + ax.W, 0.0);
    for (int64_t n = P.n_lo; n <= P.n_hi; ++n) {
        const int64_t lo = std::max(P.a + n * ax.N, ax.o);
        const int64_t hi = std::min(P.b + n * ax.N, ax.o + ax.W - 1);
        const double* g = scratch.data() + (lo - n * ax.N - P.a);
        double* d = dense + (lo - ax.o);
        for (int64_t j = 0; j <= hi - lo; ++j) d[j] += g[j];
    }
    segs[0] = Segment{0, ax.W, f_off};
}

struct Plan {
    int d = 0;
    Axis ax[3];
    std::vector<double> z;              // Z per atom (0 for atoms that miss the window)
    std::vector<AxisPlan> axes;         // [atom * d + k]
    std::vector<int64_t> seg_off;       // [atom * d + k], into segs; one past the end at the back
    std::vector<int64_t> fac_off;       // [atom * d + k], into factors
    std::vector<Segment> segs;
    std::vector<double> factors;
    int64_t rows_per_block = 1, n_blocks = 0;
    std::vector<int64_t> block_start;   // CSR over blocks of window rows (axis 0)
    std::vector<int64_t> block_atoms;
};

// Accumulates the atoms of block `blk` into acc, rows [r0, r1) of the window, acc pre-zeroed.
template <int D>
void accumulate_block(const Plan& P, int64_t blk, int64_t r0, int64_t r1, double* acc) {
    constexpr int d = D;
    const int64_t W1 = P.ax[1].W;
    const int64_t W2 = d == 3 ? P.ax[2].W : 1;
    const int64_t plane = W1 * W2;
    const Segment* segs = P.segs.data();
    const double* F = P.factors.data();
    for (int64_t e = P.block_start[blk]; e < P.block_start[blk + 1]; ++e) {
        const int64_t id = P.block_atoms[e];
        const double z = P.z[id];
        const int64_t s0 = P.seg_off[id * d], s1 = P.seg_off[id * d + 1];
        const int64_t t0 = s1, t1 = P.seg_off[id * d + 2];
        const int64_t u0 = d == 3 ? t1 : 0, u1 = d == 3 ? P.seg_off[id * d + 3] : 0;
        for (int64_t s = s0; s < s1; ++s) {
            const Segment& sx = segs[s];
            const int64_t lo = std::max(sx.w0, r0), hi = std::min(sx.w0 + sx.len, r1);
            for (int64_t w = lo; w < hi; ++w) {
                const double fx = z * F[sx.f0 + (w - sx.w0)];
                double* row = acc + (w - r0) * plane;
                for (int64_t t = t0; t < t1; ++t) {
                    const Segment& sy = segs[t];
                    const double* __restrict fy = F + sy.f0;
                    if constexpr (D == 2) {
                        double* __restrict dst = row + sy.w0;
                        for (int64_t j = 0; j < sy.len; ++j) dst[j] += fx * fy[j];
                    } else {
                        for (int64_t j = 0; j < sy.len; ++j) {
                            const double fxy = fx * fy[j];
                            double* line = row + (sy.w0 + j) * W2;
                            for (int64_t u = u0; u < u1; ++u) {
                                const Segment& sz = segs[u];
                                const double* __restrict fz = F + sz.f0;
                                double* __restrict dst = line + sz.w0;
                                for (int64_t k = 0; k < sz.len; ++k) dst[k] += fxy * fz[k];
                            }
                        }
                    }
                }
            }
        }
    }
}

template <typename T>
void store_rows(T* out, const double* acc, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(acc[i]);
}

// Work below which one thread beats waking a team (stencil points + window points, ~0.3 ms): a
// team costs a fork and a join barrier, and far more when the cores are shared with other jobs.
constexpr int64_t kSerialWork = int64_t{1} << 20;
// Atoms below which the per-atom set-up (a few microseconds per thousand atoms) stays serial.
constexpr int64_t kParallelAtoms = 8192;
// Target size of a block's float64 accumulator, in doubles (256 KiB: stays in L2).
constexpr int64_t kBlockDoubles = int64_t{1} << 15;

template <typename T>
void rasterize_typed(const double* pos, const double* numbers, int64_t n, const RasterGrid& G, T* out,
                     int threads) {
    Plan P;
    const int d = G.ndim;
    P.d = d;
    for (int k = 0; k < d; ++k) {
        Axis& a = P.ax[k];
        a.N = G.shape[k];
        a.W = G.window[k];
        a.o = G.origin[k] % a.N;
        if (a.o < 0) a.o += a.N;
        a.L = G.cell[k];
        a.h = G.spacing(k);
    }
    const double rc = rasterize_cutoff(G.gamma);
    const double inv2g2 = 1.0 / (2.0 * G.gamma * G.gamma);
    const int64_t W0 = P.ax[0].W;
    const int64_t plane = G.window_points() / W0;
    P.z.assign(static_cast<size_t>(n), 0.0);
    P.axes.resize(static_cast<size_t>(n * d));
    P.seg_off.assign(static_cast<size_t>(n * d + 1), 0);
    P.fac_off.assign(static_cast<size_t>(n * d + 1), 0);

    // Rough work estimate: one stencil per atom plus writing the window.
    double stencil = 1;
    for (int k = 0; k < d; ++k) stencil *= std::min<double>(2 * rc / P.ax[k].h + 1, static_cast<double>(P.ax[k].W));
    const double work = stencil * static_cast<double>(n) + static_cast<double>(G.window_points());
    int nt = 1;
#ifdef _OPENMP
    nt = threads > 0 ? threads : omp_get_max_threads();
    if (work < static_cast<double>(kSerialWork)) nt = 1;
#else
    (void)threads;
#endif
    const bool par_atoms = nt > 1 && n >= kParallelAtoms;

    // 1. per atom and axis: the stencil's index range and the images that meet the window
#pragma omp parallel for num_threads(nt) schedule(static) if (par_atoms)
    for (int64_t i = 0; i < n; ++i) {
        bool hit = numbers[i] != 0;
        for (int k = 0; k < d; ++k) {
            P.axes[i * d + k] = plan_axis(pos[i * d + k], P.ax[k], rc);
            hit = hit && !P.axes[i * d + k].empty();
        }
        if (!hit)
            for (int k = 0; k < d; ++k) P.axes[i * d + k] = AxisPlan{};
        P.z[i] = hit ? numbers[i] : 0.0;
    }
    // 2. offsets
    for (int64_t i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k) {
            const AxisPlan& A = P.axes[i * d + k];
            P.seg_off[i * d + k + 1] = P.seg_off[i * d + k] + A.n_segments();
            P.fac_off[i * d + k + 1] = P.fac_off[i * d + k] + A.n_factors(P.ax[k]);
        }
    P.segs.resize(static_cast<size_t>(P.seg_off.back()));
    P.factors.resize(static_cast<size_t>(P.fac_off.back()));
    // 3. profiles and segments
#pragma omp parallel num_threads(nt) if (par_atoms)
    {
        std::vector<double> scratch;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i)
            for (int k = 0; k < d; ++k)
                fill_axis(P.axes[i * d + k], P.ax[k], inv2g2, P.factors.data(), P.fac_off[i * d + k],
                          P.segs.data() + P.seg_off[i * d + k], scratch);
    }
    // 4. bin atoms to blocks of rows along the window's first axis (atom order kept per block)
    const int64_t cap = std::max<int64_t>(1, kBlockDoubles / std::max<int64_t>(plane, 1));
    P.rows_per_block = std::max<int64_t>(1, std::min<int64_t>(cap, (W0 + 4 * nt - 1) / (4 * nt)));
    P.n_blocks = (W0 + P.rows_per_block - 1) / P.rows_per_block;
    P.block_start.assign(static_cast<size_t>(P.n_blocks + 1), 0);
    auto for_each_block = [&](int64_t i, auto&& fn) {
        int64_t last = -1;
        for (int64_t s = P.seg_off[i * d]; s < P.seg_off[i * d + 1]; ++s) {
            const Segment& sx = P.segs[s];
            const int64_t b0 = std::max(sx.w0 / P.rows_per_block, last + 1);
            const int64_t b1 = (sx.w0 + sx.len - 1) / P.rows_per_block;
            for (int64_t b = b0; b <= b1; ++b) fn(b);
            last = std::max(last, b1);
        }
    };
    for (int64_t i = 0; i < n; ++i) for_each_block(i, [&](int64_t b) { ++P.block_start[b + 1]; });
    for (int64_t b = 0; b < P.n_blocks; ++b) P.block_start[b + 1] += P.block_start[b];
    P.block_atoms.resize(static_cast<size_t>(P.block_start.back()));
    {
        std::vector<int64_t> fill(P.block_start.begin(), P.block_start.end() - 1);
        for (int64_t i = 0; i < n; ++i) for_each_block(i, [&](int64_t b) { P.block_atoms[fill[b]++] = i; });
    }
    // 5. accumulate, one block of rows at a time
    nt = static_cast<int>(std::min<int64_t>(nt, P.n_blocks));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        std::unique_ptr<double[]> buf;
        if constexpr (!std::is_same_v<T, double>) buf.reset(new double[static_cast<size_t>(P.rows_per_block * plane)]);
#pragma omp for schedule(dynamic, 1)
        for (int64_t blk = 0; blk < P.n_blocks; ++blk) {
            const int64_t r0 = blk * P.rows_per_block;
            const int64_t r1 = std::min(r0 + P.rows_per_block, W0);
            const int64_t count = (r1 - r0) * plane;
            double* acc;
            if constexpr (std::is_same_v<T, double>) {
                acc = out + r0 * plane;
            } else {
                acc = buf.get();
            }
            std::memset(acc, 0, static_cast<size_t>(count) * sizeof(double));
            if (d == 2)
                accumulate_block<2>(P, blk, r0, r1, acc);
            else
                accumulate_block<3>(P, blk, r0, r1, acc);
            if constexpr (!std::is_same_v<T, double>) store_rows(out + r0 * plane, acc, count);
        }
    }
}

}  // namespace

void rasterize(const double* positions, const double* numbers, int64_t n_atoms, const RasterGrid& grid, void* out,
               int threads) {
    if (grid.elem_size == 8)
        rasterize_typed(positions, numbers, n_atoms, grid, static_cast<double*>(out), threads);
    else
        rasterize_typed(positions, numbers, n_atoms, grid, static_cast<float*>(out), threads);
}

}  // namespace ednn::cpu
