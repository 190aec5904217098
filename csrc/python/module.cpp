// Thin pybind11 layer over the ednn C++ core: converts arrays, checks shapes, releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "ednn/build_info.hpp"
#include "ednn/tiling.hpp"

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

}  // namespace

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
    m.def("cuda_synchronize", [](std::uintptr_t stream) {
        py::gil_scoped_release release;
        ednn::cuda::synchronize(reinterpret_cast<void*>(stream));
    }, py::arg("stream") = 0);
    m.def("cuda_device_count", &ednn::cuda_device_count);
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
}
