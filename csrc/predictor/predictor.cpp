// The Predictor: opens an ONNX Runtime session for an EDNN model (CUDA when asked for or, with
// EDNN_DEVICE_AUTO, when offered, else CPU), checks grid shapes, tiles grids with the core tiler
// and sums tile contributions in double.
#include "predictor.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "../dispatch.hpp"
#include "ednn/build_info.hpp"
#include "messages.hpp"
#include "metadata.hpp"
#include "runtime.hpp"

namespace ednn::detail {

size_t dtype_size(ednn_dtype dtype) {
    switch (dtype) {
        case EDNN_FLOAT32: return 4;
        case EDNN_FLOAT64: return 8;
        case EDNN_INT8: return 1;
        case EDNN_UINT8: return 1;
        case EDNN_INT16: return 2;
        case EDNN_INT32: return 4;
        case EDNN_INT64: return 8;
        default: break;
    }
    throw Error(EDNN_ERROR_INPUT, "dtype: expected one of EDNN_FLOAT32, EDNN_FLOAT64, EDNN_INT8, EDNN_UINT8, "
                                  "EDNN_INT16, EDNN_INT32, EDNN_INT64, got " +
                                      std::to_string(static_cast<int>(dtype)));
}

struct Predictor::Session {
    const OrtApi* api = nullptr;
    OrtSession* session = nullptr;
    OrtMemoryInfo* cpu_memory = nullptr;
    ~Session() {
        if (cpu_memory) api->ReleaseMemoryInfo(cpu_memory);
        if (session) api->ReleaseSession(session);
    }
};

Predictor::~Predictor() = default;
const std::string& Predictor::onnxruntime_version() const { return runtime_->version; }
const std::string& Predictor::onnxruntime_library() const { return runtime_->path; }

Predictor::Predictor(const std::string& model_path, const Options& options) : options_(options) {
    info_.path = model_path;
    struct stat st;
    if (model_path.empty() || ::stat(model_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(EDNN_ERROR_INPUT,
                    "model: expected an existing ONNX file, got " + py_repr(model_path) + " (no such file)");
    if (options.threads < 0)
        throw Error(EDNN_ERROR_INPUT, "threads: expected a positive int or 0, got " + std::to_string(options.threads));
    try {
        check_threads(options.threads);
    } catch (const std::invalid_argument& e) {
        throw Error(EDNN_ERROR_INPUT, e.what());
    }
    if (options.batch_size < 0)
        throw Error(EDNN_ERROR_INPUT,
                    "batch_size: expected a positive int or 0, got " + std::to_string(options.batch_size));
    // the metadata first, from a scan of the file: a file that is not a valid EDNN model (or whose
    // tiles exceed the limits) is refused before ONNX Runtime reads its graph and weights
    read_metadata_info(scan_metadata(model_path), info_);
    runtime_ = load_runtime(options.onnxruntime_library);
    const OrtApi* api = runtime_->api;

    // ---- session: CUDA when asked for (or, with AUTO, when offered), else CPU
    auto make_options = [&](SessionOptionsPtr& so) {
        check(api, api->CreateSessionOptions(&so.p), EDNN_ERROR_RUNTIME, "onnxruntime");
        check(api, api->SetSessionLogSeverityLevel(so.p, 3), EDNN_ERROR_RUNTIME, "onnxruntime");
        if (options.threads > 0) {
            check(api, api->SetIntraOpNumThreads(so.p, options.threads), EDNN_ERROR_RUNTIME, "onnxruntime");
            check(api, api->SetInterOpNumThreads(so.p, 1), EDNN_ERROR_RUNTIME, "onnxruntime");
        }
    };
    auto try_session = [&](const SessionOptionsPtr& so, std::string& why) -> OrtSession* {
        OrtSession* s = nullptr;
        if (OrtStatus* e = api->CreateSession(runtime_->env, model_path.c_str(), so.p, &s)) {
            why = api->GetErrorMessage(e);
            api->ReleaseStatus(e);
            return nullptr;
        }
        return s;
    };

    session_ = std::make_unique<Session>();
    session_->api = api;
    std::string cuda_why;
    if (options.device != EDNN_DEVICE_AUTO && options.device != EDNN_DEVICE_CPU && options.device != EDNN_DEVICE_CUDA)
        throw Error(EDNN_ERROR_INPUT, "device: expected EDNN_DEVICE_AUTO, EDNN_DEVICE_CPU or EDNN_DEVICE_CUDA, got " +
                                          std::to_string(static_cast<int>(options.device)));
    bool want_cuda = options.device == EDNN_DEVICE_CUDA;
    if (options.device == EDNN_DEVICE_AUTO) {
        const BuildInfo bi = build_info();
        // the CUDA provider must be compiled into ONNX Runtime; when ednn's own CUDA kernels can
        // count GPUs, there must be one
        want_cuda = runtime_->has_provider("CUDAExecutionProvider") && (!bi.cuda || cuda_device_count() > 0);
    }
    if (want_cuda) {
        if (!runtime_->has_provider("CUDAExecutionProvider")) {
            cuda_why = "ONNX Runtime " + runtime_->version + " at " + runtime_->path +
                       " has no CUDAExecutionProvider (install onnxruntime-gpu)";
        } else {
            SessionOptionsPtr so(api);
            make_options(so);
            CudaOptionsPtr cuda(api);
            OrtStatus* e = api->CreateCUDAProviderOptions(&cuda.p);
            if (!e) {
                const std::string id = std::to_string(options.cuda_device_id);
                const char* keys[] = {"device_id"};
                const char* vals[] = {id.c_str()};
                e = api->UpdateCUDAProviderOptions(cuda.p, keys, vals, 1);
            }
            if (!e) e = api->SessionOptionsAppendExecutionProvider_CUDA_V2(so.p, cuda.p);
            if (e) {
                cuda_why = api->GetErrorMessage(e);
                api->ReleaseStatus(e);
            } else if ((session_->session = try_session(so, cuda_why))) {
                provider_ = "CUDAExecutionProvider";
            }
        }
    }
    if (!session_->session) {
        SessionOptionsPtr so(api);
        make_options(so);
        std::string why;
        session_->session = try_session(so, why);
        if (!session_->session)
            throw Error(EDNN_ERROR_MODEL_FILE, "model: " + py_repr(model_path) + " is not a readable ONNX model: " + why);
        if (options.device == EDNN_DEVICE_CUDA)
            throw Error(EDNN_ERROR_UNSUPPORTED, "device: CUDA was requested but the CUDA execution provider is not usable: " + cuda_why);
        provider_ = "CPUExecutionProvider";
    }
    check(api, api->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &session_->cpu_memory),
          EDNN_ERROR_RUNTIME, "onnxruntime");
    const OrtSession* sess = session_->session;

    read_model_info(api, sess, info_);
}

// ---------------------------------------------------------------- grids

GridShape Predictor::check_shape(const int64_t* shape, int rank, bool allow_batch) const {
    const int d = info_.ndim;
    const int64_t C = info_.channels;
    if (rank < 0 || rank > 16) throw Error(EDNN_ERROR_INPUT, "grid: expected a rank in 0..16, got " + std::to_string(rank));
    if (!shape && rank > 0) throw Error(EDNN_ERROR_INPUT, "shape: null pointer");
    GridShape g;
    g.dims.assign(shape, shape + rank);
    const int single = C == 1 ? d : d + 1;
    const std::string layout = C == 1 ? "(S_1..S_d)" : "(" + std::to_string(C) + ", S_1..S_d)";
    if (rank == single) {
        g.batched = false;
        g.batch = 1;
    } else if (allow_batch && rank == single + 1) {
        g.batched = true;
        g.batch = shape[0];
        if (g.batch < 0) throw Error(EDNN_ERROR_INPUT, "grid: negative batch size " + std::to_string(g.batch));
    } else if (allow_batch) {
        throw Error(EDNN_ERROR_INPUT, "grid: expected " + std::to_string(single) + " axes " + layout + " or " +
                                          std::to_string(single + 1) +
                                          " with a leading batch axis for a model with ndim=" + std::to_string(d) +
                                          " and " + std::to_string(C) + " channel(s), got shape " + py_tuple(g.dims));
    } else {
        throw Error(EDNN_ERROR_INPUT, "grid: expected " + std::to_string(single) + " axes " + layout +
                                          " (one grid, no batch axis) for a model with ndim=" + std::to_string(d) +
                                          " and " + std::to_string(C) + " channel(s), got shape " + py_tuple(g.dims));
    }
    const int lead = g.batched ? 1 : 0;
    if (C != 1 && shape[lead] != C)
        throw Error(EDNN_ERROR_INPUT, "grid: expected " + std::to_string(C) + " channels on axis " +
                                          std::to_string(lead) + ", got " + std::to_string(shape[lead]) + " (shape " +
                                          py_tuple(g.dims) + ")");
    const int first_spatial = rank - d;
    g.n_tiles = 1;
    g.example_elements = C;
    for (int k = 0; k < d; ++k) {
        const int64_t s = shape[first_spatial + k], f = info_.focus[k];
        if (s < 1 || s % f)
            throw Error(EDNN_ERROR_INPUT, "grid: size " + std::to_string(s) + " of spatial axis " + std::to_string(k) +
                                              " is not a multiple of the focus " + std::to_string(f) +
                                              " (expected a size in {" + std::to_string(f) + ", " +
                                              std::to_string(2 * f) + ", " + std::to_string(3 * f) + ", ...})");
        g.size[k] = s;
        if (__builtin_mul_overflow(g.n_tiles, s / f, &g.n_tiles) ||
            __builtin_mul_overflow(g.example_elements, s, &g.example_elements))
            throw Error(EDNN_ERROR_INPUT, "grid: shape " + py_tuple(g.dims) + " is too large");
    }
    int64_t total = 0;
    if (__builtin_mul_overflow(g.example_elements, g.batch, &total) || total > (int64_t{1} << 60))
        throw Error(EDNN_ERROR_INPUT, "grid: shape " + py_tuple(g.dims) + " is too large");
    return g;
}

namespace {

// Contiguous (C, S_1..S_d) layout of one example with elements of `elem_size` bytes.
TileLayout example_layout(const ModelInfo& m, const GridShape& g, int64_t elem_size) {
    TileLayout L;
    L.ndim = m.ndim;
    L.elem_size = elem_size;
    int64_t stride = elem_size;
    for (int k = m.ndim - 1; k >= 0; --k) {
        L.size[k] = g.size[k];
        L.stride[k] = stride;
        L.focus[k] = m.focus[k];
        L.context[k] = m.context[k];
        stride *= g.size[k];
    }
    L.lead_shape = {m.channels};
    L.lead_strides = {stride};
    simplify_lead(L);
    validate(L);
    return L;
}

// Doubles from this magnitude on become inf in float32 (2^128 - 2^103: FLT_MAX plus half an ulp,
// where round-to-nearest-even goes up); below it they round to at most FLT_MAX.
constexpr double kFloat32Overflow = 3.4028235677973366e+38;

// First element of n values that is not finite or does not fit float32 (the network's input);
// -1 when all do (always for integer types: even int64 fits float32's range).
template <typename T>
int64_t first_unfit(const void* data, int64_t n) {
    if constexpr (std::is_floating_point_v<T>) {
        const T* p = static_cast<const T*>(data);
        for (int64_t i = 0; i < n; ++i)
            if (!(std::fabs(static_cast<double>(p[i])) < kFloat32Overflow)) return i;
    } else {
        (void)data;
        (void)n;
    }
    return -1;
}

int64_t first_unfit(ednn_dtype dtype, const void* data, int64_t n) {
    switch (dtype) {
        case EDNN_FLOAT32: return first_unfit<float>(data, n);
        case EDNN_FLOAT64: return first_unfit<double>(data, n);
        default: return -1;
    }
}

// The message for element i, which first_unfit found: not finite, or beyond float32's range.
std::string unfit_message(ednn_dtype dtype, const void* data, int64_t i, const std::vector<int64_t>& index) {
    const double v = dtype == EDNN_FLOAT32 ? static_cast<double>(static_cast<const float*>(data)[i])
                                           : static_cast<const double*>(data)[i];
    const std::string what = std::isfinite(v) ? "grid: expected values within float32's range (|x| <= 3.4028235e+38), got "
                                              : "grid: expected finite values, got ";
    return what + element_text(dtype, data, i) + " at index " + py_tuple(index);
}

// dst = float32(src) * scale_c + offset_c over n_blocks blocks of `block` values, block b being
// channel b % C; the float32 arithmetic of ednn.predict.
template <typename T>
void convert_typed(const void* src, float* dst, int64_t n_blocks, int64_t block, const ModelInfo& m) {
    const T* s = static_cast<const T*>(src);
    const int64_t C = m.channels;
    const bool scale = !m.input_scale.empty(), offset = !m.input_offset.empty();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t c = b % C;
        const float sc = scale ? static_cast<float>(m.input_scale[c]) : 1.0f;
        const float of = offset ? static_cast<float>(m.input_offset[c]) : 0.0f;
        const T* sb = s + b * block;
        float* db = dst + b * block;
        if (scale && offset) {
            for (int64_t i = 0; i < block; ++i) {
                float x = static_cast<float>(sb[i]);
                x *= sc;
                db[i] = x + of;
            }
        } else if (scale) {
            for (int64_t i = 0; i < block; ++i) db[i] = static_cast<float>(sb[i]) * sc;
        } else if (offset) {
            for (int64_t i = 0; i < block; ++i) db[i] = static_cast<float>(sb[i]) + of;
        } else {
            for (int64_t i = 0; i < block; ++i) db[i] = static_cast<float>(sb[i]);
        }
    }
}

void convert(ednn_dtype dtype, const void* src, float* dst, int64_t n_blocks, int64_t block, const ModelInfo& m) {
    switch (dtype) {
        case EDNN_FLOAT32: return convert_typed<float>(src, dst, n_blocks, block, m);
        case EDNN_FLOAT64: return convert_typed<double>(src, dst, n_blocks, block, m);
        case EDNN_INT8: return convert_typed<int8_t>(src, dst, n_blocks, block, m);
        case EDNN_UINT8: return convert_typed<uint8_t>(src, dst, n_blocks, block, m);
        case EDNN_INT16: return convert_typed<int16_t>(src, dst, n_blocks, block, m);
        case EDNN_INT32: return convert_typed<int32_t>(src, dst, n_blocks, block, m);
        case EDNN_INT64: return convert_typed<int64_t>(src, dst, n_blocks, block, m);
        default: break;
    }
}

// Compensated (Neumaier) running sum, per output.
struct Accumulator {
    std::vector<double> sum, comp;
    explicit Accumulator(int64_t k) : sum(static_cast<size_t>(k), 0.0), comp(static_cast<size_t>(k), 0.0) {}
    void add(size_t k, double x) {
        const double s = sum[k];
        const double t = s + x;
        comp[k] += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
        sum[k] = t;
    }
    double total(size_t k) const { return sum[k] + comp[k]; }
};

}  // namespace

int64_t Predictor::batch_tiles(int64_t n_tiles) const {
    constexpr int64_t kDefaultBatchBytes = int64_t{8} << 20;  // as ednn.inference.DEFAULT_BATCH_BYTES
    constexpr int64_t kDefaultBatchTiles = 16384;             // as ednn.inference.DEFAULT_BATCH_TILES
    const int64_t T = info_.tile_elements();                  // 1 .. EDNN_MAX_TILE_ELEMENTS
    int64_t bs = options_.batch_size;
    // activations grow with the batch, not the tile: small tiles are capped by count, and a network
    // whose activations dwarf its input by the exporter's ednn.batch_tiles
    const int64_t hint = info_.batch_tiles > 0 ? info_.batch_tiles : kDefaultBatchTiles;
    if (bs <= 0)
        bs = std::max<int64_t>(1, std::min<int64_t>({n_tiles, kDefaultBatchTiles, hint, kDefaultBatchBytes / (4 * T)}));
    bs = std::max<int64_t>(1, std::min(bs, n_tiles));
    // one batch of tiles is bounded (as ednn.inference.batch_tiles): refused before any allocation
    const int64_t most = std::max<int64_t>(1, EDNN_MAX_BATCH_ELEMENTS / T);
    if (bs > most)
        throw Error(EDNN_ERROR_INPUT, "batch_size: expected at most " + std::to_string(most) + " tiles of " +
                                          std::to_string(T) + " elements (" + std::to_string(EDNN_MAX_BATCH_ELEMENTS) +
                                          " elements per batch), got " + std::to_string(bs));
    return bs;
}

void Predictor::run(float* tiles, int64_t count, std::vector<float>& y) const {
    const OrtApi* api = runtime_->api;
    const int d = info_.ndim;
    int64_t shape[2 + kMaxSpatialDims] = {count, info_.channels, 1, 1, 1};
    for (int k = 0; k < d; ++k) shape[2 + k] = info_.tile[k];
    const size_t bytes = static_cast<size_t>(count * info_.tile_elements()) * sizeof(float);
    ValuePtr in(api), out(api);
    check(api, api->CreateTensorWithDataAsOrtValue(session_->cpu_memory, tiles, bytes, shape, static_cast<size_t>(2 + d),
                                                   ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in.p),
          EDNN_ERROR_RUNTIME, "onnxruntime");
    const char* in_names[] = {info_.input_name.c_str()};
    const char* out_names[] = {info_.output_name.c_str()};
    const OrtValue* inputs[] = {in.p};
    check(api, api->Run(session_->session, nullptr, in_names, inputs, 1, out_names, 1, &out.p), EDNN_ERROR_RUNTIME,
          "onnxruntime: running " + py_repr(info_.path));
    ShapeInfoPtr si(api);
    check(api, api->GetTensorTypeAndShape(out.p, &si.p), EDNN_ERROR_RUNTIME, "onnxruntime");
    size_t n = 0;
    check(api, api->GetDimensionsCount(si.p, &n), EDNN_ERROR_RUNTIME, "onnxruntime");
    std::vector<int64_t> dims(n);
    if (n) check(api, api->GetDimensions(si.p, dims.data(), n), EDNN_ERROR_RUNTIME, "onnxruntime");
    const int64_t K = info_.n_outputs();
    if (n != 2 || dims[0] != count || dims[1] != K)
        throw Error(EDNN_ERROR_INPUT, "model output: expected shape " + py_tuple({count, K}) + ", got " + py_tuple(dims));
    void* data = nullptr;
    check(api, api->GetTensorMutableData(out.p, &data), EDNN_ERROR_RUNTIME, "onnxruntime");
    const float* yp = static_cast<const float*>(data);
    y.assign(yp, yp + count * K);
}

void Predictor::predict(const void* grid, ednn_dtype dtype, const GridShape& g, double* out) const {
    const size_t esize = dtype_size(dtype);
    const int64_t K = info_.n_outputs();
    if (g.batch == 0) return;
    if (!grid) throw Error(EDNN_ERROR_INPUT, "grid: null pointer");
    const int64_t n_tiles = g.n_tiles;
    const int64_t T = info_.tile_elements();
    const int64_t bs = batch_tiles(n_tiles);
    const TileLayout L = example_layout(info_, g, 4);
    const bool needs_copy = dtype != EDNN_FLOAT32 || !info_.input_scale.empty() || !info_.input_offset.empty();
    std::vector<float> converted(needs_copy ? static_cast<size_t>(g.example_elements) : 0);
    const int64_t n_batches = (n_tiles + bs - 1) / bs;
    std::vector<float> buffers[2];
    buffers[0].resize(static_cast<size_t>(std::min(bs, n_tiles) * T));
    if (n_batches > 1) buffers[1].resize(buffers[0].size());
    std::vector<float> y;

    for (int64_t b = 0; b < g.batch; ++b) {
        const void* src = static_cast<const char*>(grid) + static_cast<size_t>(b * g.example_elements) * esize;
        if (const int64_t bad = first_unfit(dtype, src, g.example_elements); bad >= 0) {
            // index as ednn.predict names it: (b,) when batched, the channel when C > 1, then the cell
            std::vector<int64_t> idx;
            if (g.batched) idx.push_back(b);
            int64_t rest = bad;
            std::vector<int64_t> cell(static_cast<size_t>(info_.ndim));
            for (int k = info_.ndim - 1; k >= 0; --k) {
                cell[static_cast<size_t>(k)] = rest % g.size[k];
                rest /= g.size[k];
            }
            if (info_.channels > 1) idx.push_back(rest);
            idx.insert(idx.end(), cell.begin(), cell.end());
            throw Error(EDNN_ERROR_INPUT, unfit_message(dtype, src, bad, idx));
        }
        const float* x = static_cast<const float*>(src);
        if (needs_copy) {
            convert(dtype, src, converted.data(), info_.channels, g.example_elements / info_.channels, info_);
            x = converted.data();
        }
        Accumulator acc(K);
        auto cut = [&](int64_t batch_index, int slot) {
            const int64_t first = batch_index * bs;
            const int64_t count = std::min(bs, n_tiles - first);
            cpu::tile(x, buffers[slot].data(), L, first, count, 1);
        };
        cut(0, 0);
        for (int64_t j = 0; j < n_batches; ++j) {
            const int slot = static_cast<int>(j & 1);
            std::future<void> next;
            if (j + 1 < n_batches)  // cut the next batch while ONNX Runtime runs this one
                next = std::async(std::launch::async, cut, j + 1, 1 - slot);
            const int64_t count = std::min(bs, n_tiles - j * bs);
            try {
                run(buffers[slot].data(), count, y);
            } catch (...) {
                if (next.valid()) next.wait();
                throw;
            }
            for (int64_t i = 0; i < count; ++i)
                for (int64_t k = 0; k < K; ++k) acc.add(static_cast<size_t>(k), static_cast<double>(y[i * K + k]));
            if (next.valid()) next.get();
        }
        for (int64_t k = 0; k < K; ++k) {
            double v = acc.total(static_cast<size_t>(k));
            if (!info_.output_scale.empty()) v *= info_.output_scale[k];
            if (!info_.output_offset.empty()) v += info_.output_offset[k] * static_cast<double>(n_tiles);
            out[b * K + k] = v;
        }
    }
}

void Predictor::predict_tiles(const void* grid, ednn_dtype dtype, const GridShape& g, const int64_t* tiles,
                              size_t n_listed, bool per_tile, double* out) const {
    const size_t esize = dtype_size(dtype);
    const int64_t K = info_.n_outputs();
    if (n_listed > 0 && !tiles) throw Error(EDNN_ERROR_INPUT, "tiles: null pointer");
    for (size_t i = 0; i < n_listed; ++i)
        if (tiles[i] < 0 || tiles[i] >= g.n_tiles)
            throw Error(EDNN_ERROR_INPUT, "tiles: expected indices in [0, " + std::to_string(g.n_tiles) + "), got " +
                                              std::to_string(tiles[i]) + " at position " + std::to_string(i));
    Accumulator acc(K);
    if (n_listed > 0) {
        if (!grid) throw Error(EDNN_ERROR_INPUT, "grid: null pointer");
        const TileLayout L = example_layout(info_, g, static_cast<int64_t>(esize));
        const int64_t T = info_.tile_elements();
        const int64_t bs = batch_tiles(std::min<int64_t>(g.n_tiles, static_cast<int64_t>(n_listed)));
        std::vector<unsigned char> raw(static_cast<size_t>(bs * T) * esize);
        std::vector<float> x(static_cast<size_t>(bs * T));
        std::vector<float> y;
        for (size_t first = 0; first < n_listed; first += static_cast<size_t>(bs)) {
            const int64_t count = std::min<int64_t>(bs, static_cast<int64_t>(n_listed - first));
            for (int64_t j = 0; j < count; ++j)
                cpu::tile(grid, raw.data() + static_cast<size_t>(j * T) * esize, L, tiles[first + j], 1, 1);
            if (const int64_t bad = first_unfit(dtype, raw.data(), count * T); bad >= 0) {
                // back from the tile element to the grid cell it came from
                const int64_t j = bad / T;
                int64_t pos = bad % T;
                const int64_t per_channel = T / info_.channels;
                const int64_t c = pos / per_channel;
                pos %= per_channel;
                int64_t tile_index = tiles[first + j];
                std::vector<int64_t> idx;
                if (info_.channels > 1) idx.push_back(c);
                std::vector<int64_t> cell(static_cast<size_t>(info_.ndim));
                for (int k = info_.ndim - 1; k >= 0; --k) {
                    const int64_t n_k = g.size[k] / info_.focus[k];
                    const int64_t i_k = tile_index % n_k, j_k = pos % info_.tile[k];
                    tile_index /= n_k;
                    pos /= info_.tile[k];
                    const int64_t s = (i_k * info_.focus[k] - info_.context[k] + j_k) % g.size[k];
                    cell[static_cast<size_t>(k)] = s < 0 ? s + g.size[k] : s;
                }
                idx.insert(idx.end(), cell.begin(), cell.end());
                throw Error(EDNN_ERROR_INPUT, unfit_message(dtype, raw.data(), bad, idx));
            }
            convert(dtype, raw.data(), x.data(), count * info_.channels, T / info_.channels, info_);
            run(x.data(), count, y);
            for (int64_t j = 0; j < count; ++j)
                for (int64_t k = 0; k < K; ++k) {
                    const double v = static_cast<double>(y[j * K + k]);
                    if (per_tile) {
                        double w = v;
                        if (!info_.output_scale.empty()) w *= info_.output_scale[k];
                        if (!info_.output_offset.empty()) w += info_.output_offset[k];
                        out[(first + static_cast<size_t>(j)) * static_cast<size_t>(K) + static_cast<size_t>(k)] = w;
                    } else {
                        acc.add(static_cast<size_t>(k), v);
                    }
                }
        }
    }
    if (!per_tile)
        for (int64_t k = 0; k < K; ++k) {
            double v = acc.total(static_cast<size_t>(k));
            if (!info_.output_scale.empty()) v *= info_.output_scale[k];
            if (!info_.output_offset.empty()) v += info_.output_offset[k] * static_cast<double>(n_listed);
            out[k] = v;
        }
}

std::vector<int64_t> Predictor::tiles_touching(const GridShape& g, const int64_t* site) const {
    const int d = info_.ndim;
    if (!site) throw Error(EDNN_ERROR_INPUT, "site: null pointer");
    // per axis, the tile indices i with (x - i f + c) mod S < f + 2c
    std::vector<std::vector<int64_t>> along(static_cast<size_t>(d));
    for (int k = 0; k < d; ++k) {
        const int64_t S = g.size[k], f = info_.focus[k], c = info_.context[k], n = S / f, x = site[k];
        if (x < 0 || x >= S)
            throw Error(EDNN_ERROR_INPUT, "site: expected 0 <= site[" + std::to_string(k) + "] < " + std::to_string(S) +
                                              ", got " + std::to_string(x));
        auto& v = along[static_cast<size_t>(k)];
        // unwrapped tile i covers cells [i f - c, i f + f + c - 1]
        auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
        const int64_t lo = -floor_div(-(x - f - c + 1), f);  // ceil((x - f - c + 1) / f)
        const int64_t hi = floor_div(x + c, f);
        if (hi - lo + 1 >= n) {
            for (int64_t i = 0; i < n; ++i) v.push_back(i);
        } else {
            for (int64_t i = lo; i <= hi; ++i) v.push_back(((i % n) + n) % n);
            std::sort(v.begin(), v.end());
            v.erase(std::unique(v.begin(), v.end()), v.end());
        }
    }
    std::vector<int64_t> out{0};
    for (int k = 0; k < d; ++k) {
        const int64_t n = g.size[k] / info_.focus[k];
        std::vector<int64_t> next;
        next.reserve(out.size() * along[static_cast<size_t>(k)].size());
        for (int64_t base : out)
            for (int64_t i : along[static_cast<size_t>(k)]) next.push_back(base * n + i);
        out.swap(next);
    }
    return out;  // sorted: row-major products of sorted per-axis lists
}

}  // namespace ednn::detail
