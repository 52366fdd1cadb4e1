// Logical shapes. eigenq stores every tensor in row-major (C) order of its
// logical dimensions, the order numpy, PyTorch and safetensors use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

using Shape = std::vector<Index>;

inline std::string to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// Number of elements; throws on negative dimensions or on overflow of Index.
inline Index element_count(const Shape& shape) {
  Index n = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const Index d = shape[i];
    if (d < 0) raise<ShapeError>("dimension ", i, " of shape ", to_string(shape), " is negative");
    if (d != 0 && n > std::numeric_limits<Index>::max() / d) {
      raise<ShapeError>("shape ", to_string(shape), " has more elements than an int64 can count");
    }
    n *= d;
  }
  return n;
}

// Resolves a possibly negative axis (-1 = last) against a rank.
inline int normalize_axis(int axis, int rank) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    raise<ShapeError>("axis ", axis, " is out of range for a tensor of rank ", rank);
  }
  return a;
}

// Row-major multi-index of a flat offset, for error messages.
inline std::string index_to_string(const Shape& shape, Index flat) {
  std::vector<Index> idx(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    const Index d = shape[k] > 0 ? shape[k] : 1;
    idx[k] = flat % d;
    flat /= d;
  }
  return to_string(idx);
}

// The row-major tensor seen as [outer, channels, inner] around one axis.
struct AxisSplit {
  Index outer = 1;
  Index channels = 1;
  Index inner = 1;
};

inline AxisSplit split_at_axis(const Shape& shape, int axis) {
  AxisSplit s;
  for (int k = 0; k < static_cast<int>(shape.size()); ++k) {
    if (k < axis) s.outer *= shape[k];
    else if (k == axis) s.channels = shape[k];
    else s.inner *= shape[k];
  }
  return s;
}

}  // namespace eigenq
