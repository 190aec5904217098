// Metropolis Monte Carlo of the 2-D Ising model with energies from an EDNN model file.
//
// Each proposed spin flip re-evaluates only the tiles whose window contains the flipped spin
// (ednn::Predictor::tiles_touching + predict_tiles): for an f = c = 1 model that is 9 tiles,
// whatever the lattice size. The running energy is checked against a full re-evaluation of the
// lattice every --check-every sweeps.
//
//   ising_mc mc MODEL [--size L] [--sweeps N] [--temperature T] [--seed S] [--check-every K]
//                     [--tol R] [--full] [--threads N] [--device auto|cpu|cuda] [--onnxruntime PATH]
//   ising_mc energies MODEL GRIDS        energy of every grid of a reference file, one per line
//   ising_mc check MODEL GRIDS [--rtol R]  those energies against the ones stored in the file
//   ising_mc --help
//
// --threads defaults to 1: a single-flip update runs 9-tile batches, for which ONNX Runtime's
// intra-op threads add only synchronisation (on 2 cores its default ran at half the speed of one
// thread). Give --threads 0 (ONNX Runtime's default) or more for large full evaluations.
//
// Exit status: 0 success, 1 a check failed, 2 bad usage or an ednn error (message on stderr).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <ednn/ednn.hpp>

namespace {

struct Args {
    std::string command, model, grids;
    int64_t size = 16;
    int sweeps = 200;
    double temperature = 2.269;
    uint64_t seed = 1;
    int check_every = 10;
    double tol = 1e-9;
    bool full = false;
    ednn::PredictorOptions options = one_thread();

    static ednn::PredictorOptions one_thread() {
        ednn::PredictorOptions o;
        o.threads = 1;
        return o;
    }
};

const char* const kUsage =
    "usage: ising_mc mc MODEL [--size L] [--sweeps N] [--temperature T] [--seed S]\n"
    "                         [--check-every K] [--tol R] [--full] [--threads N]\n"
    "                         [--device auto|cpu|cuda] [--onnxruntime PATH]\n"
    "       ising_mc energies MODEL GRIDS\n"
    "       ising_mc check MODEL GRIDS [--rtol R]\n"
    "\n"
    "  mc        Metropolis Monte Carlo with EDNN energies, 9 tiles re-evaluated per flip\n"
    "  energies  print the energy of every grid of a reference file\n"
    "  check     compare those energies with the ones stored in the file\n"
    "\n"
    "  --size L          lattice edge (default 16)          --sweeps N       sweeps (default 200)\n"
    "  --temperature T   in J/k_B (default 2.269)           --seed S         RNG seed (default 1)\n"
    "  --check-every K   full re-evaluation every K sweeps (default 10; 0: never)\n"
    "  --tol R, --rtol R relative tolerance of the checks (default 1e-9)\n"
    "  --full            re-evaluate the whole lattice per flip (the slow reference)\n"
    "  --threads N       ONNX Runtime threads (default 1; 0: its own default)\n"
    "  --device D        auto, cpu or cuda (default auto)   --onnxruntime P  libonnxruntime.so to load\n";

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr, "ising_mc: %s\n%s", why.c_str(), kUsage);
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    std::vector<std::string> pos;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        try {
            if (arg == "--size") a.size = std::stoll(value());
            else if (arg == "--sweeps") a.sweeps = std::stoi(value());
            else if (arg == "--temperature") a.temperature = std::stod(value());
            else if (arg == "--seed") a.seed = std::stoull(value());
            else if (arg == "--check-every") a.check_every = std::stoi(value());
            else if (arg == "--tol" || arg == "--rtol") a.tol = std::stod(value());
            else if (arg == "--full") a.full = true;
            else if (arg == "--threads") a.options.threads = std::stoi(value());
            else if (arg == "--onnxruntime") a.options.onnxruntime_library = value();
            else if (arg == "--device") {
                const std::string d = value();
                if (d == "auto") a.options.provider = ednn::Provider::Auto;
                else if (d == "cpu") a.options.provider = ednn::Provider::CPU;
                else if (d == "cuda") a.options.provider = ednn::Provider::CUDA;
                else usage("--device: expected auto, cpu or cuda, got " + d);
            } else if (arg.rfind("--", 0) == 0) usage("unknown option " + arg);
            else pos.push_back(arg);
        } catch (const std::logic_error&) {
            usage("bad value for " + arg);
        }
    }
    if (pos.empty()) usage("expected a command: mc, energies or check");
    a.command = pos[0];
    const size_t want = a.command == "mc" ? 2 : 3;
    if ((a.command != "mc" && a.command != "energies" && a.command != "check") || pos.size() != want)
        usage("expected 'mc MODEL', 'energies MODEL GRIDS' or 'check MODEL GRIDS'");
    a.model = pos[1];
    if (want == 3) a.grids = pos[2];
    if (a.size < 1 || a.sweeps < 0 || a.temperature <= 0 || a.check_every < 0) usage("bad --size/--sweeps/--temperature/--check-every");
    return a;
}

// ---------------------------------------------------------------- reference grids

struct Grid {
    int64_t rows = 0, cols = 0;
    double energy = 0;  // as stored
    std::vector<int8_t> spins;
};

std::vector<Grid> read_grids(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("grids: cannot open " + path);
    std::vector<Grid> grids;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string tag;
        if (!(words >> tag) || tag[0] == '#' || tag == "model") continue;
        Grid g;
        std::string energy_tag;
        if (tag != "grid" || !(words >> g.rows >> g.cols >> energy_tag >> g.energy) || energy_tag != "energy")
            throw std::runtime_error("grids: " + path + ": expected 'grid ROWS COLS energy E', got '" + line + "'");
        g.spins.reserve(static_cast<size_t>(g.rows * g.cols));
        for (int64_t i = 0; i < g.rows * g.cols; ++i) {
            int s = 0;
            if (!(in >> s) || (s != 1 && s != -1))
                throw std::runtime_error("grids: " + path + ": bad spin in grid " + std::to_string(grids.size()));
            g.spins.push_back(static_cast<int8_t>(s));
        }
        grids.push_back(std::move(g));
    }
    return grids;
}

int energies(const Args& a) {
    const ednn::Predictor model(a.model, a.options);
    for (const Grid& g : read_grids(a.grids)) std::printf("%.17g\n", model.predict_scalar(g.spins, {g.rows, g.cols}));
    return 0;
}

int check(const Args& a) {
    const ednn::Predictor model(a.model, a.options);
    int bad = 0, n = 0;
    for (const Grid& g : read_grids(a.grids)) {
        const double e = model.predict_scalar(g.spins, {g.rows, g.cols});
        const bool ok = std::fabs(e - g.energy) <= a.tol * std::fabs(g.energy) || e == g.energy;
        std::printf("grid %d (%lldx%lld): C++ %.17g, stored %.17g %s\n", n, static_cast<long long>(g.rows),
                    static_cast<long long>(g.cols), e, g.energy, ok ? "ok" : "MISMATCH");
        bad += ok ? 0 : 1;
        ++n;
    }
    std::printf("%d passed, %d failed\n", n - bad, bad);
    return bad == 0 && n > 0 ? 0 : 1;
}

// ---------------------------------------------------------------- Monte Carlo

// -J sum over nearest-neighbour bonds, each counted once (J = 1), for comparison.
double nearest_neighbour_energy(const std::vector<int8_t>& s, int64_t L) {
    double e = 0;
    for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < L; ++j)
            e -= s[i * L + j] * (s[i * L + (j + 1) % L] + s[((i + 1) % L) * L + j]);
    return e;
}

int monte_carlo(const Args& a) {
    const ednn::Predictor model(a.model, a.options);
    if (model.ndim() != 2 || model.channels() != 1 || model.n_outputs() != 1)
        throw ednn::InputError(EDNN_ERROR_INPUT, "model: expected a 2-D one-channel one-output (energy) model");
    const int64_t L = a.size;
    const std::vector<int64_t> shape{L, L};
    std::mt19937_64 rng(a.seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::uniform_int_distribution<int64_t> pick(0, L - 1);
    std::vector<int8_t> spins(static_cast<size_t>(L * L));
    for (auto& s : spins) s = uniform(rng) < 0.5 ? 1 : -1;

    // the tiles each site's flip touches, computed once
    std::vector<std::vector<int64_t>> touched(spins.size());
    for (int64_t x = 0; x < L; ++x)
        for (int64_t y = 0; y < L; ++y) touched[static_cast<size_t>(x * L + y)] = model.tiles_touching(shape, {x, y});

    double energy = model.predict_scalar(spins, shape);
    int64_t accepted = 0, proposed = 0, checks = 0;
    double sum_e = 0, sum_m = 0;
    int64_t samples = 0;
    double worst = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int sweep = 1; sweep <= a.sweeps; ++sweep) {
        for (int64_t step = 0; step < L * L; ++step) {
            const int64_t x = pick(rng), y = pick(rng);
            const size_t i = static_cast<size_t>(x * L + y);
            double before, after;
            if (a.full) {
                before = energy;
                spins[i] = static_cast<int8_t>(-spins[i]);
                after = model.predict_scalar(spins, shape);
            } else {
                before = model.predict_tiles(spins, shape, touched[i])[0];
                spins[i] = static_cast<int8_t>(-spins[i]);
                after = model.predict_tiles(spins, shape, touched[i])[0];
            }
            const double dE = after - before;
            ++proposed;
            if (dE <= 0 || uniform(rng) < std::exp(-dE / a.temperature)) {
                energy += dE;
                ++accepted;
            } else {
                spins[i] = static_cast<int8_t>(-spins[i]);
            }
        }
        if (a.check_every > 0 && (sweep % a.check_every == 0 || sweep == a.sweeps)) {
            const double full = model.predict_scalar(spins, shape);
            const double err = std::fabs(energy - full);
            worst = std::max(worst, err);
            ++checks;
            if (err > a.tol * std::max(1.0, std::fabs(full))) {
                std::fprintf(stderr, "ising_mc: sweep %d: running energy %.17g differs from the full evaluation %.17g\n",
                             sweep, energy, full);
                return 1;
            }
        }
        if (sweep > a.sweeps / 2) {  // second half: measurements
            double m = 0;
            for (int8_t s : spins) m += s;
            sum_e += energy / static_cast<double>(L * L);
            sum_m += std::fabs(m) / static_cast<double>(L * L);
            ++samples;
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double full = model.predict_scalar(spins, shape);
    std::printf("model          %s\n", a.model.c_str());
    std::printf("provider       %s (ONNX Runtime %s)\n", model.provider().c_str(), model.onnxruntime_version().c_str());
    std::printf("lattice        %lld x %lld, T = %g, %d sweeps, seed %llu, %s updates\n", static_cast<long long>(L),
                static_cast<long long>(L), a.temperature, a.sweeps, static_cast<unsigned long long>(a.seed),
                a.full ? "full-lattice" : "local (tiles_touching)");
    std::printf("acceptance     %.4f\n", proposed ? static_cast<double>(accepted) / static_cast<double>(proposed) : 0.0);
    if (samples) {
        std::printf("<E>/N          %.6f\n", sum_e / static_cast<double>(samples));
        std::printf("<|M|>/N        %.6f\n", sum_m / static_cast<double>(samples));
    }
    std::printf("final energy   %.10g (bookkept), %.10g (full evaluation), %.10g (nearest-neighbour sum)\n", energy,
                full, nearest_neighbour_energy(spins, L));
    std::printf("checks         %lld full re-evaluations, largest difference %.3g\n", static_cast<long long>(checks),
                worst);
    std::printf("speed          %.0f flips proposed per second\n", seconds > 0 ? static_cast<double>(proposed) / seconds : 0.0);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse(argc, argv);
    try {
        if (a.command == "mc") return monte_carlo(a);
        if (a.command == "energies") return energies(a);
        return check(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ising_mc: error: %s\n", e.what());
        return 2;
    }
}
