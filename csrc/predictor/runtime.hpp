// The ONNX Runtime library, loaded at run time (internal), and small helpers over its C API.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <onnxruntime_c_api.h>

#include "predictor.hpp"

namespace ednn::detail {

/// A loaded ONNX Runtime library and its environment.
struct Runtime {
    void* handle = nullptr;
    const OrtApi* api = nullptr;
    OrtEnv* env = nullptr;
    std::string path;
    std::string version;
    std::vector<std::string> providers;

    bool has_provider(const std::string& name) const {
        return std::find(providers.begin(), providers.end(), name) != providers.end();
    }
};

/// The ONNX Runtime at `requested` when not empty, else at $EDNN_ONNXRUNTIME_LIBRARY, else the one
/// already in the process, else the first of the `onnxruntime` Python package's libraries and
/// the system's libonnxruntime.so that loads. A library is loaded once and stays loaded for the
/// life of the process. Throws Error(EDNN_ERROR_RUNTIME) when none loads.
std::shared_ptr<Runtime> load_runtime(const std::string& requested);

// ---------------------------------------------------------------- small RAII helpers over the C API

/// Releases a status whose failure changes nothing (e.g. of a free).
void ignore(const OrtApi* api, OrtStatus* st);

/// Throws Error(code, what + ": " + ONNX Runtime's message) when `st` is a failure.
void check(const OrtApi* api, OrtStatus* st, ednn_status code, const std::string& what);

template <typename T, void (*OrtApi::*Release)(T*)>
struct Owned {
    const OrtApi* api = nullptr;
    T* p = nullptr;
    explicit Owned(const OrtApi* a) : api(a) {}
    ~Owned() {
        if (p) (api->*Release)(p);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
};

using SessionOptionsPtr = Owned<OrtSessionOptions, &OrtApi::ReleaseSessionOptions>;
using TypeInfoPtr = Owned<OrtTypeInfo, &OrtApi::ReleaseTypeInfo>;
using MetadataPtr = Owned<OrtModelMetadata, &OrtApi::ReleaseModelMetadata>;
using ValuePtr = Owned<OrtValue, &OrtApi::ReleaseValue>;
using ShapeInfoPtr = Owned<OrtTensorTypeAndShapeInfo, &OrtApi::ReleaseTensorTypeAndShapeInfo>;
using CudaOptionsPtr = Owned<OrtCUDAProviderOptionsV2, &OrtApi::ReleaseCUDAProviderOptions>;

}  // namespace ednn::detail
