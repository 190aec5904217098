#include "ednn/build_info.hpp"

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

}  // namespace ednn
