/* ednn C API: EDNN energies (and other extensive quantities) of periodic grids from C and C++.
 *
 * A predictor opens an EDNN model file (ONNX with ednn.* metadata), cuts a grid into focus +
 * context tiles with ednn's tiler, runs the tiles through ONNX Runtime and sums the tile
 * contributions in double precision. ONNX Runtime is loaded at run time (dlopen), so programs
 * linking ednn need neither its headers nor its library at build time.
 *
 * Conventions
 *   - Every function returns an ednn_status. EDNN_OK is 0; on failure, when `error` is not NULL,
 *     *error receives a message (free it with ednn_string_free); on success *error is set to NULL.
 *   - Handles are opaque; each *_create has a matching *_free, which accepts NULL.
 *   - Nothing is printed and nothing aborts: every failure comes back as a status.
 *   - A predictor may be used from several threads at once.
 *
 * Grid layout
 *   A grid is a C-contiguous array, aligned for its element type, of shape (S_1..S_d) for a
 *   one-channel model, or (C, S_1..S_d);
 *   one more leading axis (B, ...) makes a batch of B grids. `rank` is the number of axes.
 *   Every S_k must be a multiple of the model's focus f_k. Tiles are numbered row-major over
 *   (n_1..n_d), n_k = S_k / f_k; tile i covers cells i_k f_k - c_k .. i_k f_k + f_k + c_k - 1
 *   (wrapped periodically) along axis k.
 */
#ifndef EDNN_H
#define EDNN_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(EDNN_BUILDING_LIBRARY)
#define EDNN_API __declspec(dllexport)
#else
#define EDNN_API __declspec(dllimport)
#endif
#else
#define EDNN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Version of this C API; functions are only ever added. */
#define EDNN_C_API_VERSION 1

/* Limits, the same in the Python package (ednn._checks) and here. A model file or an argument
 * beyond them is refused with a status and a message before any work or allocation for it:
 *   - ednn.ndim is 1, 2 or 3; ednn.focus and ednn.channels are 1..EDNN_MAX_METADATA_INT and
 *     ednn.context 0..EDNN_MAX_METADATA_INT, written as ASCII digits only (no sign, no '_', no
 *     other digits; blanks around a value are ignored);
 *   - one tile, C * t_1 ... t_d with t_k = f_k + 2 c_k, has at most EDNN_MAX_TILE_ELEMENTS
 *     elements (64 MiB of float32);
 *   - one batch of tiles handed to ONNX Runtime has at most EDNN_MAX_BATCH_ELEMENTS elements
 *     (1 GiB of float32);
 *   - threads are at most EDNN_THREADS_PER_CORE per core (ednn_max_threads()). */
#define EDNN_MAX_METADATA_INT 16777216
#define EDNN_MAX_TILE_ELEMENTS 16777216
#define EDNN_MAX_BATCH_ELEMENTS 268435456
#define EDNN_THREADS_PER_CORE 4

typedef enum ednn_status {
    EDNN_OK = 0,
    EDNN_ERROR_INPUT = 1,          /**< bad argument: missing file, wrong grid shape, size not a multiple of the focus, ... */
    EDNN_ERROR_MODEL_FILE = 2,     /**< not a readable ONNX file, or not a valid EDNN model file */
    EDNN_ERROR_RUNTIME = 3,        /**< ONNX Runtime could not be loaded, or it failed */
    EDNN_ERROR_UNSUPPORTED = 4,    /**< asked for something this build or machine lacks (e.g. CUDA) */
    EDNN_ERROR_OUT_OF_MEMORY = 5,
    EDNN_ERROR_INTERNAL = 6,
    EDNN_STATUS_MAX_ENUM = 0x7fffffff  /**< not a status: keeps the enum int-sized */
} ednn_status;

/** Element type of a grid. Values are converted to float32 before the model's input scaling. */
typedef enum ednn_dtype {
    EDNN_FLOAT32 = 0,
    EDNN_FLOAT64 = 1,
    EDNN_INT8 = 2,
    EDNN_UINT8 = 3,
    EDNN_INT16 = 4,
    EDNN_INT32 = 5,
    EDNN_INT64 = 6,
    EDNN_DTYPE_MAX_ENUM = 0x7fffffff  /**< not a type: keeps the enum int-sized */
} ednn_dtype;

/** Where the network runs. AUTO: CUDA when ONNX Runtime offers its CUDA execution provider and a
 *  GPU is usable, else CPU. The tiles are always cut on the CPU. */
typedef enum ednn_device {
    EDNN_DEVICE_AUTO = 0,
    EDNN_DEVICE_CPU = 1,
    EDNN_DEVICE_CUDA = 2,
    EDNN_DEVICE_MAX_ENUM = 0x7fffffff  /**< not a device: keeps the enum int-sized */
} ednn_device;

typedef struct ednn_options ednn_options;
typedef struct ednn_predictor ednn_predictor;

/** The ednn version, e.g. "0.1.0" (static string). */
EDNN_API const char* ednn_version(void);
/** A short name of a status, e.g. "EDNN_ERROR_INPUT" (static string). */
EDNN_API const char* ednn_status_name(ednn_status status);
/** Frees a message returned through an `error` out-parameter; NULL is fine. */
EDNN_API void ednn_string_free(char* message);
/** The most threads an option or call may ask for: EDNN_THREADS_PER_CORE x the online cores. */
EDNN_API int ednn_max_threads(void);

/* ------------------------------------------------------------------ options */

/** Default options: device AUTO, ONNX Runtime's default threads, batches of about 8 MiB of tiles
 *  (at most 16384 tiles), ONNX Runtime found automatically. */
EDNN_API ednn_status ednn_options_create(ednn_options** out, char** error);
EDNN_API void ednn_options_free(ednn_options* options);
/** Intra-op threads of ONNX Runtime (inter-op: 1); 0 = its default; at most ednn_max_threads().
 *  The tiles of the next batch are cut on one more thread while ONNX Runtime runs the current one. */
EDNN_API ednn_status ednn_options_set_threads(ednn_options* options, int threads, char** error);
EDNN_API ednn_status ednn_options_set_device(ednn_options* options, ednn_device device, char** error);
/** CUDA device ordinal for the CUDA execution provider (default 0). */
EDNN_API ednn_status ednn_options_set_cuda_device_id(ednn_options* options, int device_id, char** error);
/** Tiles per ONNX Runtime call; 0 = about 8 MiB of float32 tiles, at most 16384 tiles and at most the model's
 *  ednn.batch_tiles (written by the exporter from the network's largest activation). A call whose batch (this many
 *  tiles, or all of a grid's tiles when fewer) would exceed EDNN_MAX_BATCH_ELEMENTS is refused. */
EDNN_API ednn_status ednn_options_set_batch_size(ednn_options* options, int64_t tiles, char** error);
/** Path of libonnxruntime.so to load; NULL or "" = search: $EDNN_ONNXRUNTIME_LIBRARY, an ONNX
 *  Runtime already loaded in the process, the `onnxruntime` Python package installed beside ednn
 *  or in $VIRTUAL_ENV / $CONDA_PREFIX, then the system's libonnxruntime.so. */
EDNN_API ednn_status ednn_options_set_onnxruntime_library(ednn_options* options, const char* path, char** error);

/* ------------------------------------------------------------------ predictor */

/** Opens and validates an EDNN model file; `options` may be NULL (defaults). */
EDNN_API ednn_status ednn_predictor_create(const char* model_path, const ednn_options* options,
                                          ednn_predictor** out, char** error);
EDNN_API void ednn_predictor_free(ednn_predictor* predictor);

/** Geometry of the model; any out-pointer may be NULL. focus, context and tile receive ndim
 *  values each (room for 3 is enough). */
EDNN_API ednn_status ednn_predictor_geometry(const ednn_predictor* predictor, int* ndim, int64_t* focus,
                                            int64_t* context, int64_t* tile, int64_t* channels,
                                            int64_t* n_outputs, char** error);
/** Name of output k (0 <= k < n_outputs); the string lives as long as the predictor. */
EDNN_API ednn_status ednn_predictor_output_name(const ednn_predictor* predictor, int64_t k, const char** name,
                                               char** error);
/** Value of a metadata key (e.g. "ednn.units"); *value is NULL when the model has no such key.
 *  The string lives as long as the predictor. */
EDNN_API ednn_status ednn_predictor_metadata(const ednn_predictor* predictor, const char* key, const char** value,
                                            char** error);
/** The execution provider the network runs on ("CPUExecutionProvider" or "CUDAExecutionProvider"),
 *  the ONNX Runtime version and the path of the loaded library; any out-pointer may be NULL. */
EDNN_API ednn_status ednn_predictor_runtime(const ednn_predictor* predictor, const char** provider,
                                           const char** onnxruntime_version, const char** onnxruntime_library,
                                           char** error);

/** Number of tiles of one grid of the given shape (checked like a grid). */
EDNN_API ednn_status ednn_predictor_tile_count(const ednn_predictor* predictor, const int64_t* shape, int rank,
                                              int64_t* n_tiles, char** error);

/** Extensive quantities of a grid, or of a batch: out receives K values per grid (B*K for a
 *  batch), in double; out_len is the room in `out`. Values must be finite and, since the network
 *  runs in float32, within float32's range (|x| <= FLT_MAX); the first that is not is named in
 *  the EDNN_ERROR_INPUT message. Per output k:
 *      out[k] = output_scale_k * sum_tiles y_k + output_offset_k * n_tiles. */
EDNN_API ednn_status ednn_predictor_predict(const ednn_predictor* predictor, const void* grid, ednn_dtype dtype,
                                           const int64_t* shape, int rank, double* out, size_t out_len,
                                           char** error);

/** The same sum over a subset of the tiles of one grid (no batch axis): the tiles listed in
 *  `tiles` (flat row-major indices; a repeated index counts again). out receives K values:
 *      out[k] = output_scale_k * sum_listed y_k + output_offset_k * n_listed.
 *  Only the listed tiles are cut and evaluated, so this costs O(n_listed), not O(grid). */
EDNN_API ednn_status ednn_predictor_predict_tiles(const ednn_predictor* predictor, const void* grid,
                                                 ednn_dtype dtype, const int64_t* shape, int rank,
                                                 const int64_t* tiles, size_t n_listed, double* out,
                                                 size_t out_len, char** error);

/** Per-tile contributions y * output_scale + output_offset of the listed tiles of one grid:
 *  out receives n_listed * K values, row-major (tile, output). */
EDNN_API ednn_status ednn_predictor_tile_values(const ednn_predictor* predictor, const void* grid,
                                               ednn_dtype dtype, const int64_t* shape, int rank,
                                               const int64_t* tiles, size_t n_listed, double* out,
                                               size_t out_len, char** error);

/** The tiles whose window (focus + context) contains the cell `site` (d coordinates, 0 <= site_k
 *  < S_k) of a grid of the given shape: exactly the tiles whose input changes when that cell
 *  changes. Sorted flat indices, without repeats. *count receives their number; `tiles` receives
 *  them when capacity >= *count (pass tiles = NULL, capacity = 0 to ask for the count only). */
EDNN_API ednn_status ednn_predictor_tiles_touching(const ednn_predictor* predictor, const int64_t* shape,
                                                  int rank, const int64_t* site, int64_t* tiles, size_t capacity,
                                                  size_t* count, char** error);

#ifdef __cplusplus
}
#endif

#endif /* EDNN_H */
