// Validation and the single dispatch point of the tiling op.
#include "ednn/tiling.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "dispatch.hpp"
#include "ednn/build_info.hpp"

namespace ednn {

int64_t TileLayout::n_tiles() const {
    int64_t n = 1;
    for (int k = 0; k < ndim; ++k) n *= tiles_along(k);
    return n;
}

int64_t TileLayout::tile_elements() const {
    int64_t n = 1;
    for (int k = 0; k < ndim; ++k) n *= tile_extent(k);
    return n;
}

int64_t TileLayout::lead_elements() const {
    int64_t n = 1;
    for (int64_t s : lead_shape) n *= s;
    return n;
}

void validate(const TileLayout& l) {
    using std::to_string;
    if (l.ndim < 1 || l.ndim > kMaxSpatialDims)
        throw std::invalid_argument("ndim: expected 1, 2 or 3 spatial axes, got " + to_string(l.ndim));
    if (!(l.elem_size == 1 || l.elem_size == 2 || l.elem_size == 4 || l.elem_size == 8 ||
          l.elem_size == 16))
        throw std::invalid_argument("grid: expected an element size of 1, 2, 4, 8 or 16 bytes, got " +
                                    to_string(l.elem_size));
    if (l.lead_shape.size() != l.lead_strides.size())
        throw std::invalid_argument("grid: lead_shape and lead_strides differ in length");
    if (l.lead_shape.size() > static_cast<size_t>(kMaxLeadDims))
        throw std::invalid_argument("grid: expected at most " + to_string(kMaxLeadDims) +
                                    " non-contiguous lead axes, got " + to_string(l.lead_shape.size()));
    for (int64_t s : l.lead_shape)
        if (s < 0) throw std::invalid_argument("grid: negative lead axis length " + to_string(s));
    for (int k = 0; k < l.ndim; ++k) {
        const std::string axis = "spatial axis " + to_string(k);
        if (l.focus[k] < 1)
            throw std::invalid_argument("focus: expected >= 1 on " + axis + ", got " + to_string(l.focus[k]));
        if (l.context[k] < 0)
            throw std::invalid_argument("context: expected >= 0 on " + axis + ", got " +
                                        to_string(l.context[k]));
        if (l.size[k] < 1)
            throw std::invalid_argument("grid: expected size >= 1 on " + axis + ", got " + to_string(l.size[k]));
        if (l.size[k] % l.focus[k] != 0)
            throw std::invalid_argument("grid: size " + to_string(l.size[k]) + " on " + axis +
                                        " is not a multiple of the focus " + to_string(l.focus[k]));
        if (l.context[k] > (INT64_MAX - l.focus[k]) / 2)
            throw std::invalid_argument("context: " + to_string(l.context[k]) + " on " + axis +
                                        " makes a tile wider than 2^63 cells");
    }
    // the products of n_tiles(), tile_elements() and lead_elements() must fit int64
    int64_t tiles = 1, cells = 1, lead = 1;
    for (int k = 0; k < l.ndim; ++k)
        if (__builtin_mul_overflow(tiles, l.tiles_along(k), &tiles) ||
            __builtin_mul_overflow(cells, l.tile_extent(k), &cells))
            throw std::invalid_argument("grid: more than 2^63 tiles or cells per tile");
    for (int64_t s : l.lead_shape)
        if (__builtin_mul_overflow(lead, s, &lead))
            throw std::invalid_argument("grid: more than 2^63 elements along the lead axes");
}

void simplify_lead(TileLayout& l) {
    std::vector<int64_t> shape, strides;
    for (size_t i = 0; i < l.lead_shape.size(); ++i) {
        if (l.lead_shape[i] == 1) continue;
        if (!shape.empty() && strides.back() == l.lead_strides[i] * l.lead_shape[i]) {
            shape.back() *= l.lead_shape[i];
            strides.back() = l.lead_strides[i];
        } else {
            shape.push_back(l.lead_shape[i]);
            strides.push_back(l.lead_strides[i]);
        }
    }
    l.lead_shape = shape;
    l.lead_strides = strides;
}

void tile(const void* grid, void* out, const TileLayout& layout, int64_t first_tile, int64_t count,
          Device device, int threads, void* stream) {
    validate(layout);
    if (device == Device::CPU) check_threads(threads);
    const int64_t n = layout.n_tiles();
    if (first_tile < 0 || count < 0 || first_tile + count > n)
        throw std::invalid_argument("tile range: expected [first, first + count) within [0, " +
                                    std::to_string(n) + "), got first=" + std::to_string(first_tile) +
                                    " count=" + std::to_string(count));
    if (count == 0 || layout.lead_elements() == 0) return;
    if (grid == nullptr || out == nullptr) throw std::invalid_argument("grid/out: null pointer");
    switch (device) {
        case Device::CPU: cpu::tile(grid, out, layout, first_tile, count, threads); return;
        case Device::CUDA: cuda::tile(grid, out, layout, first_tile, count, stream); return;
    }
    throw std::invalid_argument("device: unknown device");
}

}  // namespace ednn
