// An EDNN model's metadata and signature (internal).
#pragma once

#include <onnxruntime_c_api.h>

#include <cstdint>
#include <map>
#include <string>

#include "predictor.hpp"

namespace ednn::detail {

/// Largest metadata_props entry the scan reads (16 MiB); a larger one is refused unread.
constexpr uint64_t kMaxMetadataEntryBytes = uint64_t{16} << 20;

/// The metadata_props of the ONNX file at `path`, from a scan of the file's top-level protobuf
/// fields: the graph and its weights are skipped, never read or allocated. The scan and its
/// messages are those of ednn.Model in Python (ednn/model.py). Throws
/// Error(EDNN_ERROR_MODEL_FILE, "model: 'path' is not a readable ONNX model: ...") for a file that
/// is not a ModelProto (truncated, malformed, no graph, an entry over 16 MiB or not UTF-8).
std::map<std::string, std::string> scan_metadata(const std::string& path);

/// Fills `info` (its path already set) from ednn.* metadata, checked in the order and with the
/// messages of ednn.Model in Python, the limits of ednn.h included. Throws
/// Error(EDNN_ERROR_MODEL_FILE) for metadata that does not describe a valid EDNN model.
void read_metadata_info(const std::map<std::string, std::string>& meta, ModelInfo& info);

/// Checks the model loaded in `session` against `info` (filled by read_metadata_info): its
/// metadata again where it differs from the scanned one, then the network's one input and one
/// output. Throws Error(EDNN_ERROR_MODEL_FILE).
void read_model_info(const OrtApi* api, const OrtSession* session, ModelInfo& info);

}  // namespace ednn::detail
