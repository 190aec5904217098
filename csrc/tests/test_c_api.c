/* ednn.h from plain C99: the header compiles as C and the basic calls work. */
#include <stdio.h>
#include <string.h>

#include "ednn/ednn.h"

static int failures = 0;
#define EXPECT(cond)                                                    \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                 \
        }                                                               \
    } while (0)

int main(int argc, char** argv) {
    ednn_options* opts = NULL;
    ednn_predictor* p = NULL;
    char* err = NULL;
    int8_t spins[6 * 4];
    int64_t shape[2] = {6, 4};
    double energy = 0.0;
    int ndim = 0;
    int64_t focus[3], context[3], tile[3], channels = 0, n_outputs = 0;
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    EXPECT(strlen(ednn_version()) > 0);
    /* the limits are plain C constants */
    EXPECT(ednn_max_threads() >= EDNN_THREADS_PER_CORE && ednn_max_threads() % EDNN_THREADS_PER_CORE == 0);
    EXPECT(EDNN_MAX_TILE_ELEMENTS == 16777216L && EDNN_MAX_BATCH_ELEMENTS == 268435456L && EDNN_MAX_METADATA_INT == 16777216L);
    EXPECT(ednn_options_create(&opts, &err) == EDNN_OK);
    EXPECT(ednn_options_set_threads(opts, 1, &err) == EDNN_OK);
    EXPECT(ednn_options_set_device(opts, EDNN_DEVICE_CPU, &err) == EDNN_OK);
    if (ednn_predictor_create(argv[1], opts, &p, &err) != EDNN_OK) {
        fprintf(stderr, "test_c_api: %s\n", err ? err : "?");
        ednn_string_free(err);
        ednn_options_free(opts);
        return 1;
    }
    ednn_options_free(opts);
    EXPECT(ednn_predictor_geometry(p, &ndim, focus, context, tile, &channels, &n_outputs, &err) == EDNN_OK);
    EXPECT(ndim == 2 && focus[0] == 1 && context[1] == 1 && tile[0] == 3 && channels == 1 && n_outputs == 1);
    for (i = 0; i < sizeof spins; ++i) spins[i] = 1;
    EXPECT(ednn_predictor_predict(p, spins, EDNN_INT8, shape, 2, &energy, 1, &err) == EDNN_OK);
    EXPECT(energy == -48.0); /* 24 spins, 2 bonds each */
    /* enum values outside the enumerators, as a C caller may pass them: refused, never used */
    for (i = 0; i < 4; ++i) {
        static const int bad[4] = {-1, 7, 99, 0x7fffffff};
        const int64_t tiles[1] = {0};
        EXPECT(ednn_predictor_predict(p, spins, (ednn_dtype)bad[i], shape, 2, &energy, 1, &err) == EDNN_ERROR_INPUT);
        EXPECT(err != NULL && strstr(err, "dtype: expected one of EDNN_FLOAT32") != NULL);
        ednn_string_free(err);
        EXPECT(ednn_predictor_predict_tiles(p, spins, (ednn_dtype)bad[i], shape, 2, tiles, 1, &energy, 1, NULL) ==
               EDNN_ERROR_INPUT);
        EXPECT(ednn_predictor_tile_values(p, spins, (ednn_dtype)bad[i], shape, 2, tiles, 1, &energy, 1, NULL) ==
               EDNN_ERROR_INPUT);
        EXPECT(strcmp(ednn_status_name((ednn_status)bad[i]), "EDNN_ERROR_UNKNOWN") == 0);
        EXPECT(ednn_options_create(&opts, NULL) == EDNN_OK);
        EXPECT(ednn_options_set_device(opts, (ednn_device)bad[i], &err) == EDNN_ERROR_INPUT);
        EXPECT(err != NULL && strstr(err, "device: expected EDNN_DEVICE_AUTO") != NULL);
        ednn_string_free(err);
        ednn_options_free(opts);
    }
    EXPECT(ednn_predictor_predict(p, spins, EDNN_INT8, shape, 2, &energy, 1, &err) == EDNN_OK);
    EXPECT(energy == -48.0);
    shape[1] = 0;
    EXPECT(ednn_predictor_predict(p, spins, EDNN_INT8, shape, 2, &energy, 1, &err) == EDNN_ERROR_INPUT);
    EXPECT(err != NULL && strstr(err, "size 0 of spatial axis 1") != NULL);
    ednn_string_free(err);
    ednn_predictor_free(p);
    printf("test_c_api: %d failures\n", failures);
    return failures == 0 ? 0 : 1;
}
