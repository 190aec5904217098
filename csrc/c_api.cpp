// The C ABI (ednn.h): every entry point catches every exception and turns it into a status and a
// message, so nothing crosses the C boundary but return codes.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "ednn/build_info.hpp"
#include "ednn/ednn.h"
#include "predictor/predictor.hpp"

static_assert(ednn::kThreadsPerCore == EDNN_THREADS_PER_CORE, "one threads limit for the core and the C API");

using ednn::detail::Error;
using ednn::detail::GridShape;
using ednn::detail::Options;
using ednn::detail::Predictor;

struct ednn_options {
    Options opts;
};

struct ednn_predictor {
    std::unique_ptr<Predictor> impl;
};

namespace {

void set_error(char** error, const char* message) noexcept {
    if (!error) return;
    const size_t n = std::strlen(message);
    char* copy = static_cast<char*>(std::malloc(n + 1));
    if (copy) std::memcpy(copy, message, n + 1);
    *error = copy;
}

template <typename F>
ednn_status guarded(char** error, F&& body) noexcept {
    if (error) *error = nullptr;
    try {
        body();
        return EDNN_OK;
    } catch (const Error& e) {
        set_error(error, e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_error(error, "out of memory");
        return EDNN_ERROR_OUT_OF_MEMORY;
    } catch (const std::invalid_argument& e) {  // from the core tiler
        set_error(error, e.what());
        return EDNN_ERROR_INPUT;
    } catch (const std::exception& e) {
        set_error(error, e.what());
        return EDNN_ERROR_INTERNAL;
    } catch (...) {
        set_error(error, "unknown error");
        return EDNN_ERROR_INTERNAL;
    }
}

template <typename T>
T& deref(T* p, const char* what) {
    if (!p) throw Error(EDNN_ERROR_INPUT, std::string(what) + ": null handle");
    return *p;
}

const Predictor& predictor_of(const ednn_predictor* p) {
    const ednn_predictor& h = deref(p, "predictor");
    if (!h.impl) throw Error(EDNN_ERROR_INPUT, "predictor: null handle");
    return *h.impl;
}

// The integer value of an enum argument, read from its bytes: a C caller may pass any int
// (EDNN_*_MAX_ENUM keeps the enums int-sized), and loading a value outside the enumerators'
// range as the enum type is undefined behaviour.
template <typename E>
int raw_enum(const E& value) noexcept {
    static_assert(sizeof(E) == sizeof(int), "ednn.h enums are int-sized");
    int raw = 0;
    std::memcpy(&raw, &value, sizeof raw);
    return raw;
}

// A checked dtype: EDNN_ERROR_INPUT for a value that is not an ednn_dtype enumerator.
ednn_dtype checked_dtype(const ednn_dtype& dtype) {
    const int raw = raw_enum(dtype);
    if (raw < EDNN_FLOAT32 || raw > EDNN_INT64)
        throw Error(EDNN_ERROR_INPUT, "dtype: expected one of EDNN_FLOAT32, EDNN_FLOAT64, EDNN_INT8, EDNN_UINT8, "
                                      "EDNN_INT16, EDNN_INT32, EDNN_INT64, got " + std::to_string(raw));
    return static_cast<ednn_dtype>(raw);
}

void check_room(size_t need, size_t out_len, const double* out) {
    if (need > 0 && !out) throw Error(EDNN_ERROR_INPUT, "out: null pointer");
    if (out_len < need)
        throw Error(EDNN_ERROR_INPUT, "out: expected room for " + std::to_string(need) + " values, got " +
                                          std::to_string(out_len));
}

}  // namespace

extern "C" {

const char* ednn_version(void) { return EDNN_VERSION_STRING; }

const char* ednn_status_name(ednn_status status) {
    switch (raw_enum(status)) {
        case EDNN_OK: return "EDNN_OK";
        case EDNN_ERROR_INPUT: return "EDNN_ERROR_INPUT";
        case EDNN_ERROR_MODEL_FILE: return "EDNN_ERROR_MODEL_FILE";
        case EDNN_ERROR_RUNTIME: return "EDNN_ERROR_RUNTIME";
        case EDNN_ERROR_UNSUPPORTED: return "EDNN_ERROR_UNSUPPORTED";
        case EDNN_ERROR_OUT_OF_MEMORY: return "EDNN_ERROR_OUT_OF_MEMORY";
        case EDNN_ERROR_INTERNAL: return "EDNN_ERROR_INTERNAL";
        default: break;
    }
    return "EDNN_ERROR_UNKNOWN";
}

void ednn_string_free(char* message) { std::free(message); }

int ednn_max_threads(void) { return ednn::max_threads(); }

// ------------------------------------------------------------------ options

ednn_status ednn_options_create(ednn_options** out, char** error) {
    return guarded(error, [&] {
        if (!out) throw Error(EDNN_ERROR_INPUT, "out: null pointer");
        *out = nullptr;
        *out = new ednn_options();
    });
}

void ednn_options_free(ednn_options* options) { delete options; }

ednn_status ednn_options_set_threads(ednn_options* options, int threads, char** error) {
    return guarded(error, [&] {
        auto& o = deref(options, "options");
        if (threads < 0)
            throw Error(EDNN_ERROR_INPUT, "threads: expected a positive int or 0 (default), got " + std::to_string(threads));
        ednn::check_threads(threads);  // std::invalid_argument: EDNN_ERROR_INPUT
        o.opts.threads = threads;
    });
}

ednn_status ednn_options_set_device(ednn_options* options, ednn_device device, char** error) {
    return guarded(error, [&] {
        auto& o = deref(options, "options");
        const int raw = raw_enum(device);
        if (raw != EDNN_DEVICE_AUTO && raw != EDNN_DEVICE_CPU && raw != EDNN_DEVICE_CUDA)
            throw Error(EDNN_ERROR_INPUT, "device: expected EDNN_DEVICE_AUTO, EDNN_DEVICE_CPU or EDNN_DEVICE_CUDA, got " +
                                              std::to_string(raw));
        o.opts.device = static_cast<ednn_device>(raw);
    });
}

ednn_status ednn_options_set_cuda_device_id(ednn_options* options, int device_id, char** error) {
    return guarded(error, [&] {
        auto& o = deref(options, "options");
        if (device_id < 0)
            throw Error(EDNN_ERROR_INPUT, "cuda_device_id: expected >= 0, got " + std::to_string(device_id));
        o.opts.cuda_device_id = device_id;
    });
}

ednn_status ednn_options_set_batch_size(ednn_options* options, int64_t tiles, char** error) {
    return guarded(error, [&] {
        auto& o = deref(options, "options");
        if (tiles < 0)
            throw Error(EDNN_ERROR_INPUT, "batch_size: expected a positive int or 0 (default), got " + std::to_string(tiles));
        o.opts.batch_size = tiles;
    });
}

ednn_status ednn_options_set_onnxruntime_library(ednn_options* options, const char* path, char** error) {
    return guarded(error, [&] { deref(options, "options").opts.onnxruntime_library = path ? path : ""; });
}

// ------------------------------------------------------------------ predictor

ednn_status ednn_predictor_create(const char* model_path, const ednn_options* options, ednn_predictor** out,
                                  char** error) {
    return guarded(error, [&] {
        if (!out) throw Error(EDNN_ERROR_INPUT, "out: null pointer");
        *out = nullptr;
        if (!model_path) throw Error(EDNN_ERROR_INPUT, "model: null path");
        const Options opts = options ? options->opts : Options{};
        auto h = std::make_unique<ednn_predictor>();
        h->impl = std::make_unique<Predictor>(model_path, opts);
        *out = h.release();
    });
}

void ednn_predictor_free(ednn_predictor* predictor) { delete predictor; }

ednn_status ednn_predictor_geometry(const ednn_predictor* predictor, int* ndim, int64_t* focus, int64_t* context,
                                   int64_t* tile, int64_t* channels, int64_t* n_outputs, char** error) {
    return guarded(error, [&] {
        const auto& m = predictor_of(predictor).info();
        if (ndim) *ndim = m.ndim;
        for (int k = 0; k < m.ndim; ++k) {
            if (focus) focus[k] = m.focus[k];
            if (context) context[k] = m.context[k];
            if (tile) tile[k] = m.tile[k];
        }
        if (channels) *channels = m.channels;
        if (n_outputs) *n_outputs = m.n_outputs();
    });
}

ednn_status ednn_predictor_output_name(const ednn_predictor* predictor, int64_t k, const char** name, char** error) {
    return guarded(error, [&] {
        const auto& m = predictor_of(predictor).info();
        if (!name) throw Error(EDNN_ERROR_INPUT, "name: null pointer");
        if (k < 0 || k >= m.n_outputs())
            throw Error(EDNN_ERROR_INPUT, "k: expected 0 <= k < " + std::to_string(m.n_outputs()) + ", got " +
                                              std::to_string(k));
        *name = m.outputs[static_cast<size_t>(k)].c_str();
    });
}

ednn_status ednn_predictor_metadata(const ednn_predictor* predictor, const char* key, const char** value,
                                    char** error) {
    return guarded(error, [&] {
        const auto& m = predictor_of(predictor).info();
        if (!key || !value) throw Error(EDNN_ERROR_INPUT, "key/value: null pointer");
        const auto it = m.metadata.find(key);
        *value = it == m.metadata.end() ? nullptr : it->second.c_str();
    });
}

ednn_status ednn_predictor_runtime(const ednn_predictor* predictor, const char** provider,
                                   const char** onnxruntime_version, const char** onnxruntime_library,
                                   char** error) {
    return guarded(error, [&] {
        const Predictor& p = predictor_of(predictor);
        if (provider) *provider = p.provider().c_str();
        if (onnxruntime_version) *onnxruntime_version = p.onnxruntime_version().c_str();
        if (onnxruntime_library) *onnxruntime_library = p.onnxruntime_library().c_str();
    });
}

ednn_status ednn_predictor_tile_count(const ednn_predictor* predictor, const int64_t* shape, int rank,
                                      int64_t* n_tiles, char** error) {
    return guarded(error, [&] {
        const Predictor& p = predictor_of(predictor);
        if (!n_tiles) throw Error(EDNN_ERROR_INPUT, "n_tiles: null pointer");
        *n_tiles = p.check_shape(shape, rank, false).n_tiles;
    });
}

ednn_status ednn_predictor_predict(const ednn_predictor* predictor, const void* grid, ednn_dtype dtype,
                                   const int64_t* shape, int rank, double* out, size_t out_len, char** error) {
    return guarded(error, [&] {
        const Predictor& p = predictor_of(predictor);
        const ednn_dtype dt = checked_dtype(dtype);
        const GridShape g = p.check_shape(shape, rank, true);
        check_room(static_cast<size_t>(g.batch * p.info().n_outputs()), out_len, out);
        p.predict(grid, dt, g, out);
    });
}

ednn_status ednn_predictor_predict_tiles(const ednn_predictor* predictor, const void* grid, ednn_dtype dtype,
                                         const int64_t* shape, int rank, const int64_t* tiles, size_t n_listed,
                                         double* out, size_t out_len, char** error) {
    return guarded(error, [&] {
        const Predictor& p = predictor_of(predictor);
        const ednn_dtype dt = checked_dtype(dtype);
        const GridShape g = p.check_shape(shape, rank, false);
        check_room(static_cast<size_t>(p.info().n_outputs()), out_len, out);
        p.predict_tiles(grid, dt, g, tiles, n_listed, false, out);
    });
}

ednn_status ednn_predictor_tile_values(const ednn_predictor* predictor, const void* grid, ednn_dtype dtype,
                                       const int64_t* shape, int rank, const int64_t* tiles, size_t n_listed,
                                       double* out, size_t out_len, char** error) {
    return guarded(error, [&] {
        const Predictor& p = predictor_of(predictor);
        const ednn_dtype dt = checked_dtype(dtype);
        const GridShape g = p.check_shape(shape, rank, false);
        check_room(n_listed * static_cast<size_t>(p.info().n_outputs()), out_len, out);
        p.predict_tiles(grid, dt, g, tiles, n_listed, true, out);
    });
}

ednn_status ednn_predictor_tiles_touching(const ednn_predictor* predictor, const int64_t* shape, int rank,
                                          const int64_t* site, int64_t* tiles, size_t capacity, size_t* count,
                                          char** error) {
    return guarded(error, [&] {
        const Predictor& p = predictor_of(predictor);
        if (!count) throw Error(EDNN_ERROR_INPUT, "count: null pointer");
        const GridShape g = p.check_shape(shape, rank, false);
        const auto found = p.tiles_touching(g, site);
        *count = found.size();
        if (!tiles && capacity == 0) return;  // asking for the count only
        if (!tiles) throw Error(EDNN_ERROR_INPUT, "tiles: null pointer");
        if (capacity < found.size())
            throw Error(EDNN_ERROR_INPUT, "tiles: expected room for " + std::to_string(found.size()) + " indices, got " +
                                              std::to_string(capacity));
        std::memcpy(tiles, found.data(), found.size() * sizeof(int64_t));
    });
}

}  // extern "C"
