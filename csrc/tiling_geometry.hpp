// Internal to the tiling kernels: a TileLayout's spatial axes padded to three.
#pragma once

#include <cstdint>

#include "ednn/tiling.hpp"

namespace ednn::detail {

/// Sizes, byte strides, focus, context, tile extents and tile counts of three spatial axes; a
/// layout with fewer axes gets unit axes in front (size 1, focus 1, context 0).
struct TileGeometry3 {
    int64_t S[3], st[3], f[3], c[3], t[3], n[3];
};

inline TileGeometry3 pad_to_3d(const TileLayout& L) {
    TileGeometry3 G{};
    const int pad = kMaxSpatialDims - L.ndim;
    for (int k = 0; k < 3; ++k) {
        const int src = k - pad;
        G.S[k] = src >= 0 ? L.size[src] : 1;
        G.st[k] = src >= 0 ? L.stride[src] : 0;
        G.f[k] = src >= 0 ? L.focus[src] : 1;
        G.c[k] = src >= 0 ? L.context[src] : 0;
        G.t[k] = G.f[k] + 2 * G.c[k];
        G.n[k] = G.S[k] / G.f[k];
    }
    return G;
}

}  // namespace ednn::detail
