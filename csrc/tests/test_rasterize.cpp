// ednn::rasterize against stored term-by-term NumPy sums (data/rasterize_reference.txt, written by
// make_raster_reference.py): full grids and wrapping windows, d = 2 and 3, float32 and float64,
// independent of the thread count; and the messages of ednn::validate(RasterGrid).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "ednn/build_info.hpp"
#include "ednn/rasterize.hpp"

namespace {

struct Case {
    std::string name;
    ednn::RasterGrid grid;
    std::vector<double> positions, numbers, values;
};

std::vector<double> read_tagged(const std::string& line, const char* tag) {
    std::istringstream in(line);
    std::string word;
    in >> word;
    if (word != tag) throw std::runtime_error(std::string("reference file: expected '") + tag + "', got '" + word + "'");
    std::vector<double> v;
    double x;
    while (in >> x) v.push_back(x);
    return v;
}

std::vector<Case> load(const std::string& path) {
    std::ifstream file(path);
    if (!file) throw std::runtime_error("cannot open " + path);
    std::vector<Case> cases;
    std::string line;
    while (std::getline(file, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream in(line);
        std::string w;
        Case c;
        ednn::RasterGrid& g = c.grid;
        int64_t n_atoms = 0;
        in >> w >> c.name >> w >> g.ndim >> w;
        for (int k = 0; k < g.ndim; ++k) in >> g.cell[k];
        in >> w;
        for (int k = 0; k < g.ndim; ++k) in >> g.shape[k];
        in >> w;
        for (int k = 0; k < g.ndim; ++k) in >> g.origin[k];
        in >> w;
        for (int k = 0; k < g.ndim; ++k) in >> g.window[k];
        in >> w >> g.gamma >> w >> g.elem_size >> w >> n_atoms;
        if (!in) throw std::runtime_error("reference file: bad case line: " + line);
        std::string p, z, v;
        std::getline(file, p);
        std::getline(file, z);
        std::getline(file, v);
        c.positions = read_tagged(p, "positions");
        c.numbers = read_tagged(z, "numbers");
        c.values = read_tagged(v, "values");
        if (static_cast<int64_t>(c.numbers.size()) != n_atoms ||
            static_cast<int64_t>(c.positions.size()) != n_atoms * g.ndim ||
            static_cast<int64_t>(c.values.size()) != g.window_points())
            throw std::runtime_error("reference file: inconsistent sizes in case " + c.name);
        cases.push_back(std::move(c));
    }
    return cases;
}

std::vector<double> run(const Case& c, int threads) {
    const int64_t n = c.grid.window_points();
    const int64_t atoms = static_cast<int64_t>(c.numbers.size());
    std::vector<double> out(static_cast<size_t>(n));
    if (c.grid.elem_size == 8) {
        std::vector<double> o(static_cast<size_t>(n), -1.0);
        ednn::rasterize(c.positions.data(), c.numbers.data(), atoms, c.grid, o.data(), ednn::Device::CPU, threads);
        out = o;
    } else {
        std::vector<float> o(static_cast<size_t>(n), -1.0f);
        ednn::rasterize(c.positions.data(), c.numbers.data(), atoms, c.grid, o.data(), ednn::Device::CPU, threads);
        out.assign(o.begin(), o.end());
    }
    return out;
}

void check_case(const Case& c) {
    double scale = 1.0;
    for (double v : c.values) scale = std::max(scale, std::fabs(v));
    // float64: the kernel's exponential recurrences cost a few ulp per term; float32: one rounding
    const double tol = (c.grid.elem_size == 8 ? 1e-11 : 2e-7) * scale;
    const std::vector<double> one = run(c, 1);
    double worst = 0;
    for (size_t i = 0; i < one.size(); ++i) worst = std::max(worst, std::fabs(one[i] - c.values[i]));
    char detail[160];
    std::snprintf(detail, sizeof detail, "%s: largest difference %.3g, tolerance %.3g", c.name.c_str(), worst, tol);
    CHECK_MSG(worst <= tol, detail);
    for (int threads : {2, 3, 0}) CHECK_MSG(run(c, threads) == one, c.name + ": differs with threads=" + std::to_string(threads));
}

void check_validation() {
    auto grid = [] {
        ednn::RasterGrid g;
        g.ndim = 2;
        g.cell[0] = g.cell[1] = 2.0;
        g.shape[0] = g.shape[1] = 4;
        g.window[0] = g.window[1] = 4;
        g.gamma = 0.3;
        g.elem_size = 8;
        return g;
    };
    ednn::RasterGrid g = grid();
    g.ndim = 1;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "shape: expected 2 or 3 axes, got 1");
    g = grid();
    g.elem_size = 2;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "out: expected float32 or float64 elements");
    g = grid();
    g.gamma = 0;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "gamma: expected a finite value > 0");
    // below 1e-6, 1 / (2 gamma^2) overflows for small enough gamma and an atom on a grid point gives nan
    g = grid();
    g.gamma = 1e-160;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "gamma: expected at least 1e-06");
    g.gamma = 9.99e-7;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "gamma: expected at least 1e-06");
    g.gamma = 1e-6;
    ednn::validate(g);
    {
        double v[16];
        const double origin[2] = {0.0, 0.0};
        const double one[1] = {1.0};
        ednn::rasterize(origin, one, 1, g, v, ednn::Device::CPU);
        CHECK(v[0] == 1.0);
        for (int i = 1; i < 16; ++i) CHECK(v[i] == 0.0);
        CHECK_THROWS(ednn::rasterize(origin, one, 1, g, v, ednn::Device::CPU, ednn::max_threads() + 1),
                     std::invalid_argument, "threads: expected at most ");
    }
    g = grid();
    g.cell[1] = -1;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "cell: expected a finite length > 0 on axis 1");
    g = grid();
    g.window[0] = -1;
    CHECK_THROWS(ednn::validate(g), std::invalid_argument, "window_shape: expected 0 <= size");
    g = grid();
    double out[16];
    const double pos[2] = {0.5, std::numeric_limits<double>::quiet_NaN()};
    const double z[1] = {1.0};
    CHECK_THROWS(ednn::rasterize(pos, z, 1, g, out, ednn::Device::CPU), std::invalid_argument,
                 "positions: expected finite coordinates");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s rasterize_reference.txt\n", argv[0]);
        return 2;
    }
    try {
        const auto cases = load(argv[1]);
        CHECK(cases.size() >= 5);
        for (const auto& c : cases) check_case(c);
        check_validation();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test_rasterize: %s\n", e.what());
        return 1;
    }
    return ednn_test::finish("test_rasterize");
}
