// Gaussian rasterization of atoms on a rectangular periodic grid (Mills et al. 2019, Eq. 2).
//
// A rectangular periodic cell of edge lengths L_1..L_d (d = 2 or 3) is sampled on a grid of
// N_1..N_d points; grid point (i_1..i_d) sits at r_k = i_k h_k with h_k = L_k / N_k. The potential
//
//   V(r) = sum_i sum_{n in Z^d} Z_i exp(-|r - r_i - n L|^2 / (2 gamma^2))
//
// sums every atom over every periodic image. Terms are dropped where some axis has
// |r_k - r_ik - n_k L_k| > r_c with r_c = gamma sqrt(2 ln 1e7) ~= 5.678 gamma (a box stencil), so
// every dropped term is below 1e-7 Z_i. Each atom costs one stencil of about (2 r_c / h)^d points,
// however large the grid.
//
// Window mode: only the sub-box of W_1..W_d points starting at the (any integer, wrapped) grid
// index o_1..o_d is written, out[j_1..j_d] = V at grid index (o_k + j_k) mod N_k. W_k may exceed
// N_k (the periodic grid repeats). The full grid is o = 0, W = N.
#pragma once

#include <cstdint>

#include "ednn/tiling.hpp"  // Device

namespace ednn {

/// Relative size below which Gaussian terms are dropped: exp(-r_c^2 / (2 gamma^2)) = 1e-7.
constexpr double kRasterizeTolerance = 1e-7;

/// Smallest gamma (in the units of the positions): below about 1e-154, 1 / (2 gamma^2) overflows and
/// an atom on a grid point gives 0 * inf = nan. 1e-6 keeps 1 / (2 gamma^2) <= 5e11, so every
/// exponent is finite, and is far below any physical width (0.2 Angstrom in the paper).
constexpr double kRasterizeMinGamma = 1e-6;

/// Cutoff radius r_c = gamma sqrt(2 ln(1 / kRasterizeTolerance)) ~= 5.678 gamma.
double rasterize_cutoff(double gamma);

/// Geometry, window and output type of one rasterization.
struct RasterGrid {
    int ndim = 0;                            // d: 2 (x, y; z ignored) or 3
    double cell[3] = {1.0, 1.0, 1.0};        // L_k > 0
    int64_t shape[3] = {1, 1, 1};            // N_k >= 1, points of the full periodic grid
    int64_t origin[3] = {0, 0, 0};           // o_k, first grid index of the window (wraps)
    int64_t window[3] = {1, 1, 1};           // W_k >= 0, points of the window
    double gamma = 0.2;                      // Gaussian width, > 0
    int64_t elem_size = 4;                   // output element: 4 (float32) or 8 (float64)

    double spacing(int k) const { return cell[k] / static_cast<double>(shape[k]); }  // h_k
    int64_t window_points() const;           // W_1 ... W_d
};

/// Throws std::invalid_argument naming the bad value (ndim not 2 or 3, non-positive or
/// non-finite cell lengths or gamma, gamma below kRasterizeMinGamma, shape < 1, window < 0, element size not 4 or 8, a window
/// or stencil too large for 64-bit indices).
void validate(const RasterGrid& grid);

/// Writes the window of V into `out` ([W_1..W_d], C-contiguous, float32 or float64 as
/// grid.elem_size says; overwritten, not accumulated into).
///
///   positions : [n_atoms, d] float64, row-major, host memory (any values: atoms are wrapped)
///   numbers   : [n_atoms]    float64, host memory (Z_i, any finite weights)
///
/// Atoms are checked (finite positions and numbers) before any output is written. Sums are
/// accumulated in float64. `threads` <= 0 uses the OpenMP default (CPU only), and more than
/// max_threads() (build_info.hpp) is refused; the CPU result does not depend on the number of
/// threads. `stream` is a cudaStream_t as void* (CUDA only, nullptr =
/// default stream); `out` must then be device memory, the atom arrays stay on the host and are
/// copied before the call returns, and the kernel runs asynchronously on that stream. CUDA sums
/// use atomic additions, so their last bits may vary from run to run.
void rasterize(const double* positions, const double* numbers, int64_t n_atoms, const RasterGrid& grid,
               void* out, Device device, int threads = 0, void* stream = nullptr);

}  // namespace ednn
