// What this build of the ednn core contains, and what it can see at run time.
#pragma once

#include <string>

namespace ednn {

struct BuildInfo {
    std::string version;      // the package version
    bool openmp = false;      // CPU kernels compiled with OpenMP
    int omp_max_threads = 1;  // threads an OpenMP region uses by default
    bool cuda = false;        // CUDA kernels compiled
    int cuda_runtime_version = 0;  // e.g. 13000; 0 without CUDA
    std::string cuda_architectures;
};

BuildInfo build_info();

/// Number of CUDA devices visible; 0 without CUDA, without a driver or without a GPU.
int cuda_device_count();

/// Threads per core a call may ask for (EDNN_THREADS_PER_CORE in ednn.h).
constexpr int kThreadsPerCore = 4;

/// The most threads a call may ask for: kThreadsPerCore x the online cores (sysconf, as Python's
/// os.cpu_count()). More would only oversubscribe the cores, and thousands of threads exhaust the
/// process (libgomp exits it when it cannot create them).
int max_threads();

/// Throws std::invalid_argument naming `threads` when it is above max_threads() (0 and below are
/// left to the caller: they mean "the default" or are refused there).
void check_threads(int threads);

}  // namespace ednn
