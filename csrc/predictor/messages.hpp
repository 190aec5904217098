// Text helpers of the predictor's messages, which match ednn's Python ones (internal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ednn/ednn.h"

namespace ednn::detail {

/// Python-style quoting of a string ('...'), used in messages so that they match ednn's Python ones.
std::string py_repr(const std::string& s);
/// Python-style tuple of integers: "(8, 8)", "(3,)".
std::string py_tuple(const std::vector<int64_t>& v);
/// py_tuple of the first n values of v.
std::string tuple_of(const int64_t* v, int n);

/// s without leading and trailing whitespace, as Python's str.strip().
std::string strip(const std::string& s);
/// s cut at every sep, as Python's str.split(sep).
std::vector<std::string> split(const std::string& s, char sep);
/// The strings of v with sep between them, as Python's sep.join(v).
std::string join(const std::vector<std::string>& v, const std::string& sep);

/// Element i of a grid of `dtype` of a floating-point type, as ednn's Python messages show it:
/// "nan", "inf", "-inf", or the shortest repr of a finite value beyond float32's range ("1e+39");
/// "?" for integer types.
std::string element_text(ednn_dtype dtype, const void* data, int64_t i);

}  // namespace ednn::detail
