// Metropolis Monte Carlo of a flat atomic sheet with EDNN energies, re-evaluating only what a move
// changes: the C++ counterpart of ednn.mc (Python).
//
// The Eq. 2 image of the sheet is kept as one float32 grid. A move of atom i changes the image only
// within the rasterizer's cutoff of its old and new positions: those pixel boxes are rasterized
// again (ednn::rasterize, window mode, from the atoms whose stencil reaches them), and only the
// tiles whose window contains a changed pixel are evaluated again (Predictor::tile_values); every
// tile's contribution is kept, so a step costs the same whatever the size of the sheet.
//
//   sheet_mc MODEL INPUT [--temperature T] [--threads N] [--check-every K]
//   sheet_mc --help
//
// INPUT (text): "cell Lx Ly", "atoms n" then n lines "Z x y z", "moves m" then m lines
// "i dx dy u": move atom i by (dx, dy) in the plane, accepted when u < exp(-dE / kT). The random
// numbers come from the file so that another implementation (ednn.mc) can replay the same chain.
// Prints one line per move: "step accepted energy" (eV, %.17g). Exit status: 0 success, 1 a
// check failed, 2 bad usage or an ednn error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <ednn/ednn.hpp>
#include <ednn/rasterize.hpp>

namespace {

const char* const kUsage =
    "usage: sheet_mc MODEL INPUT [--temperature T] [--threads N] [--check-every K]\n"
    "  MODEL            a 2-D one-channel EDNN sheets model with ednn.spacing and ednn.gamma (eV)\n"
    "  INPUT            cell, atoms and moves (see the top of sheet_mc.cpp)\n"
    "  --temperature T  in K (default 1000)\n"
    "  --threads N      ONNX Runtime / rasterizer threads (default 1)\n"
    "  --check-every K  compare the running energy with a full evaluation every K moves (default 0: never)\n";

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr, "sheet_mc: %s\n%s", why.c_str(), kUsage);
    std::exit(2);
}

struct Move {
    int64_t atom;
    double dx, dy, u;
};

struct Input {
    double cell[2] = {0, 0};
    std::vector<double> xy;       // [n, 2]
    std::vector<double> numbers;  // [n]
    std::vector<Move> moves;
};

Input read_input(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("INPUT: expected a readable file, got '" + path + "'");
    Input r;
    std::string word;
    int64_t n = 0, m = 0;
    if (!(in >> word >> r.cell[0] >> r.cell[1]) || word != "cell") throw std::invalid_argument("INPUT: expected 'cell Lx Ly'");
    if (!(in >> word >> n) || word != "atoms" || n < 1) throw std::invalid_argument("INPUT: expected 'atoms n'");
    for (int64_t i = 0; i < n; ++i) {
        double z, x, y, h;
        if (!(in >> z >> x >> y >> h)) throw std::invalid_argument("INPUT: expected 'Z x y z' for atom " + std::to_string(i));
        r.numbers.push_back(z);
        r.xy.push_back(x);
        r.xy.push_back(y);
    }
    if (!(in >> word >> m) || word != "moves" || m < 0) throw std::invalid_argument("INPUT: expected 'moves m'");
    for (int64_t k = 0; k < m; ++k) {
        Move mv{};
        if (!(in >> mv.atom >> mv.dx >> mv.dy >> mv.u) || mv.atom < 0 || mv.atom >= n)
            throw std::invalid_argument("INPUT: expected 'i dx dy u' with 0 <= i < n for move " + std::to_string(k));
        r.moves.push_back(mv);
    }
    return r;
}

double metadata_number(const ednn::Predictor& p, const std::string& key, int index) {
    const auto text = p.metadata(key);
    if (!text) throw std::invalid_argument("model: expected " + key + " metadata");
    std::stringstream ss(*text);
    std::string part;
    std::vector<double> v;
    while (std::getline(ss, part, ',')) v.push_back(std::stod(part));
    return v.at(v.size() == 1 ? 0 : static_cast<size_t>(index));
}

class Sheet {
  public:
    Sheet(const ednn::Predictor& model, Input input, int threads)
        : model_(model), in_(std::move(input)), threads_(threads) {
        if (model.ndim() != 2 || model.channels() != 1 || model.n_outputs() != 1)
            throw std::invalid_argument("model: expected a 2-D one-channel model with one output");
        for (int k = 0; k < 2; ++k) {
            const double h = metadata_number(model, "ednn.spacing", k);
            shape_[k] = std::llround(in_.cell[k] / h);
            if (std::abs(in_.cell[k] / h - static_cast<double>(shape_[k])) > 1e-6 * in_.cell[k] / h ||
                shape_[k] % model.focus()[k])
                throw std::invalid_argument("cell: expected edges that are whole multiples of focus x spacing");
            n_tiles_[k] = shape_[k] / model.focus()[k];
            h_[k] = in_.cell[k] / static_cast<double>(shape_[k]);
        }
        gamma_ = metadata_number(model, "ednn.gamma", 0);
        rc_ = ednn::rasterize_cutoff(gamma_) * (1.0 + 1e-6);
        for (size_t i = 0; i < in_.xy.size(); ++i) in_.xy[i] = wrap(in_.xy[i], in_.cell[i % 2]);
        grid_.assign(static_cast<size_t>(shape_[0] * shape_[1]), 0.0f);
        raster(0, 0, shape_[0], shape_[1]);
        std::vector<int64_t> all(static_cast<size_t>(n_tiles_[0] * n_tiles_[1]));
        std::iota(all.begin(), all.end(), 0);
        contrib_ = model_.tile_values(grid_, shape(), all);
        energy_ = std::accumulate(contrib_.begin(), contrib_.end(), 0.0);
    }

    double energy() const { return energy_; }
    double x(int64_t i) const { return in_.xy[2 * static_cast<size_t>(i)]; }
    double y(int64_t i) const { return in_.xy[2 * static_cast<size_t>(i) + 1]; }
    std::vector<int64_t> shape() const { return {shape_[0], shape_[1]}; }

    double full_energy() const { return model_.predict(grid_, shape())[0]; }

    /// Energy change of moving atom i to (x, y); the move is applied, undo() takes it back.
    double move(int64_t i, double x, double y) {
        old_[0] = in_.xy[2 * i];
        old_[1] = in_.xy[2 * i + 1];
        atom_ = i;
        in_.xy[2 * i] = wrap(x, in_.cell[0]);
        in_.xy[2 * i + 1] = wrap(y, in_.cell[1]);
        std::set<int64_t> touched;
        const int64_t f[2] = {model_.focus()[0], model_.focus()[1]}, c[2] = {model_.context()[0], model_.context()[1]};
        for (const double* p : {old_, &in_.xy[2 * i]}) {
            int64_t lo[2], hi[2], t_lo[2], t_n[2];
            for (int k = 0; k < 2; ++k) {  // pixels within the cutoff, and the tiles whose window holds one
                lo[k] = static_cast<int64_t>(std::floor((p[k] - rc_) / h_[k])) + 1;
                hi[k] = static_cast<int64_t>(std::ceil((p[k] + rc_) / h_[k])) - 1;
                t_lo[k] = floor_div(lo[k] - f[k] - c[k] + 1 + f[k] - 1, f[k]);  // ceil((lo - f - c + 1) / f)
                t_n[k] = std::min(floor_div(hi[k] + c[k], f[k]) - t_lo[k] + 1, n_tiles_[k]);
            }
            boxes_.push_back({lo[0], lo[1], hi[0] - lo[0] + 1, hi[1] - lo[1] + 1});
            for (int64_t a = 0; a < t_n[0]; ++a)
                for (int64_t b = 0; b < t_n[1]; ++b)
                    touched.insert(mod(t_lo[0] + a, n_tiles_[0]) * n_tiles_[1] + mod(t_lo[1] + b, n_tiles_[1]));
        }
        for (const auto& box : boxes_) raster(box[0], box[1], box[2], box[3]);
        tiles_.assign(touched.begin(), touched.end());
        values_ = model_.tile_values(grid_, shape(), tiles_);
        double delta = 0.0;
        for (size_t k = 0; k < tiles_.size(); ++k) delta += values_[k] - contrib_[static_cast<size_t>(tiles_[k])];
        delta_ = delta;
        return delta;
    }

    void accept() {
        for (size_t k = 0; k < tiles_.size(); ++k) contrib_[static_cast<size_t>(tiles_[k])] = values_[k];
        energy_ += delta_;
        boxes_.clear();
    }

    void undo() {
        in_.xy[2 * atom_] = old_[0];
        in_.xy[2 * atom_ + 1] = old_[1];
        for (const auto& box : boxes_) raster(box[0], box[1], box[2], box[3]);
        boxes_.clear();
    }

  private:
    static double wrap(double v, double L) {
        double w = std::fmod(v, L);
        return w < 0 ? w + L : w;
    }
    static int64_t mod(int64_t a, int64_t n) { return ((a % n) + n) % n; }
    static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

    // rasterize the periodic pixel box [o0, o0 + w0) x [o1, o1 + w1) into the grid, from every atom
    // within the cutoff of it (in index order, as the Python side does)
    void raster(int64_t o0, int64_t o1, int64_t w0, int64_t w1) {
        w0 = std::min(w0, shape_[0]);
        w1 = std::min(w1, shape_[1]);
        std::vector<double> pos, z;
        const int64_t n = static_cast<int64_t>(in_.numbers.size());
        for (int64_t i = 0; i < n; ++i) {
            bool near = true;
            const int64_t o[2] = {o0, o1}, w[2] = {w0, w1};
            for (int k = 0; k < 2 && near; ++k) {
                const double lo = static_cast<double>(o[k]) * h_[k] - rc_;
                const double span = static_cast<double>(w[k] - 1) * h_[k] + 2 * rc_;
                near = span >= in_.cell[k] || wrap(in_.xy[2 * i + k] - lo, in_.cell[k]) <= span;
            }
            if (near) {
                pos.push_back(in_.xy[2 * i]);
                pos.push_back(in_.xy[2 * i + 1]);
                z.push_back(in_.numbers[static_cast<size_t>(i)]);
            }
        }
        ednn::RasterGrid g;
        g.ndim = 2;
        g.cell[0] = in_.cell[0];
        g.cell[1] = in_.cell[1];
        g.shape[0] = shape_[0];
        g.shape[1] = shape_[1];
        g.origin[0] = o0;
        g.origin[1] = o1;
        g.window[0] = w0;
        g.window[1] = w1;
        g.gamma = gamma_;
        g.elem_size = 4;
        std::vector<float> box(static_cast<size_t>(w0 * w1));
        ednn::rasterize(pos.data(), z.data(), static_cast<int64_t>(z.size()), g, box.data(), ednn::Device::CPU, threads_);
        for (int64_t a = 0; a < w0; ++a)
            for (int64_t b = 0; b < w1; ++b)
                grid_[static_cast<size_t>(mod(o0 + a, shape_[0]) * shape_[1] + mod(o1 + b, shape_[1]))] =
                    box[static_cast<size_t>(a * w1 + b)];
    }

    const ednn::Predictor& model_;
    Input in_;
    int threads_;
    int64_t shape_[2] = {0, 0}, n_tiles_[2] = {0, 0};
    double h_[2] = {0, 0}, gamma_ = 0.2, rc_ = 0.0;
    std::vector<float> grid_;
    std::vector<double> contrib_;
    double energy_ = 0.0;
    // the pending move
    int64_t atom_ = 0;
    double old_[2] = {0, 0};
    std::vector<std::vector<int64_t>> boxes_;
    std::vector<int64_t> tiles_;
    std::vector<double> values_;
    double delta_ = 0.0;
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> pos;
    double temperature = 1000.0;
    int threads = 1, check_every = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(arg + " needs a value");
            return argv[++i];
        };
        try {
            if (arg == "--help" || arg == "-h") {
                std::fputs(kUsage, stdout);
                return 0;
            } else if (arg == "--temperature") temperature = std::stod(value());
            else if (arg == "--threads") threads = std::stoi(value());
            else if (arg == "--check-every") check_every = std::stoi(value());
            else if (arg.rfind("--", 0) == 0) usage("unknown option " + arg);
            else pos.push_back(arg);
        } catch (const std::logic_error&) {
            usage("bad value for " + arg);
        }
    }
    if (pos.size() != 2) usage("expected MODEL INPUT");
    if (!(temperature > 0) || !std::isfinite(temperature)) usage("--temperature: expected a finite value > 0 K");
    try {
        ednn::PredictorOptions options;
        options.threads = threads;
        options.provider = ednn::Provider::CPU;
        const ednn::Predictor model(pos[0], options);
        Sheet sheet(model, read_input(pos[1]), threads);
        const double kT = 8.617333262e-5 * temperature;  // eV
        std::printf("0 1 %.17g\n", sheet.energy());
        const Input moves = read_input(pos[1]);
        for (size_t s = 0; s < moves.moves.size(); ++s) {
            const Move& mv = moves.moves[s];
            const double dE = sheet.move(mv.atom, sheet.x(mv.atom) + mv.dx, sheet.y(mv.atom) + mv.dy);
            const bool ok = dE <= 0 || mv.u < std::exp(-dE / kT);
            if (ok) {
                sheet.accept();
            } else {
                sheet.undo();
            }
            std::printf("%zu %d %.17g\n", s + 1, ok ? 1 : 0, sheet.energy());
            if (check_every > 0 && (s + 1) % static_cast<size_t>(check_every) == 0) {
                const double full = sheet.full_energy();
                if (std::abs(full - sheet.energy()) > 1e-9 * std::abs(full)) {
                    std::fprintf(stderr, "sheet_mc: step %zu: running energy %.17g differs from a full evaluation %.17g\n",
                                 s + 1, sheet.energy(), full);
                    return 1;
                }
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sheet_mc: error: %s\n", e.what());
        return 2;
    }
    return 0;
}
