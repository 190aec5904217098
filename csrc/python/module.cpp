// Thin pybind11 layer over the ednn C++ core: converts arrays, checks shapes, releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "ednn/build_info.hpp"
#include "ednn/ednn.h"  // the limits (macros only; the module does not link the predictor)
#include "ednn/flatten.hpp"
#include "ednn/flatten.hpp"
#include "ednn/rasterize.hpp"
#include "ednn/tiling.hpp"
#include "../dispatch.hpp"  // the CUDA runtime helpers behind DeviceBuffer

namespace py = pybind11;

namespace {

ednn::TileLayout make_layout(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                             int64_t elem_size, int ndim, const std::vector<int64_t>& focus,
                             const std::vector<int64_t>& context) {
    if (shape.size() != strides.size()) throw std::invalid_argument("grid: shape and strides differ in length");
    if (ndim < 1 || ndim > ednn::kMaxSpatialDims || static_cast<size_t>(ndim) > shape.size())
        throw std::invalid_argument("ndim: expected 1..min(3, grid.ndim)=" +
                                    std::to_string(std::min<size_t>(3, shape.size())) + ", got " +
                                    std::to_string(ndim));
    if (focus.size() != static_cast<size_t>(ndim) || context.size() != static_cast<size_t>(ndim))
        throw std::invalid_argument("focus/context: expected " + std::to_string(ndim) + " values each");
    ednn::TileLayout L;
    L.ndim = ndim;
    L.elem_size = elem_size;
    const size_t n_lead = shape.size() - static_cast<size_t>(ndim);
    L.lead_shape.assign(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(n_lead));
    L.lead_strides.assign(strides.begin(), strides.begin() + static_cast<std::ptrdiff_t>(n_lead));
    for (int k = 0; k < ndim; ++k) {
        L.size[k] = shape[n_lead + k];
        L.stride[k] = strides[n_lead + k];
        L.focus[k] = focus[k];
        L.context[k] = context[k];
    }
    ednn::simplify_lead(L);
    ednn::validate(L);
    return L;
}

void tile_host(const py::array& grid, py::array& out, int ndim, const std::vector<int64_t>& focus,
               const std::vector<int64_t>& context, int64_t first, int64_t count, int threads) {
    std::vector<int64_t> shape(grid.shape(), grid.shape() + grid.ndim());
    std::vector<int64_t> strides(grid.strides(), grid.strides() + grid.ndim());
    ednn::TileLayout L = make_layout(shape, strides, grid.itemsize(), ndim, focus, context);
    if (!(out.flags() & py::array::c_style) || !out.writeable())
        throw std::invalid_argument("out: expected a writeable C-contiguous array");
    if (out.itemsize() != grid.itemsize())
        throw std::invalid_argument("out: expected itemsize " + std::to_string(grid.itemsize()) + ", got " +
                                    std::to_string(out.itemsize()));
    const int64_t need = count * L.lead_elements() * L.tile_elements();
    if (out.size() != need)
        throw std::invalid_argument("out: expected " + std::to_string(need) + " elements, got " +
                                    std::to_string(out.size()));
    const void* src = grid.data();
    void* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        ednn::tile(src, dst, L, first, count, ednn::Device::CPU, threads);
    }
}

void tile_device(std::uintptr_t grid, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                 int64_t elem_size, std::uintptr_t out, int ndim, const std::vector<int64_t>& focus,
                 const std::vector<int64_t>& context, int64_t first, int64_t count, std::uintptr_t stream) {
    ednn::TileLayout L = make_layout(shape, strides, elem_size, ndim, focus, context);
    py::gil_scoped_release release;
    ednn::tile(reinterpret_cast<const void*>(grid), reinterpret_cast<void*>(out), L, first, count,
               ednn::Device::CUDA, 0, reinterpret_cast<void*>(stream));
}

using HostDoubles = py::array_t<double, py::array::c_style | py::array::forcecast>;

ednn::RasterGrid make_raster_grid(const std::vector<double>& cell, const std::vector<int64_t>& shape,
                                  const std::vector<int64_t>& origin, const std::vector<int64_t>& window,
                                  double gamma, int64_t elem_size) {
    const size_t d = shape.size();
    if (d != 2 && d != 3) throw std::invalid_argument("shape: expected 2 or 3 axes, got " + std::to_string(d));
    if (cell.size() != d || origin.size() != d || window.size() != d)
        throw std::invalid_argument("cell/origin/window_shape: expected " + std::to_string(d) + " values each");
    ednn::RasterGrid g;
    g.ndim = static_cast<int>(d);
    for (size_t k = 0; k < d; ++k) {
        g.cell[k] = cell[k];
        g.shape[k] = shape[k];
        g.origin[k] = origin[k];
        g.window[k] = window[k];
    }
    g.gamma = gamma;
    g.elem_size = elem_size;
    ednn::validate(g);
    return g;
}

int64_t check_atoms(const HostDoubles& positions, const HostDoubles& numbers, int d) {
    const int64_t n = numbers.ndim() == 1 ? numbers.shape(0) : -1;
    if (n < 0) throw std::invalid_argument("numbers: expected a 1-D array");
    if (positions.ndim() != 2 || positions.shape(0) != n || positions.shape(1) != d)
        throw std::invalid_argument("positions: expected shape (" + std::to_string(n) + ", " + std::to_string(d) + ")");
    return n;
}

void rasterize_host(const HostDoubles& positions, const HostDoubles& numbers, const std::vector<double>& cell,
                    const std::vector<int64_t>& shape, const std::vector<int64_t>& origin,
                    const std::vector<int64_t>& window, double gamma, py::array& out, int threads) {
    int64_t elem = 0;
    if (out.dtype().is(py::dtype::of<float>())) elem = 4;
    if (out.dtype().is(py::dtype::of<double>())) elem = 8;
    if (elem == 0) throw std::invalid_argument("out: expected a float32 or float64 array");
    ednn::RasterGrid g = make_raster_grid(cell, shape, origin, window, gamma, elem);
    const int64_t n = check_atoms(positions, numbers, g.ndim);
    if (!(out.flags() & py::array::c_style) || !out.writeable())
        throw std::invalid_argument("out: expected a writeable C-contiguous array");
    if (out.ndim() != g.ndim) throw std::invalid_argument("out: expected " + std::to_string(g.ndim) + " axes");
    for (int k = 0; k < g.ndim; ++k)
        if (out.shape(k) != g.window[k])
            throw std::invalid_argument("out: expected the window's shape, axis " + std::to_string(k) + " has " +
                                        std::to_string(out.shape(k)) + " points instead of " +
                                        std::to_string(g.window[k]));
    const double* p = positions.data();
    const double* z = numbers.data();
    void* dst = out.mutable_data();
    py::gil_scoped_release release;
    ednn::rasterize(p, z, n, g, dst, ednn::Device::CPU, threads);
}

void rasterize_device(const HostDoubles& positions, const HostDoubles& numbers, const std::vector<double>& cell,
                      const std::vector<int64_t>& shape, const std::vector<int64_t>& origin,
                      const std::vector<int64_t>& window, double gamma, std::uintptr_t out, int64_t elem_size,
                      std::uintptr_t stream) {
    ednn::RasterGrid g = make_raster_grid(cell, shape, origin, window, gamma, elem_size);
    const int64_t n = check_atoms(positions, numbers, g.ndim);
    const double* p = positions.data();
    const double* z = numbers.data();
    py::gil_scoped_release release;
    ednn::rasterize(p, z, n, g, reinterpret_cast<void*>(out), ednn::Device::CUDA, 0, reinterpret_cast<void*>(stream));
}

/// Device memory owned by Python; freed when the object is collected.
class DeviceBuffer {
public:
    explicit DeviceBuffer(std::size_t nbytes) : ptr_(ednn::cuda::malloc_device(nbytes)), nbytes_(nbytes) {}
    ~DeviceBuffer() { ednn::cuda::free_device(ptr_); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    std::uintptr_t ptr() const { return reinterpret_cast<std::uintptr_t>(ptr_); }
    std::size_t nbytes() const { return nbytes_; }
    void copy_to_host(py::array& dst) const {
        if (static_cast<std::size_t>(dst.nbytes()) != nbytes_ || !(dst.flags() & py::array::c_style))
            throw std::invalid_argument("dst: expected a C-contiguous array of " + std::to_string(nbytes_) + " bytes");
        void* d = dst.mutable_data();
        py::gil_scoped_release release;
        ednn::cuda::copy_to_host(d, ptr_, nbytes_);
    }

    void copy_from_host(const py::array& src) {
        if (static_cast<std::size_t>(src.nbytes()) != nbytes_ || !(src.flags() & py::array::c_style))
            throw std::invalid_argument("src: expected a C-contiguous array of " + std::to_string(nbytes_) + " bytes");
        const void* s = src.data();
        py::gil_scoped_release release;
        ednn::cuda::copy_to_device(ptr_, s, nbytes_);
    }

private:
    void* ptr_;
    std::size_t nbytes_;
};

using HostInt64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using HostBytes = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

py::tuple flatten_patch(const HostDoubles& xy, const py::object& movable, const HostInt64& pi, const HostInt64& pj,
                        const HostDoubles& target, const std::vector<double>& box, int iterations, double tol,
                        double damping_min, double max_step) {
    if (xy.ndim() != 2 || xy.shape(1) != 2) throw std::invalid_argument("xy: expected shape (n, 2)");
    const int64_t n = xy.shape(0);
    const int64_t m = pi.ndim() == 1 ? pi.shape(0) : -1;
    if (m < 0 || pj.ndim() != 1 || pj.shape(0) != m || target.ndim() != 1 || target.shape(0) != m)
        throw std::invalid_argument("pairs: expected i, j and target of one shape (m,)");
    if (box.size() != 2) throw std::invalid_argument("box: expected 2 lengths, got " + std::to_string(box.size()));
    HostBytes mask;
    const uint8_t* mv = nullptr;
    if (!movable.is_none()) {
        mask = HostBytes::ensure(movable);
        if (!mask || mask.ndim() != 1 || mask.shape(0) != n)
            throw std::invalid_argument("movable: expected None or shape (" + std::to_string(n) + ",)");
        mv = mask.data();
    }
    ednn::FlattenSettings settings;
    settings.iterations = iterations;
    settings.tol = tol;
    settings.damping_min = damping_min;
    settings.max_step = max_step;
    py::array_t<double> out({n, int64_t{2}});
    std::copy(xy.data(), xy.data() + 2 * n, out.mutable_data());
    double* o = out.mutable_data();
    const int64_t* a = pi.data();
    const int64_t* b = pj.data();
    const double* t = target.data();
    int kept = 0;
    {
        py::gil_scoped_release release;
        kept = ednn::flatten_patch(o, mv, n, a, b, t, m, box.data(), settings);
    }
    return py::make_tuple(out, kept);
}

}  // namespace

// DLPack (v0.x ABI, as specified by the DLPack standard): just enough to read a tensor's layout.
struct DlDevice {
    int32_t device_type;
    int32_t device_id;
};
struct DlDataType {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
};
struct DlTensor {
    void* data;
    DlDevice device;
    int32_t ndim;
    DlDataType dtype;
    int64_t* shape;
    int64_t* strides;  // in elements; null means compact row-major
    uint64_t byte_offset;
};

/// Layout of the tensor in an unconsumed "dltensor" capsule. The capsule is not consumed: its
/// owner keeps the memory alive until the capsule itself is released.
py::dict dlpack_describe(const py::capsule& cap) {
    if (std::string(cap.name() ? cap.name() : "") != "dltensor")
        throw std::invalid_argument("grid: expected an unconsumed DLPack capsule named 'dltensor'");
    const auto* t = static_cast<const DlTensor*>(cap.get_pointer());
    if (t->dtype.lanes != 1 || t->dtype.bits % 8 != 0)
        throw std::invalid_argument("grid: expected a DLPack tensor of whole-byte scalars, got lanes=" +
                                    std::to_string(t->dtype.lanes) + " bits=" + std::to_string(t->dtype.bits));
    static const char kinds[] = {'i', 'u', 'f', 'V', 'V', 'c', 'b'};
    const char kind = t->dtype.code < sizeof(kinds) ? kinds[t->dtype.code] : 'V';
    const int64_t item = t->dtype.bits / 8;
    py::list shape, strides;
    int64_t acc = item;
    std::vector<int64_t> compact(static_cast<size_t>(t->ndim));
    for (int i = t->ndim - 1; i >= 0; --i) {
        compact[static_cast<size_t>(i)] = acc;
        acc *= t->shape[i];
    }
    for (int i = 0; i < t->ndim; ++i) {
        shape.append(t->shape[i]);
        strides.append(t->strides ? t->strides[i] * item : compact[static_cast<size_t>(i)]);
    }
    py::dict d;
    d["data"] = reinterpret_cast<std::uintptr_t>(t->data) + t->byte_offset;
    d["shape"] = py::tuple(shape);
    d["strides"] = py::tuple(strides);
    d["typestr"] = std::string("|") + kind + std::to_string(item);
    d["device_type"] = t->device.device_type;
    d["device_id"] = t->device.device_id;
    return d;
}

PYBIND11_MODULE(_ednn, m) {
    m.doc() = "Compiled core of ednn (tiling kernels, build information).";

    static py::exception<std::invalid_argument> input_error(m, "InputError", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const std::invalid_argument& e) {
            py::set_error(input_error, e.what());
        }
    });

    m.def("tile_host", &tile_host, py::arg("grid"), py::arg("out"), py::arg("ndim"), py::arg("focus"),
          py::arg("context"), py::arg("first"), py::arg("count"), py::arg("threads") = 0,
          "Write tiles [first, first+count) of a host array into `out` ([count, *lead, t...]).");
    m.def("tile_device", &tile_device, py::arg("grid"), py::arg("shape"), py::arg("strides"),
          py::arg("elem_size"), py::arg("out"), py::arg("ndim"), py::arg("focus"), py::arg("context"),
          py::arg("first"), py::arg("count"), py::arg("stream") = 0,
          "Same as tile_host on CUDA device pointers (strides in bytes); asynchronous on `stream`.");
    m.def("rasterize_host", &rasterize_host, py::arg("positions"), py::arg("numbers"), py::arg("cell"),
          py::arg("shape"), py::arg("origin"), py::arg("window"), py::arg("gamma"), py::arg("out"),
          py::arg("threads") = 0,
          "Eq. 2 Gaussian potential of atoms ((n, d) positions, (n,) numbers) on a window of the periodic grid "
          "into `out` (float32 or float64, the window's shape).");
    m.def("rasterize_device", &rasterize_device, py::arg("positions"), py::arg("numbers"), py::arg("cell"),
          py::arg("shape"), py::arg("origin"), py::arg("window"), py::arg("gamma"), py::arg("out"),
          py::arg("elem_size"), py::arg("stream") = 0,
          "Same as rasterize_host into a CUDA device pointer (elem_size 4 or 8); asynchronous on `stream`.");
    m.def("flatten_patch", &flatten_patch, py::arg("xy"), py::arg("movable"), py::arg("i"), py::arg("j"),
          py::arg("target"), py::arg("box"), py::arg("iterations") = 12, py::arg("tol") = 1e-4,
          py::arg("damping_min") = 1e-3, py::arg("max_step") = 1.0,
          "Levenberg-Marquardt fit of in-plane positions ((n, 2)) to pair lengths (ednn/flatten.hpp): "
          "(new positions, steps kept).");
    m.def("rasterize_cutoff", &ednn::rasterize_cutoff, py::arg("gamma"),
          "Cutoff radius gamma * sqrt(2 ln 1e7) beyond which Gaussian terms are dropped.");
    m.def("cuda_synchronize", [](std::uintptr_t stream) {
        py::gil_scoped_release release;
        ednn::cuda::synchronize(reinterpret_cast<void*>(stream));
    }, py::arg("stream") = 0);
    m.def("cuda_device_count", &ednn::cuda_device_count);
    m.def("dlpack_describe", &dlpack_describe, py::arg("capsule"),
          "Pointer, shape, byte strides, typestr and device of a DLPack capsule (not consumed).");
    m.def("build_info", []() {
        const ednn::BuildInfo b = ednn::build_info();
        py::dict d;
        d["version"] = b.version;
        d["openmp"] = b.openmp;
        d["omp_max_threads"] = b.omp_max_threads;
        d["cuda"] = b.cuda;
        d["cuda_runtime_version"] = b.cuda_runtime_version;
        d["cuda_architectures"] = b.cuda_architectures;
        d["cuda_devices"] = ednn::cuda_device_count();
        return d;
    });
    py::class_<DeviceBuffer>(m, "DeviceBuffer")
        .def(py::init<std::size_t>(), py::arg("nbytes"))
        .def_property_readonly("ptr", &DeviceBuffer::ptr)
        .def_property_readonly("nbytes", &DeviceBuffer::nbytes)
        .def("copy_to_host", &DeviceBuffer::copy_to_host, py::arg("dst"))
        .def("copy_from_host", &DeviceBuffer::copy_from_host, py::arg("src"));
    m.attr("__version__") = ednn::build_info().version;
    m.attr("MAX_LEAD_DIMS") = ednn::kMaxLeadDims;
    // the limits of ednn.h, which ednn._checks applies in Python
    m.attr("MAX_METADATA_INT") = EDNN_MAX_METADATA_INT;
    m.attr("MAX_TILE_ELEMENTS") = EDNN_MAX_TILE_ELEMENTS;
    m.attr("MAX_BATCH_ELEMENTS") = EDNN_MAX_BATCH_ELEMENTS;
    m.attr("THREADS_PER_CORE") = ednn::kThreadsPerCore;
    m.attr("MIN_GAMMA") = ednn::kRasterizeMinGamma;
    m.def("max_threads", &ednn::max_threads,
          "The most threads a call may ask for: THREADS_PER_CORE x the online cores.");
}
