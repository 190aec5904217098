// Hostile model files and arguments through the C API (run under ASan + UBSan in CI): metadata
// integers out of range or outside the strict grammar, tiles beyond the per-tile limit, files that
// are not EDNN models (refused before ONNX Runtime builds a session), thread counts, batches beyond
// the per-batch limit, and grid values that do not fit float32.
// Every case must come back as a status and a message; nothing may crash or read out of bounds.
//
// The model files are written here, byte by byte: a ModelProto whose graph flattens the input
// (N, C, t_1..t_d) and sums it, (N, 1), with the input's axes fixed or symbolic as each case needs.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"
#include "ednn/ednn.h"

namespace {

std::string work_dir;

// ---------------------------------------------------------------- a minimal protobuf writer

std::string varint(uint64_t v) {
    std::string out;
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
    return out;
}

std::string field_varint(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3) + varint(v); }

std::string field_bytes(int field, const std::string& bytes) {
    return varint((static_cast<uint64_t>(field) << 3) | 2) + varint(bytes.size()) + bytes;
}

// A tensor type: float elements, axes given as numbers ("3") or symbols ("N").
std::string float_tensor_type(const std::vector<std::string>& dims) {
    std::string shape;
    for (const std::string& d : dims) {
        const bool symbolic = d.empty() || d[0] < '0' || d[0] > '9';
        shape += field_bytes(1, symbolic ? field_bytes(2, d) : field_varint(1, std::stoull(d)));
    }
    const std::string tensor = field_varint(1, 1 /* FLOAT */) + field_bytes(2, shape);
    return field_bytes(1, tensor);  // TypeProto.tensor_type
}

std::string value_info(const std::string& name, const std::vector<std::string>& dims) {
    return field_bytes(1, name) + field_bytes(2, float_tensor_type(dims));
}

std::string int_attribute(const std::string& name, int64_t v) {
    return field_bytes(1, name) + field_varint(3, static_cast<uint64_t>(v)) + field_varint(20, 2 /* INT */);
}

std::string ints_attribute(const std::string& name, int64_t v) {
    return field_bytes(1, name) + field_varint(8, static_cast<uint64_t>(v)) + field_varint(20, 7 /* INTS */);
}

std::string node(const std::string& op, const std::string& in, const std::string& out, const std::string& attrs) {
    return field_bytes(1, in) + field_bytes(2, out) + field_bytes(4, op) + attrs;
}

using Meta = std::vector<std::pair<std::string, std::string>>;

// ModelProto (opset 11): y = ReduceSum(Flatten(x, axis=1), axes=[1], keepdims=1).
std::string model_bytes(const Meta& meta, const std::vector<std::string>& input_dims, const std::string& op = "Flatten",
                        bool with_graph = true) {
    std::string graph;
    graph += field_bytes(1, node(op, "x", "f", field_bytes(5, int_attribute("axis", 1))));
    graph += field_bytes(1, node("ReduceSum", "f", "y",
                                 field_bytes(5, ints_attribute("axes", 1)) + field_bytes(5, int_attribute("keepdims", 1))));
    graph += field_bytes(2, "hostile");
    graph += field_bytes(11, value_info("x", input_dims));
    graph += field_bytes(12, value_info("y", {"N", "1"}));
    std::string model = field_varint(1, 7);                                         // ir_version
    model += field_bytes(8, field_bytes(1, "") + field_varint(2, 11));              // opset_import
    if (with_graph) model += field_bytes(7, graph);                                 // graph
    for (const auto& [k, v] : meta) model += field_bytes(14, field_bytes(1, k) + field_bytes(2, v));
    return model;
}

Meta ednn_meta(const std::string& ndim, const std::string& focus, const std::string& context,
               const std::string& channels = "1") {
    return {{"ednn.format_version", "1"}, {"ednn.ndim", ndim},         {"ednn.focus", focus},
            {"ednn.context", context},    {"ednn.channels", channels}, {"ednn.outputs", "energy"}};
}

Meta with(Meta meta, const std::string& key, const std::string& value) {
    for (auto& [k, v] : meta)
        if (k == key) {
            v = value;
            return meta;
        }
    meta.emplace_back(key, value);
    return meta;
}

int file_counter = 0;

std::string write_model(const std::string& bytes) {
    const std::string path = work_dir + "/hostile" + std::to_string(file_counter++) + ".onnx";
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

struct Result {
    ednn_status status;
    std::string message;
};

Result create(const std::string& path, ednn_predictor** out = nullptr, const ednn_options* options = nullptr) {
    char* err = nullptr;
    ednn_predictor* p = nullptr;
    const ednn_status st = ednn_predictor_create(path.c_str(), options, &p, &err);
    Result r{st, err ? err : ""};
    ednn_string_free(err);
    if (out)
        *out = p;
    else
        ednn_predictor_free(p);
    return r;
}

int hostile_files = 0;

// A model file that must be refused with `status` and a message containing `part`.
void expect_refused(const std::string& bytes, ednn_status status, const std::string& part) {
    ++hostile_files;
    const Result r = create(write_model(bytes));
    CHECK_MSG(r.status == status && ednn_test::contains(r.message, part),
              std::string(ednn_status_name(r.status)) + ": " + r.message + " (expected: " + part + ")");
}

// ---------------------------------------------------------------- the cases

void test_metadata_integers() {
    const auto ok2 = [](const Meta& m) { return model_bytes(m, {"N", "1", "3", "3"}); };
    // accepted: plain digits, ASCII blanks around them, leading zeros
    for (const char* focus : {"1", " 1 ", "\t1", "01", "1,1", " 1 , 1"}) {
        ednn_predictor* p = nullptr;
        const Result r = create(write_model(ok2(ednn_meta("2", focus, "1"))), &p);
        CHECK_MSG(r.status == EDNN_OK, std::string(focus) + ": " + r.message);
        ednn_predictor_free(p);
    }
    // the strict grammar: ASCII digits only, nothing Python's int() or strtoll() would add
    const std::string syntax = "expected comma-separated non-negative integers (ASCII digits)";
    for (const char* focus : {"1_0", "\xd9\xa1" /* U+0661, ARABIC-INDIC DIGIT ONE */, "+1", "-1", "--1", "0x1", "1.0",
                              "1e0", "", ",", "1,", "1,,1", "\xc2\xa0" "1" /* no-break space */, "\xef\xbc\x91"})
        expect_refused(ok2(ednn_meta("2", focus, "1")), EDNN_ERROR_MODEL_FILE, "metadata ednn.focus: " + syntax);
    expect_refused(ok2(ednn_meta("2", "1", "-0")), EDNN_ERROR_MODEL_FILE, "metadata ednn.context: " + syntax);
    // bounded: ndim 1..3, focus and channels 1..2^24, context 0..2^24, whatever the digits
    const auto dyn1 = [](const Meta& m) { return model_bytes(m, {"N"}); };
    expect_refused(dyn1(ednn_meta("4294967295", "1", "0")), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.ndim: expected values in 1..3, got '4294967295'");
    expect_refused(dyn1(ednn_meta("4294967298", "1", "0")), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.ndim: expected values in 1..3, got '4294967298'");
    expect_refused(dyn1(ednn_meta("18446744073709551617", "1", "0")), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.ndim: expected values in 1..3");
    expect_refused(dyn1(ednn_meta(std::string(5000, '9'), "1", "0")), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.ndim: expected values in 1..3");
    expect_refused(dyn1(ednn_meta("0", "1", "0")), EDNN_ERROR_MODEL_FILE, "metadata ednn.ndim: expected values in 1..3");
    expect_refused(dyn1(ednn_meta("4", "1", "0")), EDNN_ERROR_MODEL_FILE, "metadata ednn.ndim: expected values in 1..3");
    const auto dyn2 = [](const Meta& m) { return model_bytes(m, {"N", "C", "A", "B"}); };
    expect_refused(dyn2(ednn_meta("2", "16777217", "0")), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.focus: expected values in 1..16777216, got '16777217'");
    expect_refused(dyn2(ednn_meta("2", "0", "0")), EDNN_ERROR_MODEL_FILE, "metadata ednn.focus: expected values in 1..16777216");
    expect_refused(dyn2(ednn_meta("2", "1", "4611686018427387904" /* 2^62 */)), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.context: expected values in 0..16777216");
    expect_refused(dyn2(ednn_meta("2", "1", "0", "16777217")), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.channels: expected values in 1..16777216");
    expect_refused(dyn2(ednn_meta("2", "1", "0", "0")), EDNN_ERROR_MODEL_FILE, "metadata ednn.channels: expected values in 1..16777216");
}

void test_tile_limit() {
    const std::string limit = "cells: more than the 16777216 elements a tile may have";
    const auto dyn = [](int d, const Meta& m) {
        std::vector<std::string> dims{"N", "C"};
        for (int k = 0; k < d; ++k) dims.push_back("T" + std::to_string(k));
        return model_bytes(m, dims);
    };
    // the reproducers: 4 * tile_elements wrapped to 0 (SIGFPE), and the 2^62 context (length_error)
    expect_refused(dyn(2, ednn_meta("2", "2", "1073741823")), EDNN_ERROR_MODEL_FILE, "ednn.context: expected values in 0..16777216");
    // within the integer bounds, the tile itself is bounded: f + 2c per axis, times the channels
    expect_refused(dyn(2, ednn_meta("2", "1", "20000")), EDNN_ERROR_MODEL_FILE,
                   "model: a tile of 1 channel(s) x (40001, 40001) " + limit);
    expect_refused(dyn(3, ednn_meta("3", "16777216", "16777216", "16777216")), EDNN_ERROR_MODEL_FILE,
                   "model: a tile of 16777216 channel(s) x (50331648, 50331648, 50331648) " + limit);
    expect_refused(dyn(1, ednn_meta("1", "1", "8388608")), EDNN_ERROR_MODEL_FILE,
                   "model: a tile of 1 channel(s) x (16777217,) " + limit);
    expect_refused(dyn(1, ednn_meta("1", "4", "0", "4194305")), EDNN_ERROR_MODEL_FILE,
                   "model: a tile of 4194305 channel(s) x (4,) " + limit);
    // exactly at the limit: accepted
    {
        ednn_predictor* p = nullptr;
        const Result r = create(write_model(dyn(1, ednn_meta("1", "16777216", "0"))), &p);
        CHECK_MSG(r.status == EDNN_OK, r.message);
        int64_t tile[3] = {0, 0, 0};
        CHECK(ednn_predictor_geometry(p, nullptr, nullptr, nullptr, tile, nullptr, nullptr, nullptr) == EDNN_OK);
        CHECK(tile[0] == 16777216);
        ednn_predictor_free(p);
    }
}

void test_not_ednn_files() {
    // refused from the metadata before ONNX Runtime builds a session: a graph ONNX Runtime cannot
    // load (an unknown operator) still gets the metadata's message
    Meta none;
    expect_refused(model_bytes(none, {"N", "1", "3", "3"}, "NoSuchOperator"), EDNN_ERROR_MODEL_FILE,
                   "is not an EDNN model file: metadata key 'ednn.format_version' is missing");
    expect_refused(model_bytes(ednn_meta("2", "x", "1"), {"N", "1", "3", "3"}, "NoSuchOperator"), EDNN_ERROR_MODEL_FILE,
                   "metadata ednn.focus: expected comma-separated non-negative integers");
    // valid metadata, unloadable graph: ONNX Runtime's word
    expect_refused(model_bytes(ednn_meta("2", "1", "1"), {"N", "1", "3", "3"}, "NoSuchOperator"), EDNN_ERROR_MODEL_FILE,
                   "is not a readable ONNX model");
    // broken protobuf at the top level
    const std::string good = model_bytes(ednn_meta("2", "1", "1"), {"N", "1", "3", "3"});
    expect_refused(good.substr(0, good.size() - 3), EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model: truncated file");
    expect_refused(std::string(), EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model: no graph");
    expect_refused(model_bytes(ednn_meta("2", "1", "1"), {"N", "1", "3", "3"}, "Flatten", false), EDNN_ERROR_MODEL_FILE,
                   "is not a readable ONNX model: no graph");
    expect_refused("this is not an ONNX file", EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model");
    expect_refused(good + varint((14u << 3) | 2) + varint(uint64_t{1} << 40), EDNN_ERROR_MODEL_FILE,
                   "is not a readable ONNX model: a metadata_props entry of 1099511627776 bytes (more than 16 MiB)");
    expect_refused(good + varint((14u << 3) | 2) + varint(~uint64_t{0}), EDNN_ERROR_MODEL_FILE,
                   "is not a readable ONNX model: a metadata_props entry of 18446744073709551615 bytes");
    expect_refused(good + varint((7u << 3) | 2) + varint(1000), EDNN_ERROR_MODEL_FILE,
                   "is not a readable ONNX model: truncated file");
    expect_refused(good + std::string(11, '\xff'), EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model: malformed protobuf");
    expect_refused(good + varint((3u << 3) | 3), EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model: malformed protobuf");
    expect_refused(good + varint(0 | 2) + varint(0), EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model: malformed protobuf");
    // a metadata entry larger than 16 MiB is refused without reading it
    expect_refused(good + varint((14u << 3) | 2) + varint((uint64_t{16} << 20) + 1) + std::string(64, 'x'),
                   EDNN_ERROR_MODEL_FILE, "is not a readable ONNX model: a metadata_props entry of 16777217 bytes");
    // per-axis spacing is read like Python does (one value per spatial axis)
    ednn_predictor* p = nullptr;
    const Result r = create(write_model(model_bytes(with(ednn_meta("2", "1", "1"), "ednn.spacing", "0.1,0.2"),
                                                    {"N", "1", "3", "3"})), &p);
    CHECK_MSG(r.status == EDNN_OK, r.message);
    ednn_predictor_free(p);
    // the number grammar of the float metadata: what Python's float() and strtod() would add
    for (const char* scale : {"1_0", "0x10", "\xd9\xa1", "1e999", "nan", "inf", "nan(1)", "1,2", "1.0.0", ""})
        expect_refused(model_bytes(with(ednn_meta("2", "1", "1"), "ednn.input_scale", scale), {"N", "1", "3", "3"}),
                       EDNN_ERROR_MODEL_FILE, "metadata ednn.input_scale: expected ");
}

// (enum arguments outside their enumerators are tested from C, test_c_api.c: C callers pass any
// int, and C has no enum-range rule for UBSan to flag in the caller)
void test_threads() {
    ednn_options* o = nullptr;
    char* err = nullptr;
    CHECK(ednn_options_create(&o, nullptr) == EDNN_OK);
    // threads: 0 (default) .. EDNN_THREADS_PER_CORE x the cores
    const int most = ednn_max_threads();
    CHECK(most >= EDNN_THREADS_PER_CORE);
    CHECK(ednn_options_set_threads(o, most, &err) == EDNN_OK);
    for (int t : {most + 1, 5000, 100000, 0x7fffffff}) {
        CHECK(ednn_options_set_threads(o, t, &err) == EDNN_ERROR_INPUT);
        CHECK_MSG(err && ednn_test::contains(err, "threads: expected at most " + std::to_string(most) + " (" +
                                                      std::to_string(EDNN_THREADS_PER_CORE) + " per core), got " +
                                                      std::to_string(t)),
                  err ? err : "");
        ednn_string_free(err);
    }
    CHECK(ednn_options_set_threads(o, 1, &err) == EDNN_OK);
    ednn_predictor* p = nullptr;
    const std::string path = write_model(model_bytes(ednn_meta("2", "1", "1"), {"N", "1", "3", "3"}));
    CHECK(create(path, &p, o).status == EDNN_OK);
    ednn_options_free(o);
    const int8_t grid[4] = {1, 1, 1, 1};
    const int64_t shape[2] = {2, 2};
    double out = 0;
    CHECK(ednn_predictor_predict(p, grid, EDNN_INT8, shape, 2, &out, 1, &err) == EDNN_OK);
    CHECK(out == 36.0);  // 4 tiles of 9 ones
    ednn_predictor_free(p);
}

void test_float32_range() {
    ednn_predictor* p = nullptr;
    const std::string path = write_model(model_bytes(ednn_meta("2", "1", "1"), {"N", "1", "3", "3"}));
    CHECK(create(path, &p).status == EDNN_OK);
    char* err = nullptr;
    std::vector<double> g(16, 1.0);
    const int64_t shape[2] = {4, 4}, batch_shape[3] = {1, 4, 4};
    double out[2] = {0, 0};
    // the largest float32 fits; anything finite beyond it does not (it would become inf, then nan)
    g[6] = static_cast<double>(FLT_MAX);
    CHECK(ednn_predictor_predict(p, g.data(), EDNN_FLOAT64, shape, 2, out, 1, &err) == EDNN_OK);
    for (double v : {1e39, -3.5e38, 1.7976931348623157e308}) {
        g[6] = v;
        CHECK(ednn_predictor_predict(p, g.data(), EDNN_FLOAT64, shape, 2, out, 1, &err) == EDNN_ERROR_INPUT);
        char text[64];
        std::snprintf(text, sizeof text, "%s", v == 1e39 ? "1e+39" : v < 0 ? "-3.5e+38" : "1.7976931348623157e+308");
        CHECK_MSG(err && ednn_test::contains(err, std::string("grid: expected values within float32's range (|x| <= "
                                                              "3.4028235e+38), got ") +
                                                      text + " at index (1, 2)"),
                  err ? err : "");
        ednn_string_free(err);
        CHECK(ednn_predictor_predict(p, g.data(), EDNN_FLOAT64, batch_shape, 3, out, 1, &err) == EDNN_ERROR_INPUT);
        CHECK(err && ednn_test::contains(err, "at index (0, 1, 2)"));
        ednn_string_free(err);
        const int64_t tiles[2] = {0, 5};  // tile 0 does not see (1, 2); tile 5, at (1, 1), does
        CHECK(ednn_predictor_predict_tiles(p, g.data(), EDNN_FLOAT64, shape, 2, tiles, 1, out, 1, &err) == EDNN_OK);
        CHECK(ednn_predictor_predict_tiles(p, g.data(), EDNN_FLOAT64, shape, 2, tiles, 2, out, 1, &err) == EDNN_ERROR_INPUT);
        CHECK(err && ednn_test::contains(err, "grid: expected values within float32's range") &&
              ednn_test::contains(err, "at index (1, 2)"));
        ednn_string_free(err);
    }
    // a nan before a too-large value is named as non-finite, as in Python (first bad index wins)
    g[6] = 1e39;
    g[2] = std::nan("");
    CHECK(ednn_predictor_predict(p, g.data(), EDNN_FLOAT64, shape, 2, out, 1, &err) == EDNN_ERROR_INPUT);
    CHECK(err && ednn_test::contains(err, "grid: expected finite values, got nan at index (0, 2)"));
    ednn_string_free(err);
    ednn_predictor_free(p);
}

void test_batch_limit() {
    // a 33x33 tile (1089 elements): 246 497 tiles are the most one batch may hold (2^28 elements)
    const std::string path = write_model(model_bytes(ednn_meta("2", "1", "16"), {"N", "1", "33", "33"}));
    ednn_options* o = nullptr;
    CHECK(ednn_options_create(&o, nullptr) == EDNN_OK);
    CHECK(ednn_options_set_batch_size(o, int64_t{1} << 40, nullptr) == EDNN_OK);
    ednn_predictor* p = nullptr;
    const Result r = create(path, &p, o);
    CHECK_MSG(r.status == EDNN_OK, r.message);
    ednn_options_free(o);
    std::vector<int8_t> grid(512 * 512, 1);
    const int64_t shape[2] = {512, 512};
    double out = 0;
    char* err = nullptr;
    CHECK(ednn_predictor_predict(p, grid.data(), EDNN_INT8, shape, 2, &out, 1, &err) == EDNN_ERROR_INPUT);
    CHECK_MSG(err && ednn_test::contains(err, "batch_size: expected at most 246497 tiles of 1089 elements "
                                              "(268435456 elements per batch), got 262144"),
              err ? err : "");
    ednn_string_free(err);
    // a small grid fits in one batch: fine
    const int64_t small[2] = {4, 4};
    CHECK(ednn_predictor_predict(p, grid.data(), EDNN_INT8, small, 2, &out, 1, &err) == EDNN_OK);
    CHECK(out == 16.0 * 1089.0);
    ednn_predictor_free(p);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    work_dir = argv[1];
    test_metadata_integers();
    test_tile_limit();
    test_not_ednn_files();
    test_threads();
    test_float32_range();
    test_batch_limit();
    std::printf("test_hostile: %d hostile model files\n", hostile_files);
    return ednn_test::finish("test_hostile");
}
