// ONNX Runtime predictor: loads ONNX Runtime at run time, validates an EDNN model file the way
// ednn.Model does, tiles grids with the core tiler and sums tile contributions in double.
#include "predictor.hpp"

#include <dlfcn.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <type_traits>
#include <utility>

#include <onnxruntime_c_api.h>

#include "ednn/build_info.hpp"

namespace ednn::detail {

// ==================================================================== text helpers

std::string py_repr(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos;
    const bool has_double = s.find('"') != std::string::npos;
    const char q = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char ch : s) {
        if (ch == '\\' || ch == static_cast<unsigned char>(q)) {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch == '\n') {
            out += "\\n";
        } else if (ch == '\t') {
            out += "\\t";
        } else if (ch == '\r') {
            out += "\\r";
        } else if (ch < 0x20 || ch == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[ch >> 4];
            out += hex[ch & 15];
        } else {
            out += static_cast<char>(ch);
        }
    }
    out += q;
    return out;
}

std::string py_tuple(const std::vector<int64_t>& v) {
    std::string out = "(";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(v[i]);
    }
    if (v.size() == 1) out += ",";
    return out + ")";
}

namespace {

std::string strip(const std::string& s) {
    const char* ws = " \t\n\r\f\v";
    const size_t a = s.find_first_not_of(ws);
    if (a == std::string::npos) return "";
    const size_t b = s.find_last_not_of(ws);
    return s.substr(a, b - a + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t pos = s.find(sep, start);
        if (pos == std::string::npos) {
            parts.push_back(s.substr(start));
            return parts;
        }
        parts.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
}

std::string tuple_of(const int64_t* v, int n) { return py_tuple(std::vector<int64_t>(v, v + n)); }

// An integer the way Python's int() reads a stripped decimal string.
bool parse_int(const std::string& text, int64_t& value) {
    const std::string t = strip(text);
    if (t.empty()) return false;
    size_t i = (t[0] == '+' || t[0] == '-') ? 1 : 0;
    if (i == t.size()) return false;
    for (size_t j = i; j < t.size(); ++j)
        if (t[j] < '0' || t[j] > '9') return false;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (errno == ERANGE || end != t.c_str() + t.size()) return false;
    value = v;
    return true;
}

// A number the way Python's float() reads a stripped string (inf and nan included).
bool parse_float(const std::string& text, double& value) {
    const std::string t = strip(text);
    if (t.empty()) return false;
    if (t.find_first_of("xX") != std::string::npos) return false;  // no hex floats in Python
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size()) return false;
    value = v;
    return true;
}

std::vector<int64_t> metadata_ints(const std::string& key, const std::string& text, int count, int64_t minimum) {
    std::vector<int64_t> vals;
    for (const std::string& p : split(text, ',')) {
        int64_t v = 0;
        if (!parse_int(p, v))
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "metadata " + key + ": expected comma-separated integers, got " + py_repr(text));
        vals.push_back(v);
    }
    if (count > 0) {
        if (vals.size() == 1) {
            vals.assign(static_cast<size_t>(count), vals[0]);
        } else if (vals.size() != static_cast<size_t>(count)) {
            throw Error(EDNN_ERROR_MODEL_FILE, "metadata " + key + ": expected 1 or " + std::to_string(count) +
                                                   " values, got " + std::to_string(vals.size()) + " (" +
                                                   py_repr(text) + ")");
        }
    }
    for (int64_t v : vals)
        if (v < minimum)
            throw Error(EDNN_ERROR_MODEL_FILE, "metadata " + key + ": expected values >= " + std::to_string(minimum) +
                                                   ", got " + py_repr(text));
    return vals;
}

std::vector<double> metadata_floats(const std::string& key, const std::string& text, int64_t count) {
    std::vector<double> vals;
    for (const std::string& p : split(text, ',')) {
        double v = 0;
        if (!parse_float(p, v))
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "metadata " + key + ": expected comma-separated numbers, got " + py_repr(text));
        vals.push_back(v);
    }
    if (vals.size() == 1) vals.assign(static_cast<size_t>(count), vals[0]);
    bool finite = vals.size() == static_cast<size_t>(count);
    for (double v : vals) finite = finite && std::isfinite(v);
    if (!finite)
        throw Error(EDNN_ERROR_MODEL_FILE, "metadata " + key + ": expected 1 or " + std::to_string(count) +
                                               " finite numbers, got " + py_repr(text));
    return vals;
}

}  // namespace

int64_t ModelInfo::tile_elements() const {
    int64_t n = channels;
    for (int k = 0; k < ndim; ++k) n *= tile[k];
    return n;
}

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

// ==================================================================== ONNX Runtime library

struct Runtime {
    void* handle = nullptr;
    const OrtApi* api = nullptr;
    OrtEnv* env = nullptr;
    std::string path;
    std::string version;
    std::vector<std::string> providers;

    bool has_provider(const std::string& name) const {
        return std::find(providers.begin(), providers.end(), name) != providers.end();
    }
};

namespace {

// ONNX Runtime's messages are returned through statuses; its log output is dropped.
void quiet_logger(void*, OrtLoggingLevel, const char*, const char*, const char*, const char*) {}

std::string dirname_of(const std::string& path) {
    const size_t pos = path.rfind('/');
    return pos == std::string::npos ? std::string(".") : path.substr(0, pos);
}

// Files matching a glob pattern, newest version first.
std::vector<std::string> glob_libraries(const std::string& pattern) {
    std::vector<std::string> found;
    glob_t g;
    std::memset(&g, 0, sizeof g);
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
            const std::string p = g.gl_pathv[i];
            const std::string base = p.substr(p.rfind('/') + 1);
            // libonnxruntime.so or libonnxruntime.so.<version>, not the provider libraries
            if (base == "libonnxruntime.so" || base.rfind("libonnxruntime.so.", 0) == 0) found.push_back(p);
        }
    }
    globfree(&g);
    std::sort(found.begin(), found.end(),
              [](const std::string& a, const std::string& b) { return strverscmp(a.c_str(), b.c_str()) > 0; });
    return found;
}

// Where the `onnxruntime` Python package may keep its library, most specific first.
std::vector<std::string> python_package_candidates() {
    std::vector<std::string> patterns;
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&ednn_version), &self) && self.dli_fname) {
        // inside a wheel: site-packages/ednn/lib/libednn_predictor.so
        const std::string lib_dir = dirname_of(self.dli_fname);
        patterns.push_back(dirname_of(dirname_of(lib_dir)) + "/onnxruntime/capi/libonnxruntime.so*");
    }
    for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
        const char* root = std::getenv(var);
        if (root && *root) {
            patterns.push_back(std::string(root) + "/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
            patterns.push_back(std::string(root) + "/lib64/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
        }
    }
    if (const char* home = std::getenv("HOME"); home && *home)
        patterns.push_back(std::string(home) + "/.local/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
    patterns.push_back("/usr/local/lib/python3*/dist-packages/onnxruntime/capi/libonnxruntime.so*");
    patterns.push_back("/usr/local/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
    patterns.push_back("/usr/lib/python3/dist-packages/onnxruntime/capi/libonnxruntime.so*");
    std::vector<std::string> out;
    for (const std::string& p : patterns)
        for (const std::string& f : glob_libraries(p))
            if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    return out;
}

using GetApiBaseFn = const OrtApiBase* (*)();

// Builds a Runtime from an OrtGetApiBase entry point; throws Error(EDNN_ERROR_RUNTIME) on failure.
std::shared_ptr<Runtime> make_runtime(void* handle, GetApiBaseFn get_base, const std::string& where) {
    const OrtApiBase* base = get_base();
    if (!base) throw Error(EDNN_ERROR_RUNTIME, where + ": OrtGetApiBase returned NULL");
    const std::string version = base->GetVersionString ? base->GetVersionString() : "?";
    const OrtApi* api = base->GetApi(ORT_API_VERSION);
    if (!api)
        throw Error(EDNN_ERROR_RUNTIME, where + " is ONNX Runtime " + version + ", which lacks C API version " +
                                            std::to_string(ORT_API_VERSION) +
                                            " (ednn was built with the ONNX Runtime 1." +
                                            std::to_string(ORT_API_VERSION) + " headers; use ONNX Runtime >= 1." +
                                            std::to_string(ORT_API_VERSION) + ")");
    auto rt = std::make_shared<Runtime>();
    rt->handle = handle;
    rt->api = api;
    rt->version = version;
    Dl_info info;
    rt->path = (dladdr(reinterpret_cast<void*>(get_base), &info) && info.dli_fname) ? info.dli_fname : where;
    if (OrtStatus* st = api->CreateEnvWithCustomLogger(quiet_logger, nullptr, ORT_LOGGING_LEVEL_ERROR, "ednn", &rt->env)) {
        const std::string msg = api->GetErrorMessage(st);
        api->ReleaseStatus(st);
        throw Error(EDNN_ERROR_RUNTIME, "onnxruntime: could not create its environment: " + msg);
    }
    char** names = nullptr;
    int n = 0;
    if (OrtStatus* st = api->GetAvailableProviders(&names, &n)) {
        api->ReleaseStatus(st);
    } else {
        for (int i = 0; i < n; ++i) rt->providers.emplace_back(names[i]);
        if (OrtStatus* st2 = api->ReleaseAvailableProviders(names, n)) api->ReleaseStatus(st2);
    }
    return rt;
}

// The loaded runtimes stay loaded for the life of the process (unloading ONNX Runtime is unsafe).
std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, std::shared_ptr<Runtime>>& registry() {
    static auto* r = new std::map<std::string, std::shared_ptr<Runtime>>();
    return *r;
}

std::shared_ptr<Runtime> open_library(const std::string& path, std::string& why) {
    char resolved[4096];
    const std::string key = realpath(path.c_str(), resolved) ? std::string(resolved) : path;
    auto& reg = registry();
    if (auto it = reg.find(key); it != reg.end()) return it->second;
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = dlerror();
        why = e ? e : "dlopen failed";
        return nullptr;
    }
    auto fn = reinterpret_cast<GetApiBaseFn>(dlsym(h, "OrtGetApiBase"));
    if (!fn) {
        why = path + " has no OrtGetApiBase (not ONNX Runtime)";
        dlclose(h);
        return nullptr;
    }
    auto rt = make_runtime(h, fn, path);  // a too-old library is an error, not a reason to look on
    reg[key] = rt;
    return rt;
}

std::shared_ptr<Runtime> load_runtime(const std::string& requested) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    std::string why;
    if (!requested.empty()) {
        if (auto rt = open_library(requested, why)) return rt;
        throw Error(EDNN_ERROR_RUNTIME, "onnxruntime: could not load " + py_repr(requested) + ": " + why);
    }
    if (const char* env = std::getenv("EDNN_ONNXRUNTIME_LIBRARY"); env && *env) {
        if (auto rt = open_library(env, why)) return rt;
        throw Error(EDNN_ERROR_RUNTIME,
                    "onnxruntime: could not load EDNN_ONNXRUNTIME_LIBRARY=" + py_repr(env) + ": " + why);
    }
    // an ONNX Runtime the program already links or loaded
    if (auto fn = reinterpret_cast<GetApiBaseFn>(dlsym(RTLD_DEFAULT, "OrtGetApiBase"))) {
        auto& reg = registry();
        auto it = reg.find("(process)");
        if (it != reg.end()) return it->second;
        auto rt = make_runtime(nullptr, fn, "the ONNX Runtime loaded in this process");
        reg["(process)"] = rt;
        return rt;
    }
    std::vector<std::string> tried;
    for (const std::string& cand : python_package_candidates()) {
        if (auto rt = open_library(cand, why)) return rt;
        tried.push_back(cand + " (" + why + ")");
    }
    for (const char* name : {"libonnxruntime.so", "libonnxruntime.so.1"}) {
        if (auto rt = open_library(name, why)) return rt;
        tried.push_back(std::string(name) + " (" + why + ")");
    }
    throw Error(EDNN_ERROR_RUNTIME,
                "onnxruntime: could not find the ONNX Runtime library; tried " + join(tried, "; ") +
                    ". Install it (pip install onnxruntime), set EDNN_ONNXRUNTIME_LIBRARY, or pass its path "
                    "(ednn_options_set_onnxruntime_library)");
}

// ---------------------------------------------------------------- small RAII helpers over the C API

// Releases a status whose failure changes nothing (e.g. of a free).
void ignore(const OrtApi* api, OrtStatus* st) {
    if (st) api->ReleaseStatus(st);
}

void check(const OrtApi* api, OrtStatus* st, ednn_status code, const std::string& what) {
    if (!st) return;
    std::string msg = api->GetErrorMessage(st);
    api->ReleaseStatus(st);
    throw Error(code, what + ": " + msg);
}

template <typename T, void (*OrtApi::*Release)(T*)>
struct Owned {
    const OrtApi* api = nullptr;
    T* p = nullptr;
    explicit Owned(const OrtApi* a) : api(a) {}
    ~Owned() {
        if (p) (api->*Release)(p);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
};

using SessionOptionsPtr = Owned<OrtSessionOptions, &OrtApi::ReleaseSessionOptions>;
using TypeInfoPtr = Owned<OrtTypeInfo, &OrtApi::ReleaseTypeInfo>;
using MetadataPtr = Owned<OrtModelMetadata, &OrtApi::ReleaseModelMetadata>;
using ValuePtr = Owned<OrtValue, &OrtApi::ReleaseValue>;
using ShapeInfoPtr = Owned<OrtTensorTypeAndShapeInfo, &OrtApi::ReleaseTensorTypeAndShapeInfo>;
using CudaOptionsPtr = Owned<OrtCUDAProviderOptionsV2, &OrtApi::ReleaseCUDAProviderOptions>;

const char* element_name(ONNXTensorElementDataType t) {
    switch (t) {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "uint8";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "int8";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return "uint16";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "int16";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "string";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "bool";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "double";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return "uint32";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return "uint64";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64: return "complex64";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128: return "complex128";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return "bfloat16";
        default: return "unknown";
    }
}

// The type and shape of a model input or output, as ONNX Runtime's Python API shows them.
struct IoSignature {
    std::string type;          // "tensor(float)", ...
    bool is_float_tensor = false;
    std::vector<int64_t> dims;  // -1 where not a fixed size
    std::string shape;          // "['N', 1, 3, 3]"
};

IoSignature signature_of(const OrtApi* api, const OrtSession* session, size_t index, bool input) {
    TypeInfoPtr ti(api);
    check(api, input ? api->SessionGetInputTypeInfo(session, index, &ti.p) : api->SessionGetOutputTypeInfo(session, index, &ti.p),
          EDNN_ERROR_MODEL_FILE, "model");
    IoSignature sig;
    ONNXType kind = ONNX_TYPE_UNKNOWN;
    check(api, api->GetOnnxTypeFromTypeInfo(ti.p, &kind), EDNN_ERROR_MODEL_FILE, "model");
    if (kind != ONNX_TYPE_TENSOR) {
        sig.type = kind == ONNX_TYPE_SEQUENCE ? "seq(...)" : kind == ONNX_TYPE_MAP ? "map(...)" : "non-tensor";
        sig.shape = "None";
        return sig;
    }
    const OrtTensorTypeAndShapeInfo* tsi = nullptr;
    check(api, api->CastTypeInfoToTensorInfo(ti.p, &tsi), EDNN_ERROR_MODEL_FILE, "model");
    ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    check(api, api->GetTensorElementType(tsi, &et), EDNN_ERROR_MODEL_FILE, "model");
    sig.type = std::string("tensor(") + element_name(et) + ")";
    sig.is_float_tensor = et == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    size_t n = 0;
    check(api, api->GetDimensionsCount(tsi, &n), EDNN_ERROR_MODEL_FILE, "model");
    sig.dims.assign(n, -1);
    std::vector<const char*> sym(n, nullptr);
    if (n) {
        check(api, api->GetDimensions(tsi, sig.dims.data(), n), EDNN_ERROR_MODEL_FILE, "model");
        check(api, api->GetSymbolicDimensions(tsi, sym.data(), n), EDNN_ERROR_MODEL_FILE, "model");
    }
    sig.shape = "[";
    for (size_t i = 0; i < n; ++i) {
        if (i) sig.shape += ", ";
        if (sig.dims[i] >= 0)
            sig.shape += std::to_string(sig.dims[i]);
        else if (sym[i] && *sym[i])
            sig.shape += py_repr(sym[i]);
        else
            sig.shape += "None";
    }
    sig.shape += "]";
    return sig;
}

std::string io_name(const OrtApi* api, const OrtSession* session, size_t index, bool input) {
    OrtAllocator* alloc = nullptr;
    check(api, api->GetAllocatorWithDefaultOptions(&alloc), EDNN_ERROR_RUNTIME, "onnxruntime");
    char* name = nullptr;
    check(api, input ? api->SessionGetInputName(session, index, alloc, &name)
                     : api->SessionGetOutputName(session, index, alloc, &name),
          EDNN_ERROR_MODEL_FILE, "model");
    std::string out = name ? name : "";
    if (name) check(api, api->AllocatorFree(alloc, name), EDNN_ERROR_RUNTIME, "onnxruntime");
    return out;
}

std::map<std::string, std::string> read_metadata(const OrtApi* api, const OrtSession* session) {
    OrtAllocator* alloc = nullptr;
    check(api, api->GetAllocatorWithDefaultOptions(&alloc), EDNN_ERROR_RUNTIME, "onnxruntime");
    MetadataPtr md(api);
    check(api, api->SessionGetModelMetadata(session, &md.p), EDNN_ERROR_MODEL_FILE, "model metadata");
    char** keys = nullptr;
    int64_t n = 0;
    check(api, api->ModelMetadataGetCustomMetadataMapKeys(md.p, alloc, &keys, &n), EDNN_ERROR_MODEL_FILE,
          "model metadata");
    std::map<std::string, std::string> out;
    std::string failure;
    for (int64_t i = 0; i < n; ++i) {
        char* value = nullptr;
        if (failure.empty()) {
            if (OrtStatus* st = api->ModelMetadataLookupCustomMetadataMap(md.p, alloc, keys[i], &value)) {
                failure = api->GetErrorMessage(st);
                api->ReleaseStatus(st);
            } else {
                out[keys[i]] = value ? value : "";
            }
        }
        if (value) ignore(api, api->AllocatorFree(alloc, value));
        ignore(api, api->AllocatorFree(alloc, keys[i]));
    }
    if (keys) ignore(api, api->AllocatorFree(alloc, keys));
    if (!failure.empty()) throw Error(EDNN_ERROR_MODEL_FILE, "model metadata: " + failure);
    return out;
}

const char* const kRequiredKeys[] = {"ednn.format_version", "ednn.focus",    "ednn.context",
                                     "ednn.ndim",           "ednn.channels", "ednn.outputs"};

}  // namespace

// ==================================================================== Predictor

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
    if (options.batch_size < 0)
        throw Error(EDNN_ERROR_INPUT,
                    "batch_size: expected a positive int or 0, got " + std::to_string(options.batch_size));
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

    // ---- metadata, in the order ednn.Model checks it
    const auto meta = read_metadata(api, sess);
    info_.metadata = meta;
    std::vector<std::string> missing;
    for (const char* k : kRequiredKeys)
        if (!meta.count(k)) missing.push_back(k);
    if (!missing.empty()) {
        std::string msg = "model: " + py_repr(model_path) + " is not an EDNN model file: metadata key " +
                          py_repr(missing[0]) + " is missing";
        if (missing.size() > 1)
            msg += " (also missing: " + join(std::vector<std::string>(missing.begin() + 1, missing.end()), ", ") + ")";
        throw Error(EDNN_ERROR_MODEL_FILE, msg);
    }
    if (strip(meta.at("ednn.format_version")) != "1")
        throw Error(EDNN_ERROR_MODEL_FILE,
                    "metadata ednn.format_version: expected '1', got " + py_repr(meta.at("ednn.format_version")));
    info_.ndim = static_cast<int>(metadata_ints("ednn.ndim", meta.at("ednn.ndim"), 1, 1)[0]);
    if (info_.ndim > kMaxSpatialDims)
        throw Error(EDNN_ERROR_MODEL_FILE, "metadata ednn.ndim: expected 1, 2 or 3, got " + std::to_string(info_.ndim));
    const auto focus = metadata_ints("ednn.focus", meta.at("ednn.focus"), info_.ndim, 1);
    const auto context = metadata_ints("ednn.context", meta.at("ednn.context"), info_.ndim, 0);
    for (int k = 0; k < info_.ndim; ++k) {
        info_.focus[k] = focus[k];
        info_.context[k] = context[k];
        info_.tile[k] = focus[k] + 2 * context[k];
    }
    info_.channels = metadata_ints("ednn.channels", meta.at("ednn.channels"), 1, 1)[0];
    for (const std::string& s : split(meta.at("ednn.outputs"), ',')) info_.outputs.push_back(strip(s));
    for (const std::string& s : info_.outputs)
        if (s.empty())
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "metadata ednn.outputs: expected comma-separated names, got " + py_repr(meta.at("ednn.outputs")));
    if (meta.count("ednn.spacing")) metadata_floats("ednn.spacing", meta.at("ednn.spacing"), 1);
    const int64_t K = info_.n_outputs();
    auto optional = [&](const char* key, int64_t count, std::vector<double>& dst) {
        if (meta.count(key)) dst = metadata_floats(key, meta.at(key), count);
    };
    optional("ednn.input_scale", info_.channels, info_.input_scale);
    optional("ednn.input_offset", info_.channels, info_.input_offset);
    optional("ednn.output_scale", K, info_.output_scale);
    optional("ednn.output_offset", K, info_.output_offset);

    // ---- the network's signature against the metadata
    size_t n_in = 0, n_out = 0;
    check(api, api->SessionGetInputCount(sess, &n_in), EDNN_ERROR_MODEL_FILE, "model");
    check(api, api->SessionGetOutputCount(sess, &n_out), EDNN_ERROR_MODEL_FILE, "model");
    if (n_in != 1 || n_out != 1)
        throw Error(EDNN_ERROR_MODEL_FILE, "model: expected one input and one output, got " + std::to_string(n_in) +
                                               " inputs and " + std::to_string(n_out) + " outputs");
    info_.input_name = io_name(api, sess, 0, true);
    info_.output_name = io_name(api, sess, 0, false);
    const IoSignature in = signature_of(api, sess, 0, true);
    if (!in.is_float_tensor) throw Error(EDNN_ERROR_MODEL_FILE, "model input: expected tensor(float), got " + in.type);
    const size_t want_rank = 2 + static_cast<size_t>(info_.ndim);
    if (in.dims.size() != want_rank)
        throw Error(EDNN_ERROR_MODEL_FILE, "model input: expected rank " + std::to_string(want_rank) +
                                               " (N, C, t_1..t_d) for ednn.ndim=" + std::to_string(info_.ndim) +
                                               ", got shape " + in.shape);
    for (size_t axis = 1; axis < want_rank; ++axis) {
        const int64_t exp = axis == 1 ? info_.channels : info_.tile[axis - 2];
        if (in.dims[axis] >= 0 && in.dims[axis] != exp)
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "model input: axis " + std::to_string(axis) + " has size " + std::to_string(in.dims[axis]) +
                            ", expected " + std::to_string(exp) + " from the metadata (channels=" +
                            std::to_string(info_.channels) + ", tile=" + tuple_of(info_.tile, info_.ndim) + ")");
    }
    const IoSignature out = signature_of(api, sess, 0, false);
    if (!out.is_float_tensor || out.dims.size() != 2)
        throw Error(EDNN_ERROR_MODEL_FILE, "model output: expected a (N, K) float tensor, got " + out.type + " " + out.shape);
    if (out.dims[1] >= 0 && out.dims[1] != K)
        throw Error(EDNN_ERROR_MODEL_FILE, "model output: expected K=" + std::to_string(K) + " columns (" +
                                               join(info_.outputs, ", ") + "), got " + std::to_string(out.dims[1]));
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

template <typename T>
std::string value_text(T v) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v)) return "nan";
        return v > 0 ? "inf" : "-inf";
    } else {
        return std::to_string(v);
    }
}

// First non-finite element of n values; -1 when all are finite (always for integer types).
template <typename T>
int64_t first_non_finite(const void* data, int64_t n) {
    if constexpr (std::is_floating_point_v<T>) {
        const T* p = static_cast<const T*>(data);
        for (int64_t i = 0; i < n; ++i)
            if (!std::isfinite(p[i])) return i;
    } else {
        (void)data;
        (void)n;
    }
    return -1;
}

int64_t first_non_finite(ednn_dtype dtype, const void* data, int64_t n) {
    switch (dtype) {
        case EDNN_FLOAT32: return first_non_finite<float>(data, n);
        case EDNN_FLOAT64: return first_non_finite<double>(data, n);
        default: return -1;
    }
}

std::string element_text(ednn_dtype dtype, const void* data, int64_t i) {
    switch (dtype) {
        case EDNN_FLOAT32: return value_text(static_cast<const float*>(data)[i]);
        case EDNN_FLOAT64: return value_text(static_cast<const double*>(data)[i]);
        default: return "?";
    }
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
    constexpr int64_t kDefaultBatchBytes = int64_t{8} << 20;  // as ednn.predict.DEFAULT_BATCH_BYTES
    int64_t bs = options_.batch_size;
    if (bs <= 0) bs = std::max<int64_t>(1, std::min<int64_t>(n_tiles, kDefaultBatchBytes / (4 * info_.tile_elements())));
    return std::max<int64_t>(1, std::min(bs, n_tiles));
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
        if (const int64_t bad = first_non_finite(dtype, src, g.example_elements); bad >= 0) {
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
            throw Error(EDNN_ERROR_INPUT, "grid: expected finite values, got " + element_text(dtype, src, bad) +
                                              " at index " + py_tuple(idx));
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
        const int64_t bs = std::min<int64_t>(batch_tiles(g.n_tiles), static_cast<int64_t>(n_listed));
        std::vector<unsigned char> raw(static_cast<size_t>(bs * T) * esize);
        std::vector<float> x(static_cast<size_t>(bs * T));
        std::vector<float> y;
        for (size_t first = 0; first < n_listed; first += static_cast<size_t>(bs)) {
            const int64_t count = std::min<int64_t>(bs, static_cast<int64_t>(n_listed - first));
            for (int64_t j = 0; j < count; ++j)
                cpu::tile(grid, raw.data() + static_cast<size_t>(j * T) * esize, L, tiles[first + j], 1, 1);
            if (const int64_t bad = first_non_finite(dtype, raw.data(), count * T); bad >= 0) {
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
                throw Error(EDNN_ERROR_INPUT, "grid: expected finite values, got " +
                                                  element_text(dtype, raw.data(), bad) + " at index " + py_tuple(idx));
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
