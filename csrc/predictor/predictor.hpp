// The ONNX Runtime predictor behind the C API (internal; the public interface is ednn.h / ednn.hpp).
//
// The predictor's sources, in this folder:
//   runtime.cpp    finds and loads the ONNX Runtime library (one Runtime per library, kept loaded);
//   metadata.cpp   reads and checks a model's ednn.* metadata and its input/output signature;
//   messages.cpp   text helpers of the messages (Python-style quoting and tuples, strip/split/join);
//   predictor.cpp  the Predictor: session, grid shapes, tiling, batched runs and sums.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ednn/ednn.h"
#include "ednn/tiling.hpp"

namespace ednn::detail {

/// A failure with the status the C API reports for it.
class Error : public std::runtime_error {
public:
    Error(ednn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    ednn_status status() const noexcept { return status_; }

private:
    ednn_status status_;
};

struct Options {
    int threads = 0;            // ONNX Runtime intra-op threads; 0 = its default
    ednn_device device = EDNN_DEVICE_AUTO;
    int cuda_device_id = 0;
    int64_t batch_size = 0;     // tiles per call; 0 = about 8 MiB of float32 tiles, at most 16384
    std::string onnxruntime_library;  // empty = search
};

/// What an EDNN model file declares (format version 1), validated like ednn.Model in Python
/// (read by read_model_info, metadata.hpp).
struct ModelInfo {
    std::string path;
    int ndim = 0;
    int64_t focus[kMaxSpatialDims] = {1, 1, 1};
    int64_t context[kMaxSpatialDims] = {0, 0, 0};
    int64_t tile[kMaxSpatialDims] = {1, 1, 1};
    int64_t channels = 0;
    std::vector<std::string> outputs;
    std::map<std::string, std::string> metadata;
    std::vector<double> input_scale, input_offset;    // per channel; empty when absent
    std::vector<double> output_scale, output_offset;  // per output; empty when absent
    int64_t batch_tiles = 0;                          // ednn.batch_tiles; 0 when absent
    std::string input_name, output_name;

    int64_t n_outputs() const { return static_cast<int64_t>(outputs.size()); }
    int64_t tile_elements() const;  // C * t_1 ... t_d
};

/// A checked grid shape.
struct GridShape {
    int64_t batch = 1;
    bool batched = false;
    int64_t size[kMaxSpatialDims] = {1, 1, 1};
    int64_t n_tiles = 0;
    int64_t example_elements = 0;  // C * S_1 ... S_d
    std::vector<int64_t> dims;     // the shape as given
};

struct Runtime;  // a loaded ONNX Runtime library (runtime.hpp)

class Predictor {
public:
    Predictor(const std::string& model_path, const Options& options);
    ~Predictor();
    Predictor(const Predictor&) = delete;
    Predictor& operator=(const Predictor&) = delete;

    const ModelInfo& info() const { return info_; }
    const std::string& provider() const { return provider_; }
    const std::string& onnxruntime_version() const;
    const std::string& onnxruntime_library() const;

    /// Checks a grid shape; `allow_batch` accepts one more leading axis.
    GridShape check_shape(const int64_t* shape, int rank, bool allow_batch) const;

    /// Sums over every tile of every grid: out[b * K + k].
    void predict(const void* grid, ednn_dtype dtype, const GridShape& g, double* out) const;

    /// Over the listed tiles of one grid: the sum (out[k]) or, with `per_tile`, every tile's
    /// contribution (out[i * K + k]).
    void predict_tiles(const void* grid, ednn_dtype dtype, const GridShape& g, const int64_t* tiles,
                       size_t n_listed, bool per_tile, double* out) const;

    /// Sorted flat indices of the tiles whose window contains `site`.
    std::vector<int64_t> tiles_touching(const GridShape& g, const int64_t* site) const;

private:
    struct Session;
    int64_t batch_tiles(int64_t n_tiles) const;
    // Runs `count` tiles in `tiles` through the network; returns count * K float outputs.
    void run(float* tiles, int64_t count, std::vector<float>& y) const;

    Options options_;
    ModelInfo info_;
    std::string provider_;
    std::shared_ptr<Runtime> runtime_;
    std::unique_ptr<Session> session_;
};

/// Bytes per element of `dtype`; throws Error(EDNN_ERROR_INPUT) for an unknown dtype.
size_t dtype_size(ednn_dtype dtype);

}  // namespace ednn::detail
