#include "ednn/build_info.hpp"

#include <unistd.h>

#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef EDNN_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef EDNN_VERSION_STRING
#define EDNN_VERSION_STRING "0.0.0"
#endif
#ifndef EDNN_CUDA_ARCHS
#define EDNN_CUDA_ARCHS ""
#endif

namespace ednn {

BuildInfo build_info() {
    BuildInfo info;
    info.version = EDNN_VERSION_STRING;
#ifdef _OPENMP
    info.openmp = true;
    info.omp_max_threads = omp_get_max_threads();
#endif
#ifdef EDNN_WITH_CUDA
    info.cuda = true;
    int v = 0;
    cudaRuntimeGetVersion(&v);
    info.cuda_runtime_version = v;
    info.cuda_architectures = EDNN_CUDA_ARCHS;
#endif
    return info;
}

int max_threads() {
    long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (cores > (1 << 20)) cores = 1 << 20;
    return kThreadsPerCore * static_cast<int>(cores);
}

void check_threads(int threads) {
    const int most = max_threads();
    if (threads > most)
        throw std::invalid_argument("threads: expected at most " + std::to_string(most) + " (" +
                                    std::to_string(kThreadsPerCore) + " per core), got " + std::to_string(threads));
}

}  // namespace ednn
