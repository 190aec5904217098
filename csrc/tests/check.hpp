// A few assertion macros for the C++ unit tests: a failed check is reported and counted, and the
// test's exit status is non-zero when any check failed.
#pragma once

#include <cstdio>
#include <string>

namespace ednn_test {

inline int& checks() {
    static int n = 0;
    return n;
}
inline int& failures() {
    static int n = 0;
    return n;
}

inline void report(bool ok, const char* what, const char* file, int line, const std::string& detail = "") {
    ++checks();
    if (ok) return;
    ++failures();
    std::fprintf(stderr, "%s:%d: check failed: %s%s%s\n", file, line, what, detail.empty() ? "" : " -- ",
                 detail.c_str());
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Prints the tally and returns the exit status.
inline int finish(const char* name) {
    std::printf("%s: %d checks, %d failures\n", name, checks(), failures());
    return failures() == 0 ? 0 : 1;
}

}  // namespace ednn_test

#define CHECK(cond) ::ednn_test::report(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define CHECK_MSG(cond, detail) ::ednn_test::report(static_cast<bool>(cond), #cond, __FILE__, __LINE__, (detail))

// Checks that `expr` throws `type` whose what() contains `part`.
#define CHECK_THROWS(expr, type, part)                                                                      \
    do {                                                                                                    \
        std::string ednn_test_msg_;                                                                          \
        bool ednn_test_ok_ = false;                                                                          \
        try {                                                                                               \
            (void)(expr);                                                                                   \
            ednn_test_msg_ = "no exception";                                                                 \
        } catch (const type& e) {                                                                           \
            ednn_test_msg_ = e.what();                                                                       \
            ednn_test_ok_ = ::ednn_test::contains(ednn_test_msg_, part);                                     \
        } catch (const std::exception& e) {                                                                 \
            ednn_test_msg_ = std::string("other exception: ") + e.what();                                    \
        }                                                                                                   \
        ::ednn_test::report(ednn_test_ok_, #expr " throws " #type " with \"" part "\"", __FILE__, __LINE__, \
                            ednn_test_msg_);                                                                 \
    } while (0)
