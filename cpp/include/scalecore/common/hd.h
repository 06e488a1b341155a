// Host/device portability for math that CPU and GPU share.
//
// SC_HD marks a function that nvcc compiles for host and device and that a
// plain C++ compiler sees as an ordinary inline function.  Headers that use it
// include no CUDA runtime header, so CPU tests exercise exactly the math the
// GPU runs.
//
// SC_ISA names the instruction set a translation unit is compiled for.  Every
// header of shared math opens `SC_NS_BEGIN` (namespace sc, then an inline
// namespace named after SC_ISA), so the generic, AVX2 and CUDA copies of one
// template get different symbols.  Without this the linker could keep the AVX2
// copy of an inline function for the generic path, and the wheel would raise
// SIGILL on a CPU without AVX2.
#pragma once

#if defined(__CUDACC__)
#define SC_HD __host__ __device__ __forceinline__
#define SC_DEVICE_CODE 1
#else
#define SC_HD inline
#endif

#ifndef SC_ISA
#if defined(__CUDACC__)
#define SC_ISA isa_cuda
#else
#define SC_ISA isa_generic
#endif
#endif

#define SC_NS_BEGIN \
  namespace sc {    \
  inline namespace SC_ISA {
#define SC_NS_END \
  }               \
  }
// The same for a family's namespace (sc::fit, sc::ot, ...): the ISA tag is
// innermost, so sc::fit stays one namespace across translation units.
#define SC_FAMILY_NS_BEGIN(F) \
  namespace sc {              \
  namespace F {               \
  inline namespace SC_ISA {
#define SC_FAMILY_NS_END \
  }                      \
  }                      \
  }

#if defined(__GNUC__) || defined(__clang__)
#define SC_RESTRICT __restrict__
#define SC_LIKELY(x) __builtin_expect(!!(x), 1)
#define SC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SC_RESTRICT
#define SC_LIKELY(x) (x)
#define SC_UNLIKELY(x) (x)
#endif
