// The C++ counterpart of `ednn predict MODEL GRID.npy`: the extensive quantities of the grid(s)
// stored in a .npy file, computed with ednn::Predictor.
//
//   predict_grid MODEL GRID.npy [--batch-size N] [--threads N] [--device auto|cpu|cuda]
//
// GRID.npy: (S_1..S_d) for a one-channel model, else (C, S_1..S_d); a leading axis makes a batch.
// C order; float32, float64, int8, uint8, int16, int32 or int64, little-endian. Prints one line
// per grid with the K values separated by spaces (%.17g). Exit status 2 with a message on error.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <ednn/ednn.hpp>

namespace {

struct Npy {
    std::string descr;
    std::vector<int64_t> shape;
    std::vector<char> data;
};

// Reads a .npy file (format versions 1 to 3) holding a C-ordered array.
Npy read_npy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ednn::InputError(EDNN_ERROR_INPUT, "grid: cannot open " + path);
    char magic[8];
    if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
        throw ednn::InputError(EDNN_ERROR_INPUT, "grid: " + path + " is not a .npy file");
    uint32_t header_len = 0;
    unsigned char len_bytes[4] = {0, 0, 0, 0};
    const int n_len = magic[6] == 1 ? 2 : 4;
    in.read(reinterpret_cast<char*>(len_bytes), n_len);
    for (int i = n_len - 1; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
    std::string header(header_len, '\0');
    in.read(&header[0], header_len);
    auto field = [&](const std::string& key) {
        const size_t k = header.find("'" + key + "'");
        if (k == std::string::npos) throw ednn::InputError(EDNN_ERROR_INPUT, "grid: .npy header lacks " + key);
        return header.substr(header.find(':', k) + 1);
    };
    Npy npy;
    const std::string d = field("descr");
    const size_t q0 = d.find('\''), q1 = d.find('\'', q0 + 1);
    npy.descr = d.substr(q0 + 1, q1 - q0 - 1);
    std::string order = field("fortran_order");
    order.erase(0, order.find_first_not_of(' '));
    if (order.rfind("True", 0) == 0)
        throw ednn::InputError(EDNN_ERROR_INPUT, "grid: expected a C-ordered array, got Fortran order");
    const std::string s = field("shape");
    std::string inside = s.substr(s.find('(') + 1, s.find(')') - s.find('(') - 1);
    size_t pos = 0;
    while (pos < inside.size()) {
        const size_t comma = inside.find(',', pos);
        const std::string item = inside.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (item.find_first_of("0123456789") != std::string::npos) npy.shape.push_back(std::stoll(item));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    npy.data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return npy;
}

template <typename T>
std::vector<double> run(const ednn::Predictor& model, const Npy& npy) {
    size_t n = 1;
    for (int64_t s : npy.shape) n *= static_cast<size_t>(s);
    if (npy.data.size() != n * sizeof(T))
        throw ednn::InputError(EDNN_ERROR_INPUT, "grid: the .npy data holds " + std::to_string(npy.data.size()) +
                                                     " bytes, expected " + std::to_string(n * sizeof(T)));
    std::vector<T> values(n);
    if (n) std::memcpy(values.data(), npy.data.data(), n * sizeof(T));
    return model.predict(values, npy.shape);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> pos;
    ednn::PredictorOptions options;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
                return argv[++i];
            };
            if (a == "--batch-size") options.batch_size = std::stoll(value());
            else if (a == "--threads") options.threads = std::stoi(value());
            else if (a == "--device") {
                const std::string d = value();
                options.provider = d == "cuda" ? ednn::Provider::CUDA : d == "cpu" ? ednn::Provider::CPU : ednn::Provider::Auto;
            } else pos.push_back(a);
        }
        if (pos.size() != 2) throw std::invalid_argument("usage: predict_grid MODEL GRID.npy [--batch-size N] [--threads N] [--device auto|cpu|cuda]");
        const ednn::Predictor model(pos[0], options);
        const Npy npy = read_npy(pos[1]);
        std::vector<double> out;
        if (npy.descr == "<f4") out = run<float>(model, npy);
        else if (npy.descr == "<f8") out = run<double>(model, npy);
        else if (npy.descr == "|i1") out = run<int8_t>(model, npy);
        else if (npy.descr == "|u1" || npy.descr == "|b1") out = run<uint8_t>(model, npy);
        else if (npy.descr == "<i2") out = run<int16_t>(model, npy);
        else if (npy.descr == "<i4") out = run<int32_t>(model, npy);
        else if (npy.descr == "<i8") out = run<int64_t>(model, npy);
        else throw ednn::InputError(EDNN_ERROR_INPUT, "grid: unsupported .npy dtype " + npy.descr);
        const size_t K = static_cast<size_t>(model.n_outputs());
        for (size_t i = 0; i < out.size(); ++i) std::printf(i % K + 1 == K ? "%.17g\n" : "%.17g ", out[i]);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "predict_grid: error: %s\n", e.what());
        return 2;
    }
}
