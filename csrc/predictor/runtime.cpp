// Finds and loads the ONNX Runtime library at run time (dlopen): the path asked for, else
// $EDNN_ONNXRUNTIME_LIBRARY, else an ONNX Runtime already in the process, else the `onnxruntime`
// Python package's library, else the system's. Each library is loaded once, and kept.
#include "runtime.hpp"

#include <dlfcn.h>
#include <glob.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "messages.hpp"

namespace ednn::detail {

namespace {

// ONNX Runtime's messages are returned through statuses; its log output is dropped.
void quiet_logger(void*, OrtLoggingLevel, const char*, const char*, const char*, const char*) {}

std::string dirname_of(const std::string& path) {
    const size_t pos = path.rfind('/');
    return pos == std::string::npos ? std::string(".") : path.substr(0, pos);
}

// Files matching a glob pattern, newest version first.
std::vector<std::string> glob_libraries(const std::string& pattern) {
    std::vector<std::string> found;
    glob_t g;
    std::memset(&g, 0, sizeof g);
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
            const std::string p = g.gl_pathv[i];
            const std::string base = p.substr(p.rfind('/') + 1);
            // libonnxruntime.so or libonnxruntime.so.<version>, not the provider libraries
            if (base == "libonnxruntime.so" || base.rfind("libonnxruntime.so.", 0) == 0) found.push_back(p);
        }
    }
    globfree(&g);
    std::sort(found.begin(), found.end(),
              [](const std::string& a, const std::string& b) { return strverscmp(a.c_str(), b.c_str()) > 0; });
    return found;
}

// Where the `onnxruntime` Python package may keep its library, most specific first.
std::vector<std::string> python_package_candidates() {
    std::vector<std::string> patterns;
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&ednn_version), &self) && self.dli_fname) {
        // inside a wheel: site-packages/ednn/lib/libednn_predictor.so
        const std::string lib_dir = dirname_of(self.dli_fname);
        patterns.push_back(dirname_of(dirname_of(lib_dir)) + "/onnxruntime/capi/libonnxruntime.so*");
    }
    for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
        const char* root = std::getenv(var);
        if (root && *root) {
            patterns.push_back(std::string(root) + "/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
            patterns.push_back(std::string(root) + "/lib64/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
        }
    }
    if (const char* home = std::getenv("HOME"); home && *home)
        patterns.push_back(std::string(home) + "/.local/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
    patterns.push_back("/usr/local/lib/python3*/dist-packages/onnxruntime/capi/libonnxruntime.so*");
    patterns.push_back("/usr/local/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*");
    patterns.push_back("/usr/lib/python3/dist-packages/onnxruntime/capi/libonnxruntime.so*");
    std::vector<std::string> out;
    for (const std::string& p : patterns)
        for (const std::string& f : glob_libraries(p))
            if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    return out;
}

using GetApiBaseFn = const OrtApiBase* (*)();

// Builds a Runtime from an OrtGetApiBase entry point; throws Error(EDNN_ERROR_RUNTIME) on failure.
std::shared_ptr<Runtime> make_runtime(void* handle, GetApiBaseFn get_base, const std::string& where) {
    const OrtApiBase* base = get_base();
    if (!base) throw Error(EDNN_ERROR_RUNTIME, where + ": OrtGetApiBase returned NULL");
    const std::string version = base->GetVersionString ? base->GetVersionString() : "?";
    const OrtApi* api = base->GetApi(ORT_API_VERSION);
    if (!api)
        throw Error(EDNN_ERROR_RUNTIME, where + " is ONNX Runtime " + version + ", which lacks C API version " +
                                            std::to_string(ORT_API_VERSION) +
                                            " (ednn was built with the ONNX Runtime 1." +
                                            std::to_string(ORT_API_VERSION) + " headers; use ONNX Runtime >= 1." +
                                            std::to_string(ORT_API_VERSION) + ")");
    auto rt = std::make_shared<Runtime>();
    rt->handle = handle;
    rt->api = api;
    rt->version = version;
    Dl_info info;
    rt->path = (dladdr(reinterpret_cast<void*>(get_base), &info) && info.dli_fname) ? info.dli_fname : where;
    if (OrtStatus* st = api->CreateEnvWithCustomLogger(quiet_logger, nullptr, ORT_LOGGING_LEVEL_ERROR, "ednn", &rt->env)) {
        const std::string msg = api->GetErrorMessage(st);
        api->ReleaseStatus(st);
        throw Error(EDNN_ERROR_RUNTIME, "onnxruntime: could not create its environment: " + msg);
    }
    char** names = nullptr;
    int n = 0;
    if (OrtStatus* st = api->GetAvailableProviders(&names, &n)) {
        api->ReleaseStatus(st);
    } else {
        for (int i = 0; i < n; ++i) rt->providers.emplace_back(names[i]);
        if (OrtStatus* st2 = api->ReleaseAvailableProviders(names, n)) api->ReleaseStatus(st2);
    }
    return rt;
}

// The loaded runtimes stay loaded for the life of the process (unloading ONNX Runtime is unsafe).
std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, std::shared_ptr<Runtime>>& registry() {
    static auto* r = new std::map<std::string, std::shared_ptr<Runtime>>();
    return *r;
}

std::shared_ptr<Runtime> open_library(const std::string& path, std::string& why) {
    char resolved[4096];
    const std::string key = realpath(path.c_str(), resolved) ? std::string(resolved) : path;
    auto& reg = registry();
    if (auto it = reg.find(key); it != reg.end()) return it->second;
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = dlerror();
        why = e ? e : "dlopen failed";
        return nullptr;
    }
    auto fn = reinterpret_cast<GetApiBaseFn>(dlsym(h, "OrtGetApiBase"));
    if (!fn) {
        why = path + " has no OrtGetApiBase (not ONNX Runtime)";
        dlclose(h);
        return nullptr;
    }
    auto rt = make_runtime(h, fn, path);  // a too-old library is an error, not a reason to look on
    reg[key] = rt;
    return rt;
}

}  // namespace

std::shared_ptr<Runtime> load_runtime(const std::string& requested) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    std::string why;
    if (!requested.empty()) {
        if (auto rt = open_library(requested, why)) return rt;
        throw Error(EDNN_ERROR_RUNTIME, "onnxruntime: could not load " + py_repr(requested) + ": " + why);
    }
    if (const char* env = std::getenv("EDNN_ONNXRUNTIME_LIBRARY"); env && *env) {
        if (auto rt = open_library(env, why)) return rt;
        throw Error(EDNN_ERROR_RUNTIME,
                    "onnxruntime: could not load EDNN_ONNXRUNTIME_LIBRARY=" + py_repr(env) + ": " + why);
    }
    // an ONNX Runtime the program already links or loaded
    if (auto fn = reinterpret_cast<GetApiBaseFn>(dlsym(RTLD_DEFAULT, "OrtGetApiBase"))) {
        auto& reg = registry();
        auto it = reg.find("(process)");
        if (it != reg.end()) return it->second;
        auto rt = make_runtime(nullptr, fn, "the ONNX Runtime loaded in this process");
        reg["(process)"] = rt;
        return rt;
    }
    std::vector<std::string> tried;
    for (const std::string& cand : python_package_candidates()) {
        if (auto rt = open_library(cand, why)) return rt;
        tried.push_back(cand + " (" + why + ")");
    }
    for (const char* name : {"libonnxruntime.so", "libonnxruntime.so.1"}) {
        if (auto rt = open_library(name, why)) return rt;
        tried.push_back(std::string(name) + " (" + why + ")");
    }
    throw Error(EDNN_ERROR_RUNTIME,
                "onnxruntime: could not find the ONNX Runtime library; tried " + join(tried, "; ") +
                    ". Install it (pip install onnxruntime), set EDNN_ONNXRUNTIME_LIBRARY, or pass its path "
                    "(ednn_options_set_onnxruntime_library)");
}

void ignore(const OrtApi* api, OrtStatus* st) {
    if (st) api->ReleaseStatus(st);
}

void check(const OrtApi* api, OrtStatus* st, ednn_status code, const std::string& what) {
    if (!st) return;
    std::string msg = api->GetErrorMessage(st);
    api->ReleaseStatus(st);
    throw Error(code, what + ": " + msg);
}

}  // namespace ednn::detail
