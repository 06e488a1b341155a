// The one error model of scalecore's C++ core.
//
// C++ code throws these typed errors; the binding layer maps each to the
// Python exception of the same name (ValueError, TypeError, ...).  Messages
// name the argument, what was expected and what was received.
#pragma once
#include <stdexcept>
#include <string>

namespace sc {

// A value is wrong: a shape, a range, an inconsistent combination.
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A type is wrong: a dtype that cannot be converted, an object of the wrong kind.
struct TypeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A resource could not be had (device memory, a driver, a device).
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws ValueError(msg) when `cond` is false.
inline void check_value(bool cond, const std::string& msg) {
  if (!cond) throw ValueError(msg);
}

}  // namespace sc
