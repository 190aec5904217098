// Header-only C++17 wrapper of the ednn C API (ednn.h): RAII handles and exceptions.
//
//   #include <ednn/ednn.hpp>
//
//   ednn::Predictor model("ising.onnx");                 // throws ednn::Error on failure
//   std::vector<int8_t> spins(64 * 64, 1);
//   double e = model.predict_scalar(spins, {64, 64});    // sum over 64*64 tiles, in double
//
//   // local update: only the tiles whose window contains cell (3, 5)
//   auto touched = model.tiles_touching({64, 64}, {3, 5});
//   double e_local = model.predict_tiles(spins, {64, 64}, touched)[0];
//
// Only the C ABI crosses the library boundary, so this header works with any C++17 compiler
// and standard library, whatever ednn itself was built with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ednn/ednn.h"

namespace ednn {

/// Any failure reported by the C API; status() tells which kind.
class Error : public std::runtime_error {
public:
    Error(ednn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    ednn_status status() const noexcept { return status_; }

private:
    ednn_status status_;
};
/// A bad argument: missing model file, wrong grid shape, size not a multiple of the focus, ...
class InputError : public Error {
public:
    using Error::Error;
};
/// Not a readable ONNX file, or not a valid EDNN model file.
class ModelFileError : public Error {
public:
    using Error::Error;
};
/// ONNX Runtime could not be loaded, or it failed; or something this build or machine lacks.
class RuntimeError : public Error {
public:
    using Error::Error;
};

namespace detail {

/// Throws the exception matching `status` (with the message, which it frees); no-op for EDNN_OK.
inline void check(ednn_status status, char* message) {
    if (status == EDNN_OK) return;
    std::string text = message ? message : ednn_status_name(status);
    ednn_string_free(message);
    switch (status) {
        case EDNN_ERROR_INPUT: throw InputError(status, text);
        case EDNN_ERROR_MODEL_FILE: throw ModelFileError(status, text);
        case EDNN_ERROR_RUNTIME:
        case EDNN_ERROR_UNSUPPORTED: throw RuntimeError(status, text);
        case EDNN_ERROR_OUT_OF_MEMORY: throw std::bad_alloc();
        default: throw Error(status, text);
    }
}

/// Calls `f(char** error)`, a C API call, and throws on failure. (The status is taken before the
/// message is read: both come out of the same call.)
template <typename F>
void call(F&& f) {
    char* message = nullptr;
    const ednn_status status = f(&message);
    check(status, message);
}

template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr ednn_dtype value = EDNN_FLOAT32; };
template <> struct dtype_of<double> { static constexpr ednn_dtype value = EDNN_FLOAT64; };
template <> struct dtype_of<int8_t> { static constexpr ednn_dtype value = EDNN_INT8; };
template <> struct dtype_of<uint8_t> { static constexpr ednn_dtype value = EDNN_UINT8; };
template <> struct dtype_of<int16_t> { static constexpr ednn_dtype value = EDNN_INT16; };
template <> struct dtype_of<int32_t> { static constexpr ednn_dtype value = EDNN_INT32; };
template <> struct dtype_of<int64_t> { static constexpr ednn_dtype value = EDNN_INT64; };

inline int rank_of(const std::vector<int64_t>& shape) { return static_cast<int>(shape.size()); }

inline size_t elements_of(const std::vector<int64_t>& shape) {
    size_t n = 1;
    for (int64_t s : shape) n *= s < 0 ? 0 : static_cast<size_t>(s);
    return n;
}

inline std::string shape_text(const std::vector<int64_t>& shape) {
    std::string t = "(";
    for (size_t i = 0; i < shape.size(); ++i) t += (i ? ", " : "") + std::to_string(shape[i]);
    return t + (shape.size() == 1 ? ",)" : ")");
}

template <typename T>
void check_size(const std::vector<T>& grid, const std::vector<int64_t>& shape) {
    const size_t need = elements_of(shape);
    if (grid.size() != need)
        throw InputError(EDNN_ERROR_INPUT, "grid: expected " + std::to_string(need) + " values for shape " +
                                               shape_text(shape) + ", got " + std::to_string(grid.size()));
}

}  // namespace detail

/// The ednn library version.
inline std::string version() { return ednn_version(); }

/// Where the network runs (the tiles are always cut on the CPU).
enum class Provider { Auto = EDNN_DEVICE_AUTO, CPU = EDNN_DEVICE_CPU, CUDA = EDNN_DEVICE_CUDA };

struct PredictorOptions {
    int threads = 0;                  ///< ONNX Runtime intra-op threads; 0 = its default
    Provider provider = Provider::Auto;
    int cuda_device_id = 0;
    int64_t batch_size = 0;           ///< tiles per ONNX Runtime call; 0 = about 8 MiB of tiles, at most 16384
    std::string onnxruntime_library;  ///< path of libonnxruntime.so; empty = search (see ednn.h)
};

/// An EDNN model file opened with ONNX Runtime. Movable, not copyable; thread-safe to call.
class Predictor {
public:
    explicit Predictor(const std::string& model_path, const PredictorOptions& options = {}) {
        using detail::call;
        ednn_options* raw = nullptr;
        call([&](char** e) { return ednn_options_create(&raw, e); });
        std::unique_ptr<ednn_options, void (*)(ednn_options*)> opts(raw, ednn_options_free);
        ednn_options* o = opts.get();
        call([&](char** e) { return ednn_options_set_threads(o, options.threads, e); });
        call([&](char** e) { return ednn_options_set_device(o, static_cast<ednn_device>(options.provider), e); });
        call([&](char** e) { return ednn_options_set_cuda_device_id(o, options.cuda_device_id, e); });
        call([&](char** e) { return ednn_options_set_batch_size(o, options.batch_size, e); });
        call([&](char** e) { return ednn_options_set_onnxruntime_library(o, options.onnxruntime_library.c_str(), e); });
        ednn_predictor* p = nullptr;
        call([&](char** e) { return ednn_predictor_create(model_path.c_str(), o, &p, e); });
        handle_.reset(p);
        int64_t f[3] = {0, 0, 0}, c[3] = {0, 0, 0}, t[3] = {0, 0, 0};
        call([&](char** e) {
            return ednn_predictor_geometry(p, &geom_.ndim, f, c, t, &geom_.channels, &geom_.n_outputs, e);
        });
        geom_.focus.assign(f, f + geom_.ndim);
        geom_.context.assign(c, c + geom_.ndim);
        geom_.tile.assign(t, t + geom_.ndim);
    }

    /// The C handle, for mixing with the C API; owned by this object (null after a move).
    ednn_predictor* handle() const noexcept { return handle_.get(); }

    // ---------------------------------------------------------------- model
    int ndim() const { return live().ndim; }
    const std::vector<int64_t>& focus() const { return live().focus; }
    const std::vector<int64_t>& context() const { return live().context; }
    /// Tile extent t_k = f_k + 2 c_k per axis.
    const std::vector<int64_t>& tile() const { return live().tile; }
    int64_t channels() const { return live().channels; }
    int64_t n_outputs() const { return live().n_outputs; }
    std::vector<std::string> outputs() const {
        std::vector<std::string> names;
        for (int64_t i = 0; i < n_outputs(); ++i) {
            const char* name = nullptr;
            detail::call([&](char** e) { return ednn_predictor_output_name(handle(), i, &name, e); });
            names.emplace_back(name);
        }
        return names;
    }
    /// A metadata value (e.g. "ednn.units"), or nothing when the model lacks the key.
    std::optional<std::string> metadata(const std::string& key) const {
        const char* value = nullptr;
        detail::call([&](char** e) { return ednn_predictor_metadata(handle(), key.c_str(), &value, e); });
        if (!value) return std::nullopt;
        return std::string(value);
    }
    /// "CPUExecutionProvider" or "CUDAExecutionProvider".
    std::string provider() const { return runtime_field(0); }
    std::string onnxruntime_version() const { return runtime_field(1); }
    std::string onnxruntime_library() const { return runtime_field(2); }

    // ---------------------------------------------------------------- prediction
    /// Number of tiles of one grid of this shape.
    int64_t tile_count(const std::vector<int64_t>& shape) const {
        int64_t n = 0;
        detail::call([&](char** e) {
            return ednn_predictor_tile_count(handle(), shape.data(), detail::rank_of(shape), &n, e);
        });
        return n;
    }

    /// K values for one grid, or B*K for a batch (B, ...): the summed tile contributions.
    /// `grid` holds the C-contiguous values of `shape`.
    template <typename T>
    std::vector<double> predict(const T* grid, const std::vector<int64_t>& shape) const {
        std::vector<double> out(batch_of(shape) * static_cast<size_t>(n_outputs()));
        detail::call([&](char** e) {
            return ednn_predictor_predict(handle(), grid, detail::dtype_of<T>::value, shape.data(),
                                          detail::rank_of(shape), out.data(), out.size(), e);
        });
        return out;
    }
    template <typename T>
    std::vector<double> predict(const std::vector<T>& grid, const std::vector<int64_t>& shape) const {
        detail::check_size(grid, shape);
        return predict(grid.data(), shape);
    }
    /// The single value of a one-output model on one grid.
    template <typename T>
    double predict_scalar(const std::vector<T>& grid, const std::vector<int64_t>& shape) const {
        const std::vector<double> v = predict(grid, shape);
        if (v.size() != 1)
            throw InputError(EDNN_ERROR_INPUT, "predict_scalar: expected one grid and a one-output model, got " +
                                                   std::to_string(v.size()) + " values");
        return v[0];
    }

    /// K values: the contributions of the listed tiles of one grid, summed (see ednn.h).
    template <typename T>
    std::vector<double> predict_tiles(const T* grid, const std::vector<int64_t>& shape,
                                      const std::vector<int64_t>& tiles) const {
        std::vector<double> out(static_cast<size_t>(n_outputs()));
        detail::call([&](char** e) {
            return ednn_predictor_predict_tiles(handle(), grid, detail::dtype_of<T>::value, shape.data(),
                                                detail::rank_of(shape), tiles.data(), tiles.size(), out.data(),
                                                out.size(), e);
        });
        return out;
    }
    template <typename T>
    std::vector<double> predict_tiles(const std::vector<T>& grid, const std::vector<int64_t>& shape,
                                      const std::vector<int64_t>& tiles) const {
        detail::check_size(grid, shape);
        return predict_tiles(grid.data(), shape, tiles);
    }

    /// n_listed * K values: each listed tile's contribution, row-major (tile, output).
    template <typename T>
    std::vector<double> tile_values(const std::vector<T>& grid, const std::vector<int64_t>& shape,
                                    const std::vector<int64_t>& tiles) const {
        detail::check_size(grid, shape);
        std::vector<double> out(tiles.size() * static_cast<size_t>(n_outputs()));
        detail::call([&](char** e) {
            return ednn_predictor_tile_values(handle(), grid.data(), detail::dtype_of<T>::value, shape.data(),
                                              detail::rank_of(shape), tiles.data(), tiles.size(), out.data(),
                                              out.size(), e);
        });
        return out;
    }

    /// Sorted indices of the tiles whose window contains cell `site` (d coordinates): the tiles
    /// whose input changes when that cell changes.
    std::vector<int64_t> tiles_touching(const std::vector<int64_t>& shape, const std::vector<int64_t>& site) const {
        if (static_cast<int>(site.size()) != ndim())
            throw InputError(EDNN_ERROR_INPUT, "site: expected " + std::to_string(ndim()) + " coordinates, got " +
                                                   std::to_string(site.size()));
        const int rank = detail::rank_of(shape);
        size_t count = 0;
        detail::call([&](char** e) {
            return ednn_predictor_tiles_touching(handle(), shape.data(), rank, site.data(), nullptr, 0, &count, e);
        });
        std::vector<int64_t> tiles(count);
        detail::call([&](char** e) {
            return ednn_predictor_tiles_touching(handle(), shape.data(), rank, site.data(), tiles.data(), tiles.size(),
                                                 &count, e);
        });
        return tiles;
    }

private:
    struct Geometry {
        int ndim = 0;
        std::vector<int64_t> focus, context, tile;
        int64_t channels = 0, n_outputs = 0;
    };
    const Geometry& live() const {
        if (!handle_) throw InputError(EDNN_ERROR_INPUT, "predictor: null handle");
        return geom_;
    }
    std::string runtime_field(int which) const {
        const char* v[3] = {nullptr, nullptr, nullptr};
        detail::call([&](char** e) { return ednn_predictor_runtime(handle(), &v[0], &v[1], &v[2], e); });
        return v[which] ? v[which] : "";
    }
    // B for a batched shape, else 1 (the C API checks the shape itself).
    size_t batch_of(const std::vector<int64_t>& shape) const {
        const Geometry& g = live();
        const size_t single = static_cast<size_t>(g.ndim + (g.channels == 1 ? 0 : 1));
        if (shape.size() == single + 1 && shape[0] >= 0) return static_cast<size_t>(shape[0]);
        return 1;
    }

    struct Deleter {
        void operator()(ednn_predictor* p) const noexcept { ednn_predictor_free(p); }
    };
    std::unique_ptr<ednn_predictor, Deleter> handle_;
    Geometry geom_;
};

}  // namespace ednn
