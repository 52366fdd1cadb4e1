// Granularity: which elements share one set of quantization parameters.
// A separate axis of choice from the policy, so every policy gets every
// granularity: per tensor, per channel along an axis, per group of G
// consecutive elements along an axis.
#pragma once

#include <string>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

struct PerTensor {};

struct PerChannel {
  int axis = 0;  // negative counts from the end
};

struct PerGroup {
  int axis = -1;          // groups run along this axis (-1: the last, as GPTQ/llama.cpp)
  Index group_size = 32;  // G consecutive elements; the last group may be shorter
};

// The run-time description of a granularity, as a QTensor records it.
struct Granularity {
  enum class Kind { tensor, channel, group };
  Kind kind = Kind::tensor;
  int axis = -1;         // normalized axis; -1 for per tensor
  Index group_size = 0;  // for groups only

  Granularity() = default;
  Granularity(PerTensor) {}
  Granularity(PerChannel c) : kind(Kind::channel), axis(c.axis) {}
  Granularity(PerGroup g) : kind(Kind::group), axis(g.axis), group_size(g.group_size) {}

  friend bool operator==(const Granularity& a, const Granularity& b) {
    return a.kind == b.kind && a.axis == b.axis && a.group_size == b.group_size;
  }
};

// Whether a granularity quantizes the rows of a matrix [out, in] independently:
// per channel along axis 0 (-2), or groups along axis 1 (-1), inside each row.
inline bool quantizes_rows_independently(const Granularity& g) {
  if (g.kind == Granularity::Kind::channel) return g.axis == 0 || g.axis == -2;
  if (g.kind == Granularity::Kind::group) return g.axis == 1 || g.axis == -1;
  return false;
}

inline const char* to_string(Granularity::Kind k) {
  switch (k) {
    case Granularity::Kind::tensor: return "tensor";
    case Granularity::Kind::channel: return "channel";
    case Granularity::Kind::group: return "group";
  }
  return "?";
}

// Where each element's parameters live. The tensor is viewed as
// [outer, channels, inner] around the axis; element (o, c, i) uses parameter
//   base(o, c) + i * inner_step
// per tensor:  base = 0,                          inner_step = 0
// per channel: base = c,                          inner_step = 0
// per group:   base = (o * groups + c / G) * inner, inner_step = 1
// so per-group parameters have the tensor's shape with the axis shrunk to
// ceil(channels / G), in row-major order.
class ParamLayout {
 public:
  ParamLayout(const Shape& shape, Granularity g) : shape_(shape), granularity_(g) {
    const int rank = static_cast<int>(shape.size());
    switch (g.kind) {
      case Granularity::Kind::tensor:
        granularity_.axis = -1;
        split_ = {1, 1, element_count(shape)};
        count_ = 1;
        break;
      case Granularity::Kind::channel:
        if (rank == 0) raise<ShapeError>("per-channel quantization needs a tensor of rank >= 1");
        granularity_.axis = normalize_axis(g.axis, rank);
        split_ = split_at_axis(shape, granularity_.axis);
        count_ = split_.channels;
        break;
      case Granularity::Kind::group:
        if (rank == 0) raise<ShapeError>("per-group quantization needs a tensor of rank >= 1");
        if (g.group_size <= 0) raise("group size G = ", g.group_size, " must be positive");
        granularity_.axis = normalize_axis(g.axis, rank);
        split_ = split_at_axis(shape, granularity_.axis);
        groups_ = (split_.channels + g.group_size - 1) / g.group_size;
        count_ = split_.outer * groups_ * split_.inner;
        break;
    }
  }

  const Shape& shape() const { return shape_; }
  const Granularity& granularity() const { return granularity_; }
  const AxisSplit& split() const { return split_; }
  Index param_count() const { return count_; }
  Index groups_per_axis() const { return groups_; }

  Index base(Index o, Index c) const {
    switch (granularity_.kind) {
      case Granularity::Kind::tensor: return 0;
      case Granularity::Kind::channel: return c;
      case Granularity::Kind::group:
        return (o * groups_ + c / granularity_.group_size) * split_.inner;
    }
    return 0;
  }
  Index inner_step() const { return granularity_.kind == Granularity::Kind::group ? 1 : 0; }

  // The shape of the parameter array (row-major).
  Shape param_shape() const {
    switch (granularity_.kind) {
      case Granularity::Kind::tensor: return {1};
      case Granularity::Kind::channel: return {split_.channels};
      case Granularity::Kind::group: {
        Shape s = shape_;
        s[static_cast<std::size_t>(granularity_.axis)] = groups_;
        return s;
      }
    }
    return {1};
  }

  // Calls f(flat_index, param_index) for every element, in row-major order.
  template <class F>
  void for_each(F&& f) const {
    Index flat = 0;
    const Index step = inner_step();
    for (Index o = 0; o < split_.outer; ++o) {
      for (Index c = 0; c < split_.channels; ++c) {
        const Index b = base(o, c);
        for (Index i = 0; i < split_.inner; ++i, ++flat) f(flat, b + i * step);
      }
    }
  }

  // Calls f(first_flat_index, length, param_base, param_step) for every
  // contiguous run of elements: the fast path for loops that can vectorize.
  template <class F>
  void for_each_run(F&& f) const {
    const Index step = inner_step();
    if (granularity_.kind == Granularity::Kind::tensor) {
      f(Index{0}, split_.inner, Index{0}, Index{0});
      return;
    }
    Index flat = 0;
    for (Index o = 0; o < split_.outer; ++o) {
      for (Index c = 0; c < split_.channels; ++c, flat += split_.inner) {
        f(flat, split_.inner, base(o, c), step);
      }
    }
  }

 private:
  Shape shape_;
  Granularity granularity_;
  AxisSplit split_;
  Index count_ = 1;
  Index groups_ = 0;
};

// Describes where a parameter index points, for error messages.
inline std::string describe_param(const ParamLayout& layout, Index p) {
  const auto& g = layout.granularity();
  switch (g.kind) {
    case Granularity::Kind::tensor: return "the tensor";
    case Granularity::Kind::channel:
      return detail::error_message("channel ", p, " of axis ", g.axis);
    case Granularity::Kind::group:
      return detail::error_message("group ", index_to_string(layout.param_shape(), p),
                                   " (G = ", g.group_size, " along axis ", g.axis, ")");
  }
  return "?";
}

}  // namespace eigenq
