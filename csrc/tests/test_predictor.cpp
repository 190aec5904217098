// The predictor through the header-only C++ wrapper (ednn.hpp) and the C API (ednn.h), on the
// exact Ising model: energies against a direct nearest-neighbour sum, local (tile subset)
// evaluation, options, and the errors and messages of bad inputs.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "ednn/ednn.hpp"

namespace {

std::string model_path, work_dir;

// -J sum over bonds, each counted once, periodic (J = 1): the exact model's energy.
double ising_energy(const std::vector<int8_t>& s, int64_t rows, int64_t cols) {
    double e = 0;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            e -= s[i * cols + j] * (s[i * cols + (j + 1) % cols] + s[((i + 1) % rows) * cols + j]);
    return e;
}

std::vector<int8_t> random_spins(std::mt19937& rng, int64_t n) {
    std::vector<int8_t> s(static_cast<size_t>(n));
    for (auto& x : s) x = (rng() & 1) ? 1 : -1;
    return s;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string write_file(const std::string& name, const std::string& bytes) {
    const std::string path = work_dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// The model file with `from` replaced by `to` (same length, so the protobuf stays valid).
std::string patched_model(const std::string& name, const std::string& from, const std::string& to) {
    std::string bytes = read_file(model_path);
    const size_t pos = bytes.find(from);
    if (pos == std::string::npos || from.size() != to.size()) return "";
    bytes.replace(pos, from.size(), to);
    return write_file(name, bytes);
}

void test_metadata() {
    ednn::Predictor p(model_path);
    CHECK(p.ndim() == 2);
    CHECK(p.focus() == (std::vector<int64_t>{1, 1}));
    CHECK(p.context() == (std::vector<int64_t>{1, 1}));
    CHECK(p.tile() == (std::vector<int64_t>{3, 3}));
    CHECK(p.channels() == 1);
    CHECK(p.outputs() == std::vector<std::string>{"energy"});
    CHECK(p.metadata("ednn.units").value_or("") == "J");
    CHECK(!p.metadata("ednn.no-such-key").has_value());
    CHECK(p.provider() == "CPUExecutionProvider" || p.provider() == "CUDAExecutionProvider");
    CHECK(!p.onnxruntime_version().empty());
    CHECK(ednn_test::contains(p.onnxruntime_library(), "onnxruntime"));
    CHECK(!ednn::version().empty());
    CHECK(p.tile_count({6, 10}) == 60);
}

void test_energies() {
    std::mt19937 rng(7);
    ednn::Predictor p(model_path);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{16, 16}, {6, 10}, {1, 1}, {2, 3}, {40, 24}}) {
        const auto s = random_spins(rng, rows * cols);
        const double want = ising_energy(s, rows, cols);
        CHECK_MSG(p.predict_scalar(s, {rows, cols}) == want, std::to_string(rows) + "x" + std::to_string(cols));
        // other element types give the same energy
        std::vector<float> f(s.begin(), s.end());
        std::vector<double> d(s.begin(), s.end());
        std::vector<int32_t> i32(s.begin(), s.end());
        std::vector<int64_t> i64(s.begin(), s.end());
        std::vector<int16_t> i16(s.begin(), s.end());
        CHECK(p.predict_scalar(f, {rows, cols}) == want);
        CHECK(p.predict_scalar(d, {rows, cols}) == want);
        CHECK(p.predict_scalar(i32, {rows, cols}) == want);
        CHECK(p.predict_scalar(i64, {rows, cols}) == want);
        CHECK(p.predict_scalar(i16, {rows, cols}) == want);
    }
    // a batch (B, S_1, S_2)
    std::vector<int8_t> batch;
    std::vector<double> want;
    for (int b = 0; b < 3; ++b) {
        const auto s = random_spins(rng, 8 * 8);
        want.push_back(ising_energy(s, 8, 8));
        batch.insert(batch.end(), s.begin(), s.end());
    }
    CHECK(p.predict(batch, {3, 8, 8}) == want);
    CHECK(p.predict(std::vector<int8_t>{}, {0, 8, 8}).empty());
    // small batches of tiles (several ONNX Runtime calls, cut while the previous one runs) and
    // explicit threads give the same sums
    const auto s = random_spins(rng, 32 * 32);
    for (int64_t bs : {1, 7, 100, 5000}) {
        ednn::PredictorOptions o;
        o.batch_size = bs;
        o.threads = 1;
        o.provider = ednn::Provider::CPU;
        ednn::Predictor q(model_path, o);
        CHECK_MSG(q.predict_scalar(s, {32, 32}) == ising_energy(s, 32, 32), "batch_size " + std::to_string(bs));
        CHECK(q.provider() == "CPUExecutionProvider");
    }
    // several threads sharing one predictor
    std::vector<double> got(4, 0.0);
    std::vector<std::thread> pool;
    for (size_t t = 0; t < got.size(); ++t) pool.emplace_back([&, t] { got[t] = p.predict_scalar(s, {32, 32}); });
    for (auto& th : pool) th.join();
    for (double g : got) CHECK(g == ising_energy(s, 32, 32));
}

void test_local() {
    std::mt19937 rng(11);
    ednn::Predictor p(model_path);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{12, 9}, {2, 2}, {1, 5}}) {
        auto s = random_spins(rng, rows * cols);
        const std::vector<int64_t> shape{rows, cols};
        const int64_t n = rows * cols;
        // all tiles listed == the whole grid
        std::vector<int64_t> all(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
        CHECK(p.predict_tiles(s, shape, all)[0] == p.predict_scalar(s, shape));
        const auto values = p.tile_values(s, shape, all);
        double sum = 0;
        for (double v : values) sum += v;
        CHECK(sum == p.predict_scalar(s, shape));
        for (int64_t x = 0; x < rows; ++x)
            for (int64_t y = 0; y < cols; ++y) {
                const auto touched = p.tiles_touching(shape, {x, y});
                // brute force: tile (a, b) covers rows a-1..a+1 and columns b-1..b+1, wrapped
                std::vector<int64_t> want;
                for (int64_t a = 0; a < rows; ++a)
                    for (int64_t b = 0; b < cols; ++b) {
                        const bool in_rows = ((x - a + 1) % rows + rows) % rows < 3 || rows < 3;
                        const bool in_cols = ((y - b + 1) % cols + cols) % cols < 3 || cols < 3;
                        if (in_rows && in_cols) want.push_back(a * cols + b);
                    }
                CHECK_MSG(touched == want, "site " + std::to_string(x) + "," + std::to_string(y));
                // a flip changes the energy by exactly the change of the touched tiles' sum
                const double before = p.predict_scalar(s, shape), local_before = p.predict_tiles(s, shape, touched)[0];
                s[static_cast<size_t>(x * cols + y)] = static_cast<int8_t>(-s[static_cast<size_t>(x * cols + y)]);
                const double after = p.predict_scalar(s, shape), local_after = p.predict_tiles(s, shape, touched)[0];
                CHECK(after - before == local_after - local_before);
                CHECK(after == ising_energy(s, rows, cols));
            }
    }
    // a repeated index counts twice; an empty list sums to zero
    const std::vector<int8_t> up(16, 1);
    CHECK(p.predict_tiles(up, {4, 4}, {5, 5})[0] == -4.0);
    CHECK(p.predict_tiles(up, {4, 4}, {})[0] == 0.0);
}

void test_errors() {
    CHECK_THROWS(ednn::Predictor("/no/such/model.onnx"), ednn::InputError,
                 "model: expected an existing ONNX file, got '/no/such/model.onnx' (no such file)");
    const std::string garbage = write_file("garbage.onnx", "this is not an ONNX file");
    CHECK_THROWS(ednn::Predictor(garbage), ednn::ModelFileError, "is not a readable ONNX model");
    const std::string no_meta = patched_model("not-ednn.onnx", "ednn.format_version", "xxxx.format_version");
    CHECK(!no_meta.empty());
    CHECK_THROWS(ednn::Predictor(no_meta), ednn::ModelFileError,
                 "is not an EDNN model file: metadata key 'ednn.format_version' is missing");
    const std::string focus2 = patched_model("focus2.onnx", std::string("ednn.focus\x12\x01" "1", 13),
                                             std::string("ednn.focus\x12\x01" "2", 13));
    CHECK(!focus2.empty());
    CHECK_THROWS(ednn::Predictor(focus2), ednn::ModelFileError,
                 "model input: axis 2 has size 3, expected 4 from the metadata (channels=1, tile=(4, 4))");
    const std::string version2 = patched_model("version2.onnx", std::string("ednn.format_version\x12\x01" "1", 22),
                                               std::string("ednn.format_version\x12\x01" "2", 22));
    CHECK_THROWS(ednn::Predictor(version2), ednn::ModelFileError, "metadata ednn.format_version: expected '1', got '2'");
    const std::string bad_focus = patched_model("badfocus.onnx", std::string("ednn.focus\x12\x01" "1", 13),
                                                std::string("ednn.focus\x12\x01" "x", 13));
    CHECK_THROWS(ednn::Predictor(bad_focus), ednn::ModelFileError,
                 "metadata ednn.focus: expected comma-separated non-negative integers (ASCII digits), got 'x'");
    {
        ednn::PredictorOptions o;
        o.onnxruntime_library = "/no/such/libonnxruntime.so";
        CHECK_THROWS(ednn::Predictor(model_path, o), ednn::RuntimeError, "could not load '/no/such/libonnxruntime.so'");
    }
    {
        ednn::PredictorOptions o;
        o.provider = ednn::Provider::CUDA;
        try {
            ednn::Predictor q(model_path, o);
            CHECK(q.provider() == "CUDAExecutionProvider");
        } catch (const ednn::RuntimeError& e) {
            CHECK(e.status() == EDNN_ERROR_UNSUPPORTED);
            CHECK(ednn_test::contains(e.what(), "CUDA was requested"));
        }
    }

    ednn::Predictor p(model_path);
    const std::vector<int8_t> s(16 * 16, 1);
    CHECK_THROWS(p.predict(s, {256}), ednn::InputError,
                 "grid: expected 2 axes (S_1..S_d) or 3 with a leading batch axis for a model with ndim=2 and 1 "
                 "channel(s), got shape (256,)");
    CHECK_THROWS(p.predict(s, {1, 1, 16, 16}), ednn::InputError, "got shape (1, 1, 16, 16)");
    CHECK_THROWS(p.predict(std::vector<int8_t>{}, {0, 16}), ednn::InputError,
                 "grid: size 0 of spatial axis 0 is not a multiple of the focus 1");
    CHECK_THROWS(p.predict(s, {16, 15}), ednn::InputError, "grid: expected 240 values for shape (16, 15), got 256");
    CHECK_THROWS(p.predict_tiles(s, {2, 16, 8}, {0}), ednn::InputError, "(one grid, no batch axis)");
    CHECK_THROWS(p.predict_tiles(s, {16, 16}, {256}), ednn::InputError,
                 "tiles: expected indices in [0, 256), got 256 at position 0");
    CHECK_THROWS(p.tiles_touching({16, 16}, {3, 16}), ednn::InputError, "site: expected 0 <= site[1] < 16, got 16");
    CHECK_THROWS(p.tiles_touching({16, 16}, {3}), ednn::InputError, "site: expected 2 coordinates, got 1");
    std::vector<float> f(16, 1.0f);
    f[2 * 4 + 3] = std::nanf("");
    CHECK_THROWS(p.predict(f, {4, 4}), ednn::InputError, "grid: expected finite values, got nan at index (2, 3)");
    CHECK_THROWS(p.predict(f, {1, 4, 4}), ednn::InputError, "got nan at index (0, 2, 3)");
    CHECK_THROWS(p.predict_tiles(f, {4, 4}, {0, 15}), ednn::InputError, "got nan at index (2, 3)");
    std::vector<double> d(16, 1.0);
    d[5] = -HUGE_VAL;
    CHECK_THROWS(p.predict(d, {4, 4}), ednn::InputError, "got -inf at index (1, 1)");

    // moved-from predictors fail cleanly
    ednn::Predictor q = std::move(p);
    CHECK(q.ndim() == 2);
    CHECK_THROWS(p.ndim(), ednn::InputError, "predictor: null handle");  // NOLINT(bugprone-use-after-move)
}

void test_c_api() {
    char* err = nullptr;
    ednn_predictor* p = nullptr;
    CHECK(ednn_predictor_create("/no/such.onnx", nullptr, &p, &err) == EDNN_ERROR_INPUT);
    CHECK(p == nullptr);
    CHECK(err && ednn_test::contains(err, "no such file"));
    ednn_string_free(err);
    // no message wanted
    CHECK(ednn_predictor_create("/no/such.onnx", nullptr, &p, nullptr) == EDNN_ERROR_INPUT);
    CHECK(ednn_predictor_create(nullptr, nullptr, &p, nullptr) == EDNN_ERROR_INPUT);
    CHECK(ednn_predictor_create(model_path.c_str(), nullptr, nullptr, nullptr) == EDNN_ERROR_INPUT);

    CHECK(ednn_predictor_create(model_path.c_str(), nullptr, &p, &err) == EDNN_OK);
    CHECK(err == nullptr);
    const int8_t spins[4] = {1, 1, 1, 1};
    const int64_t shape[2] = {2, 2};
    double out[2] = {0, 0};
    CHECK(ednn_predictor_predict(p, spins, EDNN_INT8, shape, 2, out, 0, &err) == EDNN_ERROR_INPUT);
    CHECK(err && ednn_test::contains(err, "out: expected room for 1 values, got 0"));
    ednn_string_free(err);
    CHECK(ednn_predictor_predict(p, spins, static_cast<ednn_dtype>(99), shape, 2, out, 1, &err) == EDNN_ERROR_INPUT);
    CHECK(err && ednn_test::contains(err, "dtype: expected one of"));
    ednn_string_free(err);
    CHECK(ednn_predictor_predict(p, nullptr, EDNN_INT8, shape, 2, out, 1, &err) == EDNN_ERROR_INPUT);
    ednn_string_free(err);
    CHECK(ednn_predictor_predict(p, spins, EDNN_INT8, nullptr, 2, out, 1, &err) == EDNN_ERROR_INPUT);
    ednn_string_free(err);
    CHECK(ednn_predictor_predict(p, spins, EDNN_INT8, shape, 2, out, 1, &err) == EDNN_OK);
    CHECK(out[0] == -8.0);  // 2x2 periodic: each of the 4 tiles sees 2 aligned neighbours
    size_t count = 0;
    const int64_t site[2] = {0, 0};
    CHECK(ednn_predictor_tiles_touching(p, shape, 2, site, nullptr, 0, &count, nullptr) == EDNN_OK);
    CHECK(count == 4);
    int64_t few[2];
    CHECK(ednn_predictor_tiles_touching(p, shape, 2, site, few, 2, &count, &err) == EDNN_ERROR_INPUT);
    CHECK(err && ednn_test::contains(err, "tiles: expected room for 4 indices, got 2"));
    ednn_string_free(err);
    CHECK(ednn_predictor_geometry(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &err) == EDNN_ERROR_INPUT);
    CHECK(err && ednn_test::contains(err, "predictor: null handle"));
    ednn_string_free(err);
    const char* name = nullptr;
    CHECK(ednn_predictor_output_name(p, 1, &name, &err) == EDNN_ERROR_INPUT);
    ednn_string_free(err);
    CHECK(ednn_predictor_output_name(p, 0, &name, nullptr) == EDNN_OK && std::string(name) == "energy");
    ednn_predictor_free(p);
    ednn_predictor_free(nullptr);

    ednn_options* o = nullptr;
    CHECK(ednn_options_create(&o, nullptr) == EDNN_OK);
    CHECK(ednn_options_set_threads(o, -1, &err) == EDNN_ERROR_INPUT);
    CHECK(err && ednn_test::contains(err, "threads: expected a positive int or 0"));
    ednn_string_free(err);
    CHECK(ednn_options_set_device(o, static_cast<ednn_device>(7), nullptr) == EDNN_ERROR_INPUT);
    CHECK(ednn_options_set_batch_size(o, -5, nullptr) == EDNN_ERROR_INPUT);
    CHECK(ednn_options_set_threads(nullptr, 1, nullptr) == EDNN_ERROR_INPUT);
    ednn_options_free(o);
    CHECK(std::string(ednn_status_name(EDNN_ERROR_MODEL_FILE)) == "EDNN_ERROR_MODEL_FILE");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.onnx WORK_DIR\n", argv[0]);
        return 2;
    }
    model_path = argv[1];
    work_dir = argv[2];
    try {
        test_metadata();
        test_energies();
        test_local();
        test_errors();
        test_c_api();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test_predictor: unexpected exception: %s\n", e.what());
        return 1;
    }
    return ednn_test::finish("test_predictor");
}
