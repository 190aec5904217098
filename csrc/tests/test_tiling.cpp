// ednn::tile against stored outputs of the pure-NumPy reference tiler (data/tiling_reference.txt,
// written by make_tiling_reference.py), for whole grids, tile ranges and thread counts; and the
// messages of ednn::validate.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "ednn/build_info.hpp"
#include "ednn/tiling.hpp"

namespace {

struct Case {
    std::string name, view;
    int64_t elem_size = 0;
    int ndim = 0;
    std::vector<int64_t> lead, size, focus, context;
    std::vector<unsigned char> grid, tiles;
};

std::vector<int64_t> read_ints(std::istringstream& in, size_t n) {
    std::vector<int64_t> v(n);
    for (auto& x : v) in >> x;
    return v;
}

std::vector<unsigned char> read_hex(std::istringstream& in, const char* tag, int64_t elem_size) {
    std::string word;
    size_t n = 0;
    in >> word >> n;
    if (word != tag) throw std::runtime_error(std::string("reference file: expected '") + tag + "', got '" + word + "'");
    std::vector<unsigned char> bytes;
    bytes.reserve(n * static_cast<size_t>(elem_size));
    std::string h;
    for (size_t i = 0; i < n; ++i) {
        in >> h;
        if (h.size() != static_cast<size_t>(2 * elem_size)) throw std::runtime_error("reference file: bad element " + h);
        for (size_t j = 0; j < h.size(); j += 2) bytes.push_back(static_cast<unsigned char>(std::stoi(h.substr(j, 2), nullptr, 16)));
    }
    return bytes;
}

std::vector<Case> load(const std::string& path) {
    std::ifstream file(path);
    if (!file) throw std::runtime_error("cannot open " + path);
    std::vector<Case> cases;
    std::string line;
    while (std::getline(file, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream in(line);
        std::string word;
        Case c;
        size_t n_lead = 0;
        in >> word >> c.name >> word >> c.elem_size >> word >> c.ndim >> word >> n_lead;
        c.lead = read_ints(in, n_lead);
        in >> word;
        c.size = read_ints(in, static_cast<size_t>(c.ndim));
        in >> word;
        c.focus = read_ints(in, static_cast<size_t>(c.ndim));
        in >> word;
        c.context = read_ints(in, static_cast<size_t>(c.ndim));
        in >> word >> c.view;
        std::string g, t;
        std::getline(file, g);
        std::getline(file, t);
        std::istringstream gin(g), tin(t);
        c.grid = read_hex(gin, "grid", c.elem_size);
        c.tiles = read_hex(tin, "tiles", c.elem_size);
        cases.push_back(std::move(c));
    }
    return cases;
}

// The layout of the case's view of its base array, and the address of the view's first element.
ednn::TileLayout layout_of(const Case& c, const unsigned char* base, const unsigned char** origin) {
    ednn::TileLayout L;
    L.ndim = c.ndim;
    L.elem_size = c.elem_size;
    const int d = c.ndim;
    std::vector<int64_t> st(static_cast<size_t>(d));
    int64_t stride = c.elem_size;
    for (int k = d - 1; k >= 0; --k) {
        st[static_cast<size_t>(k)] = stride;
        stride *= c.size[static_cast<size_t>(k)];
    }
    std::vector<int64_t> lst(c.lead.size());
    for (size_t i = c.lead.size(); i-- > 0;) {
        lst[i] = stride;
        stride *= c.lead[i];
    }
    std::vector<int64_t> sz = c.size;
    *origin = base;
    if (c.view == "flip") {
        *origin = base + (sz[static_cast<size_t>(d - 1)] - 1) * st[static_cast<size_t>(d - 1)];
        st[static_cast<size_t>(d - 1)] = -st[static_cast<size_t>(d - 1)];
    } else if (c.view == "transpose") {
        std::swap(sz[static_cast<size_t>(d - 1)], sz[static_cast<size_t>(d - 2)]);
        std::swap(st[static_cast<size_t>(d - 1)], st[static_cast<size_t>(d - 2)]);
    } else if (c.view == "step2") {
        sz[static_cast<size_t>(d - 1)] /= 2;
        st[static_cast<size_t>(d - 1)] *= 2;
    } else if (c.view != "none") {
        throw std::runtime_error("unknown view " + c.view);
    }
    for (int k = 0; k < d; ++k) {
        L.size[k] = sz[static_cast<size_t>(k)];
        L.stride[k] = st[static_cast<size_t>(k)];
        L.focus[k] = c.focus[static_cast<size_t>(k)];
        L.context[k] = c.context[static_cast<size_t>(k)];
    }
    L.lead_shape = c.lead;
    L.lead_strides = lst;
    ednn::simplify_lead(L);
    ednn::validate(L);
    return L;
}

void check_case(const Case& c) {
    const unsigned char* origin = nullptr;
    const ednn::TileLayout L = layout_of(c, c.grid.data(), &origin);
    const int64_t n = L.n_tiles();
    const size_t per_tile = static_cast<size_t>(L.lead_elements() * L.tile_elements() * c.elem_size);
    CHECK_MSG(per_tile * static_cast<size_t>(n) == c.tiles.size(), c.name);
    if (per_tile * static_cast<size_t>(n) != c.tiles.size()) return;
    for (int threads : {1, 2, 0}) {
        std::vector<unsigned char> out(c.tiles.size(), 0xAB);
        ednn::tile(origin, out.data(), L, 0, n, ednn::Device::CPU, threads);
        CHECK_MSG(out == c.tiles, c.name + " whole grid, threads=" + std::to_string(threads));
    }
    // ranges: every single tile, and uneven chunks
    for (int64_t chunk : {int64_t{1}, int64_t{3}, (n + 1) / 2}) {
        bool ok = true;
        for (int64_t first = 0; first < n; first += chunk) {
            const int64_t count = std::min(chunk, n - first);
            std::vector<unsigned char> out(per_tile * static_cast<size_t>(count), 0xCD);
            ednn::tile(origin, out.data(), L, first, count, ednn::Device::CPU, 1);
            ok = ok && std::memcmp(out.data(), c.tiles.data() + per_tile * static_cast<size_t>(first), out.size()) == 0;
        }
        CHECK_MSG(ok, c.name + " in chunks of " + std::to_string(chunk));
    }
}

void check_validation() {
    float grid[16] = {};
    float out[64] = {};
    auto layout = [] {
        ednn::TileLayout L;
        L.ndim = 2;
        L.elem_size = 4;
        L.size[0] = 4;
        L.size[1] = 4;
        L.stride[0] = 16;
        L.stride[1] = 4;
        return L;
    };
    ednn::TileLayout L = layout();
    L.focus[1] = 3;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "size 4 on spatial axis 1 is not a multiple of the focus 3");
    L = layout();
    L.focus[0] = 0;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "focus: expected >= 1 on spatial axis 0, got 0");
    L = layout();
    L.context[1] = -1;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "context: expected >= 0");
    L = layout();
    L.elem_size = 3;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "element size of 1, 2, 4, 8 or 16 bytes, got 3");
    L = layout();
    L.ndim = 4;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "ndim: expected 1, 2 or 3 spatial axes, got 4");
    L = layout();
    CHECK_THROWS(ednn::tile(grid, out, L, 10, 7, ednn::Device::CPU), std::invalid_argument,
                 "tile range: expected [first, first + count) within [0, 16), got first=10 count=7");
    CHECK_THROWS(ednn::tile(nullptr, out, L, 0, 1, ednn::Device::CPU), std::invalid_argument, "null pointer");
    // a count of zero touches nothing
    ednn::tile(nullptr, nullptr, L, 0, 0, ednn::Device::CPU);
    CHECK(true);
    // tile extents and products beyond int64 are refused, not overflowed (UBSan)
    L = layout();
    L.context[0] = int64_t{1} << 62;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "context: 4611686018427387904 on spatial axis 0 makes a tile wider than 2^63 cells");
    L = layout();
    L.ndim = 3;
    L.size[2] = 4;
    L.stride[2] = 4;
    for (int k = 0; k < 3; ++k) L.context[k] = int64_t{1} << 30;
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "grid: more than 2^63 tiles or cells per tile");
    L = layout();
    L.lead_shape = {int64_t{1} << 40, int64_t{1} << 40};
    L.lead_strides = {64, 64};
    CHECK_THROWS(ednn::validate(L), std::invalid_argument, "grid: more than 2^63 elements along the lead axes");
    // threads: at most ednn::max_threads() (kThreadsPerCore per core)
    L = layout();
    CHECK(ednn::max_threads() >= ednn::kThreadsPerCore && ednn::max_threads() % ednn::kThreadsPerCore == 0);
    CHECK_THROWS(ednn::tile(grid, out, L, 0, 1, ednn::Device::CPU, ednn::max_threads() + 1), std::invalid_argument,
                 "threads: expected at most ");
    CHECK_THROWS(ednn::tile(grid, out, L, 0, 1, ednn::Device::CPU, 5000), std::invalid_argument, "per core), got 5000");
    ednn::tile(grid, out, L, 0, 1, ednn::Device::CPU, ednn::max_threads());
    // simplify_lead merges contiguous lead axes and drops unit ones
    L = layout();
    L.lead_shape = {2, 1, 3};
    L.lead_strides = {3 * 64, 999, 64};
    ednn::simplify_lead(L);
    CHECK(L.lead_shape == std::vector<int64_t>{6});
    CHECK(L.lead_strides == std::vector<int64_t>{64});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s tiling_reference.txt\n", argv[0]);
        return 2;
    }
    try {
        const auto cases = load(argv[1]);
        CHECK(cases.size() >= 10);
        for (const auto& c : cases) check_case(c);
        check_validation();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test_tiling: %s\n", e.what());
        return 1;
    }
    return ednn_test::finish("test_tiling");
}
