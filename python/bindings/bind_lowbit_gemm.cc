// Bindings of the lowbit GEMV/GEMM kernels: a thin adapter over
// scalecore/lowbit/{pack,gemm}.h.  scalecore/lowbit/_linear.py converts and
// validates user input first; these checks repeat the contract.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "common.h"
#include "scalecore/lowbit/gemm.h"
#include "scalecore/lowbit/pack.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::lowbit;

namespace {

int wfmt_of(const std::string& fmt) {
  if (fmt == "int4") return LB_W_INT4;
  if (fmt == "int8") return LB_W_INT8;
  if (fmt == "mxfp4") return LB_W_FP4;
  throw ValueError("fmt: expected 'int4', 'int8' or 'mxfp4', got '" + fmt + "'");
}

template <class T>
const T* arr(const py::array& a, const char* name, const char* dtype) {
  if (!py::isinstance<py::array_t<T>>(a))
    throw TypeError(std::string(name) + ": expected a " + dtype + " array, got dtype " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style)) throw ValueError(std::string(name) + ": expected a C-contiguous array");
  return static_cast<const T*>(a.data());
}

py::dict quantize_pack(const py::array& w, const std::string& fmt, int64_t group) {
  const int f = wfmt_of(fmt);
  if (f == LB_W_FP4) throw ValueError("fmt: mxfp4 weights are quantized by scalecore.lowbit.quantize, then packed");
  const float* wp = arr<float>(w, "weight", "float32");
  if (w.ndim() != 2) throw ValueError("weight: expected a 2-D (out, in) array, got shape " + shape_str(w));
  const int64_t N = w.shape(0), K = w.shape(1);
  lb_check_layout(f, N, K, group);
  py::array_t<int8_t> codes({N, K});
  py::dict d;
  float* sp = out_array<float>(d, "scales", {N, K / group});
  uint8_t* pp = out_array<uint8_t>(d, "packed", {N, lb_row_bytes(f, K)});
  {
    py::gil_scoped_release nogil;
    lowbit_quantize_weights(wp, N, K, group, f, codes.mutable_data(), sp);
    lowbit_pack_codes(codes.data(), N, K, group, f, pp);
  }
  return d;
}

py::array pack_codes(const py::array& codes, const std::string& fmt, int64_t group) {
  const int f = wfmt_of(fmt);
  const int8_t* cp = arr<int8_t>(codes, "codes", "int8");
  if (codes.ndim() != 2) throw ValueError("codes: expected a 2-D array, got shape " + shape_str(codes));
  const int64_t N = codes.shape(0), K = codes.shape(1);
  lb_check_layout(f, N, K, group);
  py::array_t<uint8_t> out({N, lb_row_bytes(f, K)});
  lowbit_pack_codes(cp, N, K, group, f, out.mutable_data());
  return out;
}

void check_packed(const py::array& packed, int f, int64_t K, const char* name) {
  if (packed.ndim() != 2 || packed.shape(1) != lb_row_bytes(f, K))
    throw ValueError(std::string(name) + ": expected shape (out, " + std::to_string(lb_row_bytes(f, K)) + "), got " +
                     shape_str(packed));
}

py::array unpack_codes(const py::array& packed, const std::string& fmt, int64_t K, int64_t group) {
  const int f = wfmt_of(fmt);
  const uint8_t* pp = arr<uint8_t>(packed, "packed", "uint8");
  check_packed(packed, f, K, "packed");
  const int64_t N = packed.shape(0);
  lb_check_layout(f, N, K, group);
  py::array_t<int8_t> out({N, K});
  lowbit_unpack_codes(pp, 0, N, K, group, f, out.mutable_data());
  return out;
}

py::tuple quantize_tokens(const py::array& x) {
  const float* xp = arr<float>(x, "x", "float32");
  if (x.ndim() != 2) throw ValueError("x: expected a 2-D array, got shape " + shape_str(x));
  const int64_t M = x.shape(0), K = x.shape(1);
  py::array_t<int8_t> codes({M, K});
  py::array_t<float> scales({M});
  {
    py::gil_scoped_release nogil;
    lb_quantize_tokens(xp, M, K, codes.mutable_data(), scales.mutable_data());
  }
  return py::make_tuple(codes, scales);
}

py::array round_bf16(const py::array& x) {
  const float* xp = arr<float>(x, "x", "float32");
  py::array_t<float> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  {
    py::gil_scoped_release nogil;
    lowbit_round_bf16(xp, static_cast<int64_t>(x.size()), out.mutable_data());
  }
  return out;
}

py::array linear(const py::array& packed, const py::array& scales, const std::string& fmt, int64_t K, int64_t group,
                 const py::object& x, const py::object& xq, const py::object& xs, const py::object& bias,
                 const std::string& impl, bool quantize_x, int64_t sgroup, bool bf16) {
  LbLinearArgs a;
  a.wfmt = wfmt_of(fmt);
  a.w = arr<uint8_t>(packed, "packed", "uint8");
  check_packed(packed, a.wfmt, K, "packed");
  a.N = packed.shape(0);
  a.K = K;
  a.group = group;
  lb_check_layout(a.wfmt, a.N, K, group);
  a.sgroup = sgroup;
  a.ws = arr<float>(scales, "scales", "float32");
  if (sgroup < 0 || (sgroup > 0 && K % sgroup != 0)) throw ValueError("sgroup: expected a divisor of K");
  check_shape(scales, {a.N, K / a.scale_group()}, "scales");
  int act;
  if (!x.is_none()) {
    act = bf16 ? LB_A_BF16 : LB_A_F32;
    py::array xa = py::reinterpret_borrow<py::array>(x);
    a.x = arr<float>(xa, "x", "float32");
    if (xa.ndim() != 2 || xa.shape(1) != K)
      throw ValueError("x: expected shape (M, " + std::to_string(K) + "), got " + shape_str(xa));
    a.M = xa.shape(0);
  } else {
    act = LB_A_INT8;
    if (xq.is_none() || xs.is_none()) throw ValueError("x: pass x, or xq and xs");
    py::array qa = py::reinterpret_borrow<py::array>(xq), sa = py::reinterpret_borrow<py::array>(xs);
    a.xq = arr<int8_t>(qa, "xq", "int8");
    if (qa.ndim() != 2 || qa.shape(1) != K)
      throw ValueError("xq: expected shape (M, " + std::to_string(K) + "), got " + shape_str(qa));
    a.M = qa.shape(0);
    a.xs = arr<float>(sa, "xs", "float32");
    check_shape(sa, {a.M}, "xs");
  }
  if (!bias.is_none()) {
    py::array ba = py::reinterpret_borrow<py::array>(bias);
    a.bias = arr<float>(ba, "bias", "float32");
    check_shape(ba, {a.N}, "bias");
  }
  if (quantize_x && bf16) throw ValueError("bf16: cannot be combined with quantize_x");
  py::array_t<float> y({a.M, a.N});
  a.y = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    std::vector<int8_t> q;
    std::vector<float> qs;
    if (quantize_x && act == LB_A_F32) {  // per-token int8 in the same call (no round trip)
      q.resize(static_cast<size_t>(a.M * K));
      qs.resize(static_cast<size_t>(a.M));
      lb_quantize_tokens(a.x, a.M, K, q.data(), qs.data());
      a.xq = q.data();
      a.xs = qs.data();
      a.x = nullptr;
      act = LB_A_INT8;
    }
    lowbit_linear(a, act, impl.c_str());
  }
  return y;
}

// The SC_HD conversions the CUDA W4A8 kernel runs, on the host (tests).
py::array int4x4_to_e4m3x4(const py::array& nib4) {
  const uint32_t* p = arr<uint32_t>(nib4, "nib4", "uint32");
  py::array_t<uint32_t> out(std::vector<py::ssize_t>(nib4.shape(), nib4.shape() + nib4.ndim()));
  for (py::ssize_t i = 0; i < nib4.size(); ++i) out.mutable_data()[i] = lb_int4x4_to_e4m3x4(p[i]);
  return out;
}

py::array e4m3_to_float(const py::array& b) {
  const uint8_t* p = arr<uint8_t>(b, "codes", "uint8");
  py::array_t<float> out(std::vector<py::ssize_t>(b.shape(), b.shape() + b.ndim()));
  for (py::ssize_t i = 0; i < b.size(); ++i) out.mutable_data()[i] = lb_e4m3_to_float(p[i]);
  return out;
}

uint64_t read_probe(const py::array& buf) {
  const uint8_t* p = arr<uint8_t>(buf, "buffer", "uint8");
  const int64_t n = static_cast<int64_t>(buf.size());
  py::gil_scoped_release nogil;
  return lowbit_read_probe(p, n);
}

}  // namespace

void bind_lowbit_gemm(py::module_& m) {
  m.def("lowbit_quantize_pack", &quantize_pack, py::arg("weight"), py::arg("fmt"), py::arg("group"),
        "Quantize float32 weights (N, K) symmetrically per group and pack them: {'packed', 'scales'}.");
  m.def("lowbit_pack_codes", &pack_codes, py::arg("codes"), py::arg("fmt"), py::arg("group"),
        "Pack int8 codes (N, K) into the kernel layout.");
  m.def("lowbit_unpack_codes", &unpack_codes, py::arg("packed"), py::arg("fmt"), py::arg("K"), py::arg("group"),
        "Unpack the kernel layout into int8 codes (N, K).");
  m.def("lowbit_quantize_tokens", &quantize_tokens, py::arg("x"),
        "Per-token symmetric int8 quantization of float32 (M, K): (codes, scales).");
  m.def("lowbit_round_bf16", &round_bf16, py::arg("x"), "Round float32 to bfloat16 (RNE), as float32.");
  m.def("lowbit_int4x4_to_e4m3x4", &int4x4_to_e4m3x4, py::arg("nib4"),
        "Four int4 nibbles per uint32 to four E4M3 bytes (the CUDA kernel's in-register conversion).");
  m.def("lowbit_e4m3_to_float", &e4m3_to_float, py::arg("codes"), "E4M3 bytes to float32 (the CUDA kernel's decode).");
  m.def("lowbit_read_probe", &read_probe, py::arg("buffer"),
        "XOR of a uint8 buffer read with the widest loads on the pool (the bench's read-bandwidth reference).");
  m.def("lowbit_linear", &linear, py::arg("packed"), py::arg("scales"), py::arg("fmt"), py::arg("K"),
        py::arg("group"), py::arg("x") = py::none(), py::arg("xq") = py::none(), py::arg("xs") = py::none(),
        py::arg("bias") = py::none(), py::arg("impl") = "auto", py::arg("quantize_x") = false, py::arg("sgroup") = 0,
        py::arg("bf16") = false,
        "y (M, N) = x @ W^T (+ bias) with packed W; float x (quantized per token to int8 first when quantize_x, "
        "rounded to bfloat16 first when bf16), or int8 codes xq with per-row scales xs.");
}
