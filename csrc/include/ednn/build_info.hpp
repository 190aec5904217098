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

}  // namespace ednn
