// Reads an EDNN model's ednn.* metadata (scanned from the file before ONNX Runtime loads it) and
// checks it, and the network's input and output, in the order and with the messages of ednn.Model
// in Python, with the limits of ednn.h.
#include "metadata.hpp"

#include <locale.h>  // newlocale, strtod_l (POSIX): numbers read in the C locale, whatever the program's

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <utility>

#include "messages.hpp"
#include "runtime.hpp"

namespace ednn::detail {

namespace {

// Largest value the parsers carry (saturated beyond): above every bound, far below INT64_MAX / 10.
constexpr int64_t kSaturated = int64_t{1} << 40;

// A metadata integer: ASCII digits only (no sign, no '_', no other digits), blanks around ignored;
// the value saturates at kSaturated, so any number of digits is read without overflow. The same
// grammar as parse_ints in Python (ednn/_checks.py).
bool parse_uint(const std::string& text, int64_t& value) {
    const std::string t = strip(text);
    if (t.empty()) return false;
    int64_t v = 0;
    for (char ch : t) {
        if (ch < '0' || ch > '9') return false;
        v = std::min<int64_t>(v * 10 + (ch - '0'), kSaturated);
    }
    value = v;
    return true;
}

bool match_digits(const std::string& t, size_t& i) {
    const size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
}

bool equal_nocase(const std::string& a, const char* b) {
    size_t i = 0;
    for (; i < a.size() && b[i]; ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return i == a.size() && !b[i];
}

// A metadata number: [+-] then digits[.digits] | .digits, optional e[+-]digits, or inf, infinity,
// nan (any case); ASCII only, blanks around ignored. The same grammar as parse_floats in Python.
bool parse_float(const std::string& text, double& value) {
    const std::string t = strip(text);
    size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
    const std::string body = t.substr(i);
    if (!(equal_nocase(body, "inf") || equal_nocase(body, "infinity") || equal_nocase(body, "nan"))) {
        const bool whole = match_digits(t, i);
        bool frac = false;
        if (i < t.size() && t[i] == '.') {
            ++i;
            frac = match_digits(t, i);
        }
        if (!whole && !frac) return false;
        if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
            ++i;
            if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
            if (!match_digits(t, i)) return false;
        }
        if (i != t.size()) return false;
    }
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
    char* end = nullptr;
    const double v = c_locale ? strtod_l(t.c_str(), &end, c_locale) : std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size()) return false;
    value = v;
    return true;
}

std::vector<int64_t> metadata_ints(const std::string& key, const std::string& text, int count, int64_t minimum,
                                   int64_t maximum) {
    std::vector<int64_t> vals;
    for (const std::string& p : split(text, ',')) {
        int64_t v = 0;
        if (!parse_uint(p, v))
            throw Error(EDNN_ERROR_MODEL_FILE, "metadata " + key +
                                                   ": expected comma-separated non-negative integers (ASCII digits), got " +
                                                   py_repr(text));
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
        if (v < minimum || v > maximum)
            throw Error(EDNN_ERROR_MODEL_FILE, "metadata " + key + ": expected values in " + std::to_string(minimum) +
                                                   ".." + std::to_string(maximum) + ", got " + py_repr(text));
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

// ---------------------------------------------------------------- the file's protobuf, scanned

// Whether `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as
// Python's strict UTF-8 decoder requires.
bool valid_utf8(const std::string& s) {
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        int len = 0;
        uint32_t cp = 0, min = 0;
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
        else return false;
        if (i + static_cast<size_t>(len) > n) return false;
        for (int k = 1; k < len; ++k) {
            const auto d = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += static_cast<size_t>(len);
    }
    return true;
}

// Reads protobuf wire format from a byte source; throws the scan's messages (shared with
// ednn/model.py's _scan_metadata) as std::runtime_error.
struct WireReader {
    virtual ~WireReader() = default;
    virtual uint64_t remaining() const = 0;
    virtual bool byte(unsigned char& b) = 0;              // false at the end
    virtual void skip(uint64_t n) = 0;                     // n <= remaining()
    virtual std::string bytes(uint64_t n) = 0;             // n <= remaining()

    // false at a clean end (no byte left before the varint)
    bool varint(uint64_t& v, bool end_ok) {
        v = 0;
        for (int i = 0; i < 10; ++i) {
            unsigned char b = 0;
            if (!byte(b)) {
                if (i == 0 && end_ok) return false;
                throw std::runtime_error("truncated file");
            }
            v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
            if (!(b & 0x80)) return true;
        }
        throw std::runtime_error("malformed protobuf (a varint longer than 10 bytes)");
    }
    // Skips the value of a field of wire type `wt` (not length-delimited).
    void skip_scalar(uint64_t wt) {
        uint64_t v = 0;
        switch (wt) {
            case 0: varint(v, false); return;
            case 1: need(8); skip(8); return;
            case 5: need(4); skip(4); return;
            default: throw std::runtime_error("malformed protobuf (wire type " + std::to_string(wt) + ")");
        }
    }
    void need(uint64_t n) const {
        if (n > remaining()) throw std::runtime_error("truncated file");
    }
    // A tag: false at a clean end.
    bool tag(uint64_t& field, uint64_t& wt) {
        uint64_t t = 0;
        if (!varint(t, true)) return false;
        field = t >> 3;
        wt = t & 7;
        if (field == 0) throw std::runtime_error("malformed protobuf (field number 0)");
        return true;
    }
};

struct FileReader final : WireReader {
    std::ifstream f;
    uint64_t left = 0;
    uint64_t remaining() const override { return left; }
    bool byte(unsigned char& b) override {
        if (left == 0) return false;
        char c = 0;
        if (!f.get(c)) throw std::runtime_error("could not read the file");
        --left;
        b = static_cast<unsigned char>(c);
        return true;
    }
    void skip(uint64_t n) override {
        f.seekg(static_cast<std::streamoff>(n), std::ios::cur);
        if (!f) throw std::runtime_error("could not read the file");
        left -= n;
    }
    std::string bytes(uint64_t n) override {
        std::string out(static_cast<size_t>(n), '\0');
        if (n && !f.read(&out[0], static_cast<std::streamsize>(n))) throw std::runtime_error("could not read the file");
        left -= n;
        return out;
    }
};

struct StringReader final : WireReader {
    const std::string& s;
    size_t pos = 0;
    explicit StringReader(const std::string& str) : s(str) {}
    uint64_t remaining() const override { return s.size() - pos; }
    bool byte(unsigned char& b) override {
        if (pos == s.size()) return false;
        b = static_cast<unsigned char>(s[pos++]);
        return true;
    }
    void skip(uint64_t n) override { pos += static_cast<size_t>(n); }
    std::string bytes(uint64_t n) override {
        std::string out = s.substr(pos, static_cast<size_t>(n));
        pos += static_cast<size_t>(n);
        return out;
    }
};

// One StringStringEntryProto: key = field 1, value = field 2.
std::pair<std::string, std::string> metadata_entry(const std::string& payload) {
    StringReader r(payload);
    std::pair<std::string, std::string> kv;
    uint64_t field = 0, wt = 0;
    try {
        while (r.tag(field, wt)) {
            if (wt == 2) {
                uint64_t n = 0;
                r.varint(n, false);
                r.need(n);
                std::string v = r.bytes(n);
                if (field == 1) kv.first = std::move(v);
                else if (field == 2) kv.second = std::move(v);
            } else {
                r.skip_scalar(wt);
            }
        }
    } catch (const std::runtime_error&) {
        throw std::runtime_error("malformed protobuf (a metadata_props entry)");
    }
    if (!valid_utf8(kv.first) || !valid_utf8(kv.second))
        throw std::runtime_error("a metadata_props entry that is not UTF-8");
    return kv;
}

}  // namespace

std::map<std::string, std::string> scan_metadata(const std::string& path) {
    FileReader r;
    std::map<std::string, std::string> meta;
    try {
        r.f.open(path, std::ios::binary);
        if (!r.f) throw std::runtime_error("could not open the file");
        r.f.seekg(0, std::ios::end);
        const std::streamoff size = r.f.tellg();
        r.f.seekg(0, std::ios::beg);
        if (size < 0 || !r.f) throw std::runtime_error("could not read the file");
        r.left = static_cast<uint64_t>(size);
        bool graph = false;
        uint64_t field = 0, wt = 0;
        while (r.tag(field, wt)) {
            if (wt != 2) {
                r.skip_scalar(wt);
                continue;
            }
            uint64_t n = 0;
            r.varint(n, false);
            if (field == 14 && n > kMaxMetadataEntryBytes)
                throw std::runtime_error("a metadata_props entry of " + std::to_string(n) + " bytes (more than 16 MiB)");
            r.need(n);
            if (field == 14) {
                auto kv = metadata_entry(r.bytes(n));
                meta[kv.first] = std::move(kv.second);  // a repeated key: the last wins, as in ONNX Runtime
            } else {
                graph = graph || field == 7;
                r.skip(n);
            }
        }
        if (!graph) throw std::runtime_error("no graph");
    } catch (const std::runtime_error& e) {
        throw Error(EDNN_ERROR_MODEL_FILE, "model: " + py_repr(path) + " is not a readable ONNX model: " + e.what());
    }
    return meta;
}

int64_t ModelInfo::tile_elements() const {
    int64_t n = channels;
    for (int k = 0; k < ndim; ++k) n *= tile[k];  // <= kMaxTileElements: checked by read_metadata_info
    return n;
}

void read_metadata_info(const std::map<std::string, std::string>& meta, ModelInfo& out) {
    ModelInfo info;
    info.path = out.path;
    info.metadata = meta;
    // ---- in the order ednn.Model checks it
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
    info.ndim = static_cast<int>(metadata_ints("ednn.ndim", meta.at("ednn.ndim"), 1, 1, kMaxSpatialDims)[0]);
    const auto focus = metadata_ints("ednn.focus", meta.at("ednn.focus"), info.ndim, 1, EDNN_MAX_METADATA_INT);
    const auto context = metadata_ints("ednn.context", meta.at("ednn.context"), info.ndim, 0, EDNN_MAX_METADATA_INT);
    for (int k = 0; k < info.ndim; ++k) {
        info.focus[k] = focus[k];
        info.context[k] = context[k];
        info.tile[k] = focus[k] + 2 * context[k];  // <= 3 * 2^24
    }
    info.channels = metadata_ints("ednn.channels", meta.at("ednn.channels"), 1, 1, EDNN_MAX_METADATA_INT)[0];
    // one tile: C * t_1..t_d elements; every factor is below 2^26, so checking after each product
    // keeps the running product below 2^50
    int64_t elements = info.channels;
    for (int k = 0; k < info.ndim && elements <= EDNN_MAX_TILE_ELEMENTS; ++k) elements *= info.tile[k];
    if (elements > EDNN_MAX_TILE_ELEMENTS)
        throw Error(EDNN_ERROR_MODEL_FILE, "model: a tile of " + std::to_string(info.channels) + " channel(s) x " +
                                               tuple_of(info.tile, info.ndim) + " cells: more than the " +
                                               std::to_string(EDNN_MAX_TILE_ELEMENTS) + " elements a tile may have");
    for (const std::string& s : split(meta.at("ednn.outputs"), ',')) info.outputs.push_back(strip(s));
    for (const std::string& s : info.outputs)
        if (s.empty())
            throw Error(EDNN_ERROR_MODEL_FILE,
                        "metadata ednn.outputs: expected comma-separated names, got " + py_repr(meta.at("ednn.outputs")));
    if (meta.count("ednn.spacing")) metadata_floats("ednn.spacing", meta.at("ednn.spacing"), info.ndim);
    const int64_t K = info.n_outputs();
    auto optional = [&](const char* key, int64_t count, std::vector<double>& dst) {
        if (meta.count(key)) dst = metadata_floats(key, meta.at(key), count);
    };
    optional("ednn.input_scale", info.channels, info.input_scale);
    optional("ednn.input_offset", info.channels, info.input_offset);
    optional("ednn.output_scale", K, info.output_scale);
    optional("ednn.output_offset", K, info.output_offset);
    if (meta.count("ednn.batch_tiles"))
        info.batch_tiles = metadata_ints("ednn.batch_tiles", meta.at("ednn.batch_tiles"), 1, 1, EDNN_MAX_METADATA_INT)[0];
    out = std::move(info);
}

void read_model_info(const OrtApi* api, const OrtSession* sess, ModelInfo& info) {
    // ---- the session's metadata: checked again only where it differs from the scanned one
    const auto meta = read_metadata(api, sess);
    if (meta != info.metadata) read_metadata_info(meta, info);
    const int64_t K = info.n_outputs();

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
