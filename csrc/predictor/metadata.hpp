// An EDNN model's metadata and signature (internal).
#pragma once

#include <onnxruntime_c_api.h>

#include "predictor.hpp"

namespace ednn::detail {

/// Fills `info` (its path already set) from the ednn.* metadata of the model loaded in `session`
/// and checks the network's one input and one output against it, in the order and with the
/// messages of ednn.Model in Python. Throws Error(EDNN_ERROR_MODEL_FILE) for a model that is not
/// a valid EDNN model file.
void read_model_info(const OrtApi* api, const OrtSession* session, ModelInfo& info);

}  // namespace ednn::detail
