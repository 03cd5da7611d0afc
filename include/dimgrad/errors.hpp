// dimgrad — exceptions. Every message says what was expected, what came, and where.
#pragma once

#include <stdexcept>
#include <string>

namespace dg {

// Base of every dimgrad error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A shape that does not fit an op (forward) or a gradient of the wrong shape (backward).
class ShapeError : public Error {
 public:
  using Error::Error;
};
// A dtype the op does not accept, or two dtypes that do not go together.
class DTypeError : public Error {
 public:
  using Error::Error;
};
// An index or dimension out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};
// Misuse of autograd: backward twice through a freed graph, in-place on a leaf, ...
class AutogradError : public Error {
 public:
  using Error::Error;
};
// A file that cannot be read or is not what it claims to be.
class IOError : public Error {
 public:
  using Error::Error;
};

// DG_CHECK(cond, ErrorType, message-expression)
#define DG_CHECK(cond, Kind, msg)      \
  do {                                 \
    if (!(cond)) throw Kind(msg);      \
  } while (0)

}  // namespace dg
