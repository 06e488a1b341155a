// Bindings of the lowbit family: a thin adapter over scalecore/lowbit/quant.h.
// The Python layer (scalecore/lowbit) resolves format names, moves the
// quantized axis last and makes arrays contiguous; these checks repeat the
// contract at the C++ boundary.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "common.h"
#include "scalecore/lowbit/philox.h"
#include "scalecore/lowbit/quant.h"
#include "scalecore/lowbit/traits.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::lowbit;

namespace {

std::vector<py::ssize_t> shape_of(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// (rows, K) of a 2-D array.
void rows_k(const py::array& a, const char* name, int64_t* rows, int64_t* K) {
  if (a.ndim() != 2) throw ValueError(std::string(name) + ": expected a 2-D (rows, K) array, got " + shape_str(a));
  *rows = a.shape(0);
  *K = a.shape(1);
}

py::list formats() {
  py::list out;
  for (int f = 0; f < SC_LB_NUM_ELEM; ++f) {
    const ElemDesc& d = elem_desc(f);
    py::dict e;
    e["name"] = d.name;
    e["id"] = f;
    e["role"] = "element";
    e["kind"] = d.kind == SC_LB_FLOAT ? "float" : "int";
    e["bits"] = d.bits;
    e["exponent_bits"] = d.ebits;
    e["mantissa_bits"] = d.mbits;
    e["bias"] = d.bias;
    e["signed"] = d.is_signed != 0;
    e["specials"] = d.specials == SC_LB_SPECIALS_NONE ? "none" : d.specials == SC_LB_SPECIALS_FN ? "fn" : "ieee";
    out.append(e);
  }
  for (int b = 0; b < SC_LB_NUM_BLOCK; ++b) {
    const BlockDesc& d = block_desc(b);
    py::dict e;
    e["name"] = d.name;
    e["id"] = b;
    e["role"] = "block";
    e["element"] = elem_desc(d.element).name;
    e["block"] = d.block;
    e["scale"] = d.scale == SC_LB_SCALE_F32 ? "float32" : elem_desc(d.scale).name;
    e["tensor_scale"] = d.tensor_scale != 0;
    e["pack"] = d.pack;
    e["emax"] = d.emax;
    out.append(e);
  }
  return out;
}

py::array_t<uint8_t> encode(const py::array& x, int f, bool saturate, int mode, uint64_t seed, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  py::array_t<uint8_t> out(shape_of(x));
  uint8_t* po = out.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    lowbit_encode(f, px, n, saturate, mode, seed, po, impl);
  }
  return out;
}

py::array_t<float> decode(const py::array& c, int f, int impl) {
  const uint8_t* pc = checked_ptr<uint8_t>(c, "codes");
  py::array_t<float> out(shape_of(c));
  float* po = out.mutable_data();
  const int64_t n = c.size();
  {
    py::gil_scoped_release nogil;
    lowbit_decode(f, pc, n, po, impl);
  }
  return out;
}

py::tuple quantize_mx(const py::array& x, int b, int mode, uint64_t seed, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  int64_t rows, K;
  rows_k(x, "x", &rows, &K);
  if (b < SC_LB_BLOCK_MXFP8_E4M3 || b > SC_LB_BLOCK_MXINT8) throw ValueError("fmt: not an MX format");
  if (K % 32 != 0) throw ValueError("x: the quantized axis must be a multiple of 32, got " + std::to_string(K));
  const int pack = block_desc(b).pack;
  py::array_t<uint8_t> codes({rows, K / pack}), scales({rows, K / 32});
  uint8_t *pc = codes.mutable_data(), *ps = scales.mutable_data();
  {
    py::gil_scoped_release nogil;
    lowbit_quantize_mx(b, px, rows, K, mode, seed, pc, ps, impl);
  }
  return py::make_tuple(codes, scales);
}

py::tuple quantize_nvfp4(const py::array& x, float tensor_scale, int mode, uint64_t seed, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  int64_t rows, K;
  rows_k(x, "x", &rows, &K);
  if (K % 16 != 0) throw ValueError("x: the quantized axis must be a multiple of 16, got " + std::to_string(K));
  py::array_t<uint8_t> codes({rows, K / 2}), scales({rows, K / 16});
  uint8_t *pc = codes.mutable_data(), *ps = scales.mutable_data();
  float st;
  {
    py::gil_scoped_release nogil;
    st = lowbit_quantize_nvfp4(px, rows, K, tensor_scale, mode, seed, pc, ps, impl);
  }
  return py::make_tuple(codes, scales, st);
}

py::tuple quantize_fp4_ue5m3(const py::array& x, int mode, uint64_t seed) {
  const float* px = checked_ptr<float>(x, "x");
  int64_t rows, K;
  rows_k(x, "x", &rows, &K);
  if (K % 16 != 0) throw ValueError("x: the quantized axis must be a multiple of 16, got " + std::to_string(K));
  py::array_t<uint8_t> codes({rows, K / 2}), scales({rows, K / 16});
  uint8_t *pc = codes.mutable_data(), *ps = scales.mutable_data();
  {
    py::gil_scoped_release nogil;
    lowbit_quantize_fp4_ue5m3(px, rows, K, mode, seed, pc, ps);
  }
  return py::make_tuple(codes, scales);
}

py::tuple quantize_int(const py::array& x, int bits, bool symmetric, int64_t g, int mode, uint64_t seed, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  int64_t rows, K;
  rows_k(x, "x", &rows, &K);
  if (g <= 0 || K % g != 0 || (bits == 4 && g % 2 != 0))
    throw ValueError("group_size: " + std::to_string(g) + " does not divide the quantized axis (" + std::to_string(K) +
                     ") into groups" + (bits == 4 ? " of even size" : ""));
  py::array_t<uint8_t> codes({rows, bits == 4 ? K / 2 : K});
  py::array_t<float> scales({rows, K / g});
  py::object zeros = py::none();
  uint8_t* pz = nullptr;
  if (!symmetric) {
    py::array_t<uint8_t> z({rows, K / g});
    pz = z.mutable_data();
    zeros = z;
  }
  uint8_t* pc = codes.mutable_data();
  float* ps = scales.mutable_data();
  {
    py::gil_scoped_release nogil;
    lowbit_quantize_int(bits, symmetric, px, rows, K, g, mode, seed, pc, ps, pz, impl);
  }
  return py::make_tuple(codes, scales, zeros);
}

py::array_t<float> group_absmax(const py::array& x, int64_t g, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  int64_t rows, K;
  rows_k(x, "x", &rows, &K);
  if (g <= 0 || K % g != 0) throw ValueError("group_size: does not divide the quantized axis");
  py::array_t<float> out({rows, K / g});
  float* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    lowbit_group_absmax(px, rows, K, g, po, impl);
  }
  return out;
}

py::tuple quantize_int4_fp8scale(const py::array& x, int64_t g, float mult, int mode, uint64_t seed, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  int64_t rows, K;
  rows_k(x, "x", &rows, &K);
  if (g <= 0 || K % g != 0 || g % 2 != 0) throw ValueError("group_size: must be even and divide the quantized axis");
  py::array_t<uint8_t> codes({rows, K / 2}), scales({rows, K / g});
  uint8_t *pc = codes.mutable_data(), *ps = scales.mutable_data();
  {
    py::gil_scoped_release nogil;
    lowbit_quantize_int4_fp8scale(px, rows, K, g, mult, mode, seed, pc, ps, impl);
  }
  return py::make_tuple(codes, scales);
}

py::array_t<float> dequantize(int b, const py::array& codes, const py::array& scales, const py::object& zeros,
                              int64_t rows, int64_t K, int64_t g, float tensor_scale, int impl) {
  if (b < 0 || b >= SC_LB_NUM_BLOCK) throw ValueError("fmt: unknown block format id");
  const BlockDesc& d = block_desc(b);
  const int64_t gg = d.block > 0 ? d.block : g;
  if (gg <= 0 || K % gg != 0) throw ValueError("group_size: does not divide the quantized axis");
  const uint8_t* pc = checked_ptr<uint8_t>(codes, "codes");
  check_shape(codes, {rows, K / d.pack}, "codes");
  const void* ps;
  if (d.scale == SC_LB_SCALE_F32)
    ps = checked_ptr<float>(scales, "scales");
  else
    ps = checked_ptr<uint8_t>(scales, "scales");
  check_shape(scales, {rows, K / gg}, "scales");
  const uint8_t* pz = nullptr;
  if (!zeros.is_none()) {
    py::array z = py::reinterpret_borrow<py::array>(zeros);
    pz = checked_ptr<uint8_t>(z, "zeros");
    check_shape(z, {rows, K / gg}, "zeros");
  }
  py::array_t<float> out({rows, K});
  float* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    lowbit_dequantize(b, pc, ps, pz, rows, K, gg, tensor_scale, po, impl);
  }
  return out;
}

py::array_t<float> hadamard(const py::array& x, int64_t n, const py::object& seed, bool inverse, int impl) {
  const float* px = checked_ptr<float>(x, "x");
  if (n <= 0 || x.size() % n != 0) throw ValueError("block: must divide the last axis");
  py::array_t<float> out(shape_of(x));
  float* po = out.mutable_data();
  std::copy(px, px + x.size(), po);
  const bool has_seed = !seed.is_none();
  const uint64_t s = has_seed ? seed.cast<uint64_t>() : 0;
  const int64_t nb = x.size() / n;
  {
    py::gil_scoped_release nogil;
    lowbit_hadamard(po, nb, n, s, has_seed, inverse, impl);
  }
  return out;
}

py::array_t<float> hadamard_signs(int64_t n, uint64_t seed) {
  py::array_t<float> out({n});
  lowbit_hadamard_signs(n, seed, out.mutable_data());
  return out;
}

}  // namespace

void bind_lowbit(py::module_& m) {
  m.def("lowbit_formats", &formats, "The lowbit format table (formats.def) as a list of dicts.");
  m.def("lowbit_encode", &encode, py::arg("x"), py::arg("fmt"), py::arg("saturate"), py::arg("mode"),
        py::arg("seed"), py::arg("impl") = 0);
  m.def("lowbit_decode", &decode, py::arg("codes"), py::arg("fmt"), py::arg("impl") = 0);
  m.def("lowbit_quantize_mx", &quantize_mx, py::arg("x"), py::arg("fmt"), py::arg("mode"), py::arg("seed"),
        py::arg("impl") = 0);
  m.def("lowbit_quantize_nvfp4", &quantize_nvfp4, py::arg("x"), py::arg("tensor_scale"), py::arg("mode"),
        py::arg("seed"), py::arg("impl") = 0);
  m.def("lowbit_quantize_fp4_ue5m3", &quantize_fp4_ue5m3, py::arg("x"), py::arg("mode"), py::arg("seed"));
  m.def("lowbit_quantize_int", &quantize_int, py::arg("x"), py::arg("bits"), py::arg("symmetric"),
        py::arg("group_size"), py::arg("mode"), py::arg("seed"), py::arg("impl") = 0);
  m.def("lowbit_group_absmax", &group_absmax, py::arg("x"), py::arg("group_size"), py::arg("impl") = 0);
  m.def("lowbit_quantize_int4_fp8scale", &quantize_int4_fp8scale, py::arg("x"), py::arg("group_size"),
        py::arg("mult"), py::arg("mode"), py::arg("seed"), py::arg("impl") = 0);
  m.def("lowbit_dequantize", &dequantize, py::arg("fmt"), py::arg("codes"), py::arg("scales"), py::arg("zeros"),
        py::arg("rows"), py::arg("K"), py::arg("group_size"), py::arg("tensor_scale"), py::arg("impl") = 0);
  m.def("lowbit_hadamard", &hadamard, py::arg("x"), py::arg("block"), py::arg("seed"), py::arg("inverse"),
        py::arg("impl") = 0);
  m.def("lowbit_hadamard_signs", &hadamard_signs, py::arg("block"), py::arg("seed"));
  m.def("lowbit_philox4x32", [](uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
    const Philox4 r = philox4x32_10(c0, c1, c2, c3, k0, k1);
    return py::make_tuple(r.v[0], r.v[1], r.v[2], r.v[3]);
  });
  m.def("lowbit_philox_bits", [](uint64_t seed, uint64_t i, uint32_t stream) { return philox_bits(seed, i, stream); });
  m.def("lowbit_kernel_name", [](int impl) { return std::string(lb_kernels(impl).name); }, py::arg("impl") = 0);
}
