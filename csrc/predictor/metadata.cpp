// Reads an EDNN model's ednn.* metadata and checks the network's input and output against it, in
// the order and with the messages of ednn.Model in Python.
#include "metadata.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "messages.hpp"
#include "runtime.hpp"

namespace ednn::detail {

namespace {

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

int64_t ModelInfo::tile_elements() const {
    int64_t n = channels;
    for (int k = 0; k < ndim; ++k) n *= tile[k];
    return n;
}

void read_model_info(const OrtApi* api, const OrtSession* sess, ModelInfo& info) {
    // ---- metadata, in the order ednn.Model checks it
    const auto meta = read_metadata(api, sess);
    info.metadata = meta;
    std::vector<std::string> missing;
    for (const char* k : kRequiredKeys)
        if (!meta.count(k)) missing.push_back(k);
    if (!missing.empty()) {
        std::string msg = "model: " + py_repr(info.path) + " is not an EDNN model file: metadata key " +
                          py_repr(missing[0]) + " is missing";
        if (missing.size() > 1)
            msg += " (also missing: " + join(std::vector<std::string>(missing.begin() + 1, missing.end()), ", ") + ")";
        throw Error(EDNN_ERROR_MODEL_FILE, msg);
    }
    if (strip(meta.at("ednn.format_version")) != "1")
        throw Error(EDNN_ERROR_MODEL_FILE,
                    "metadata ednn.format_version: expected '1', got " + py_repr(meta.at("ednn.format_version")));
    info.ndim = static_cast<int>(metadata_ints("ednn.ndim", meta.at("ednn.ndim"), 1, 1)[0]);
    if (info.ndim > kMaxSpatialDims)
        throw Error(EDNN_ERROR_MODEL_FILE, "metadata ednn.ndim: expected 1, 2 or 3, got " + std::to_string(info.ndim));
    const auto focus = metadata_ints("ednn.focus", meta.at("ednn.focus"), info.ndim, 1);
    const auto context = metadata_ints("ednn.context", meta.at("ednn.context"), info.ndim, 0);
    for (int k = 0; k < info.ndim; ++k) {
        info.focus[k] = focus[k];
        info.context[k] = context[k];
        info.tile[k] = focus[k] + 2 * context[k];
    }
    info.channels = metadata_ints("ednn.channels", meta.at("ednn.channels"), 1, 1)[0];
    for (const std::string& s : split(meta.at("ednn.outputs"), ',')) info.outputs.push_back(strip(s));
    for (const std::string& s : info.outputs)
        if (s.empty())
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "metadata ednn.outputs: expected comma-separated names, got " + py_repr(meta.at("ednn.outputs")));
    if (meta.count("ednn.spacing")) metadata_floats("ednn.spacing", meta.at("ednn.spacing"), 1);
    const int64_t K = info.n_outputs();
    auto optional = [&](const char* key, int64_t count, std::vector<double>& dst) {
        if (meta.count(key)) dst = metadata_floats(key, meta.at(key), count);
    };
    optional("ednn.input_scale", info.channels, info.input_scale);
    optional("ednn.input_offset", info.channels, info.input_offset);
    optional("ednn.output_scale", K, info.output_scale);
    optional("ednn.output_offset", K, info.output_offset);

    // ---- the network's signature against the metadata
    size_t n_in = 0, n_out = 0;
    check(api, api->SessionGetInputCount(sess, &n_in), EDNN_ERROR_MODEL_FILE, "model");
    check(api, api->SessionGetOutputCount(sess, &n_out), EDNN_ERROR_MODEL_FILE, "model");
    if (n_in != 1 || n_out != 1)
        throw Error(EDNN_ERROR_MODEL_FILE, "model: expected one input and one output, got " + std::to_string(n_in) +
                                               " inputs and " + std::to_string(n_out) + " outputs");
    info.input_name = io_name(api, sess, 0, true);
    info.output_name = io_name(api, sess, 0, false);
    const IoSignature in = signature_of(api, sess, 0, true);
    if (!in.is_float_tensor) throw Error(EDNN_ERROR_MODEL_FILE, "model input: expected tensor(float), got " + in.type);
    const size_t want_rank = 2 + static_cast<size_t>(info.ndim);
    if (in.dims.size() != want_rank)
        throw Error(EDNN_ERROR_MODEL_FILE, "model input: expected rank " + std::to_string(want_rank) +
                                               " (N, C, t_1..t_d) for ednn.ndim=" + std::to_string(info.ndim) +
                                               ", got shape " + in.shape);
    for (size_t axis = 1; axis < want_rank; ++axis) {
        const int64_t exp = axis == 1 ? info.channels : info.tile[axis - 2];
        if (in.dims[axis] >= 0 && in.dims[axis] != exp)
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "model input: axis " + std::to_string(axis) + " has size " + std::to_string(in.dims[axis]) +
                            ", expected " + std::to_string(exp) + " from the metadata (channels=" +
                            std::to_string(info.channels) + ", tile=" + tuple_of(info.tile, info.ndim) + ")");
    }
    const IoSignature out = signature_of(api, sess, 0, false);
    if (!out.is_float_tensor || out.dims.size() != 2)
        throw Error(EDNN_ERROR_MODEL_FILE, "model output: expected a (N, K) float tensor, got " + out.type + " " + out.shape);
    if (out.dims[1] >= 0 && out.dims[1] != K)
        throw Error(EDNN_ERROR_MODEL_FILE, "model output: expected K=" + std::to_string(K) + " columns (" +
                                               join(info.outputs, ", ") + "), got " + std::to_string(out.dims[1]));
}

}  // namespace ednn::detail
