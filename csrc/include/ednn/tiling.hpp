// Periodic tile extraction of Extensive Deep Neural Networks (Mills et al. 2019, Appendix).
//
// A grid of shape [*lead, S_1..S_d] is cut into n_1..n_d tiles (n_k = S_k / f_k); tile
// (i_1..i_d) is the focus block starting at i_k f_k, widened by c_k cells of context on every
// side and wrapped periodically, so it has t_k = f_k + 2 c_k cells along axis k:
//
//   out[i, l, j_1..j_d] = grid[l, (i_1 f_1 - c_1 + j_1) mod S_1, ..., (i_d f_d - c_d + j_d) mod S_d]
//
// where i is the row-major flat tile index and l the flat index over the lead axes.
// Tiling moves bytes only, so kernels are typed by element size, not by dtype.
#pragma once

#include <cstdint>
#include <vector>

namespace ednn {

/// Largest number of spatial axes.
constexpr int kMaxSpatialDims = 3;
/// Largest number of lead axes after merging the ones that are contiguous with each other.
constexpr int kMaxLeadDims = 6;

enum class Device { CPU, CUDA };

/// Shape, strides and tiling parameters of one tiling call. Strides are in bytes and may be
/// any value (non-contiguous and negative strides included).
struct TileLayout {
    int ndim = 0;                          // number of spatial axes d, 1..3
    int64_t elem_size = 0;                 // bytes per element: 1, 2, 4, 8 or 16
    std::vector<int64_t> lead_shape;       // [*lead]
    std::vector<int64_t> lead_strides;     // [*lead], bytes
    int64_t size[kMaxSpatialDims] = {1, 1, 1};     // S_k
    int64_t stride[kMaxSpatialDims] = {0, 0, 0};   // bytes
    int64_t focus[kMaxSpatialDims] = {1, 1, 1};    // f_k
    int64_t context[kMaxSpatialDims] = {0, 0, 0};  // c_k

    int64_t tiles_along(int k) const { return size[k] / focus[k]; }       // n_k
    int64_t tile_extent(int k) const { return focus[k] + 2 * context[k]; } // t_k
    int64_t n_tiles() const;       // n_1 ... n_d
    int64_t tile_elements() const; // t_1 ... t_d
    int64_t lead_elements() const; // product of lead_shape
};

/// Throws std::invalid_argument with a message naming the bad value when the layout is
/// inconsistent (S_k % f_k != 0, f < 1, c < 0, bad ndim or element size, ...).
void validate(const TileLayout& layout);

/// Merges adjacent lead axes that are contiguous with each other (stride_i == stride_{i+1} *
/// shape_{i+1}) and drops unit axes. The result describes the same elements.
void simplify_lead(TileLayout& layout);

/// Writes tiles [first_tile, first_tile + count) of `grid` into `out`.
///
///   grid : [*lead, S_1..S_d]           strided as described by `layout`
///   out  : [count, *lead, t_1..t_d]    C-contiguous, elements of layout.elem_size bytes
///
/// `threads` <= 0 uses the OpenMP default (CPU only); more than max_threads() (build_info.hpp)
/// is refused with std::invalid_argument. `stream` is a cudaStream_t passed as
/// void* (CUDA only, nullptr = default stream); the CUDA call is asynchronous on that stream.
/// Both pointers must be on `device`.
void tile(const void* grid, void* out, const TileLayout& layout, int64_t first_tile,
          int64_t count, Device device, int threads = 0, void* stream = nullptr);

}  // namespace ednn
