// Internal (not installed): the CPU and CUDA entry points behind the public ops' single dispatch
// points (ednn::tile in tiling.cpp, ednn::rasterize in rasterize.cpp), and the CUDA runtime
// helpers of the Python module's device buffers. csrc/cpu/*.cpp define the cpu:: functions;
// csrc/cuda/*.cu, or csrc/stub/cuda_stub.cpp in a build without CUDA, define the cuda:: ones.
// Arguments are checked by the dispatch points before these are called.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ednn/rasterize.hpp"
#include "ednn/tiling.hpp"

namespace ednn {

namespace cpu {
void tile(const void* grid, void* out, const TileLayout& layout, int64_t first_tile,
          int64_t count, int threads);
void rasterize(const double* positions, const double* numbers, int64_t n_atoms, const RasterGrid& grid,
               void* out, int threads);
}  // namespace cpu

namespace cuda {
void tile(const void* grid, void* out, const TileLayout& layout, int64_t first_tile,
          int64_t count, void* stream);
void rasterize(const double* positions, const double* numbers, int64_t n_atoms, const RasterGrid& grid,
               void* out, void* stream);

/// Device memory owned by the caller; throw std::runtime_error on failure or without CUDA.
void* malloc_device(std::size_t bytes);
void free_device(void* ptr) noexcept;
void synchronize(void* stream);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_to_device(void* dst, const void* src, std::size_t bytes);
}  // namespace cuda

}  // namespace ednn
