// Text helpers of the predictor's messages: Python-style quoting, tuples, strip/split/join.
#include "messages.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace ednn::detail {

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

std::string tuple_of(const int64_t* v, int n) { return py_tuple(std::vector<int64_t>(v, v + n)); }

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

namespace {

// A finite double beyond float32's range as Python's repr writes it: the shortest digits that read
// back to it, in scientific notation ("1e+39", "-3.5e+38"; Python switches to it from 1e16 on).
std::string large_float_repr(double v) {
    char buf[64];
    for (int digits = 1; digits <= 17; ++digits) {
        std::snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

template <typename T>
std::string value_text(T v) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        return large_float_repr(static_cast<double>(v));  // only such values are shown
    } else {
        return std::to_string(v);
    }
}

}  // namespace

std::string element_text(ednn_dtype dtype, const void* data, int64_t i) {
    switch (dtype) {
        case EDNN_FLOAT32: return value_text(static_cast<const float*>(data)[i]);
        case EDNN_FLOAT64: return value_text(static_cast<const double*>(data)[i]);
        default: return "?";
    }
}

}  // namespace ednn::detail
