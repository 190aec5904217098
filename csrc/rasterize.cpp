// Validation and the single dispatch point of the rasterization op.
#include "ednn/rasterize.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "dispatch.hpp"
#include "ednn/build_info.hpp"

namespace ednn {

namespace {
// Limits that keep every unwrapped grid index of the kernels far inside int64.
constexpr int64_t kMaxAxisPoints = int64_t{1} << 48;
constexpr double kMaxStencilHalfWidth = 1099511627776.0;  // 2^40 grid spacings
constexpr double kMaxStencilPoints = 4503599627370496.0;   // 2^52 points per atom

std::string num(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}
}  // namespace

double rasterize_cutoff(double gamma) { return gamma * std::sqrt(2.0 * std::log(1.0 / kRasterizeTolerance)); }

int64_t RasterGrid::window_points() const {
    int64_t n = 1;
    for (int k = 0; k < ndim; ++k) n *= window[k];
    return n;
}

void validate(const RasterGrid& g) {
    using std::to_string;
    if (g.ndim != 2 && g.ndim != 3)
        throw std::invalid_argument("shape: expected 2 or 3 axes, got " + to_string(g.ndim));
    if (!(g.elem_size == 4 || g.elem_size == 8))
        throw std::invalid_argument("out: expected float32 or float64 elements (4 or 8 bytes), got " +
                                    to_string(g.elem_size) + " bytes");
    if (!(std::isfinite(g.gamma) && g.gamma > 0))
        throw std::invalid_argument("gamma: expected a finite value > 0, got " + num(g.gamma));
    if (g.gamma < kRasterizeMinGamma)
        throw std::invalid_argument("gamma: expected at least 1e-06 (in the units of the positions; a narrower "
                                    "Gaussian underflows), got " + num(g.gamma));
    const double rc = rasterize_cutoff(g.gamma);
    int64_t points = 1;
    double stencil = 1;  // grid points in one atom's box stencil
    for (int k = 0; k < g.ndim; ++k) {
        const std::string axis = " on axis " + to_string(k);
        if (!(std::isfinite(g.cell[k]) && g.cell[k] > 0))
            throw std::invalid_argument("cell: expected a finite length > 0" + axis + ", got " + num(g.cell[k]));
        if (g.shape[k] < 1 || g.shape[k] > kMaxAxisPoints)
            throw std::invalid_argument("shape: expected 1 <= size <= 2^48" + axis + ", got " + to_string(g.shape[k]));
        if (g.window[k] < 0 || g.window[k] > kMaxAxisPoints)
            throw std::invalid_argument("window_shape: expected 0 <= size <= 2^48" + axis + ", got " +
                                        to_string(g.window[k]));
        if (g.window[k] > 0 && points > INT64_MAX / g.window[k])
            throw std::invalid_argument("window_shape: the window has more than 2^63 points");
        points *= g.window[k];
        if (!(rc / g.spacing(k) <= kMaxStencilHalfWidth))
            throw std::invalid_argument("gamma: the cutoff " + num(rc) + " spans more than 2^40 grid spacings" +
                                        axis + " (spacing " + num(g.spacing(k)) + ")");
        stencil *= 2 * rc / g.spacing(k) + 2;
    }
    if (!(stencil <= kMaxStencilPoints))
        throw std::invalid_argument("gamma: the cutoff " + num(rc) + " makes a stencil of " + num(stencil) +
                                    " grid points per atom (more than 2^52)");
}

void rasterize(const double* positions, const double* numbers, int64_t n_atoms, const RasterGrid& grid, void* out,
               Device device, int threads, void* stream) {
    validate(grid);
    if (device == Device::CPU) check_threads(threads);
    if (n_atoms < 0) throw std::invalid_argument("positions: negative atom count " + std::to_string(n_atoms));
    if (n_atoms > 0 && (positions == nullptr || numbers == nullptr))
        throw std::invalid_argument("positions/numbers: null pointer");
    for (int64_t i = 0; i < n_atoms; ++i) {
        for (int k = 0; k < grid.ndim; ++k)
            if (!std::isfinite(positions[i * grid.ndim + k]))
                throw std::invalid_argument("positions: expected finite coordinates, got " +
                                            num(positions[i * grid.ndim + k]) + " for atom " + std::to_string(i) +
                                            " on axis " + std::to_string(k));
        if (!std::isfinite(numbers[i]))
            throw std::invalid_argument("numbers: expected finite values, got " + num(numbers[i]) + " for atom " +
                                        std::to_string(i));
    }
    if (grid.window_points() == 0) return;
    if (out == nullptr) throw std::invalid_argument("out: null pointer");
    switch (device) {
        case Device::CPU: cpu::rasterize(positions, numbers, n_atoms, grid, out, threads); return;
        case Device::CUDA: cuda::rasterize(positions, numbers, n_atoms, grid, out, stream); return;
    }
    throw std::invalid_argument("device: unknown device");
}

}  // namespace ednn
