// Adapts Eigen's containers to eigenq's canonical form: a contiguous row-major
// float array plus its logical shape. Row-major contiguous inputs are used in
// place; anything else (column-major, strided, expressions) is copied once.
// Matrices have the logical shape [rows, cols]; tensors their dimensions in
// index order, whatever their storage layout.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"

namespace eigenq {

// A read-only row-major float view that may own its data.
class RowMajorView {
 public:
  RowMajorView(const float* data, Shape shape) : data_(data), shape_(std::move(shape)) {
    size_ = element_count(shape_);
  }
  RowMajorView(std::vector<float> owned, Shape shape)
      : owned_(std::move(owned)), data_(owned_.data()), shape_(std::move(shape)) {
    size_ = element_count(shape_);
  }
  RowMajorView(const RowMajorView&) = delete;
  RowMajorView& operator=(const RowMajorView&) = delete;
  RowMajorView(RowMajorView&& o) noexcept
      : owned_(std::move(o.owned_)),
        data_(owned_.empty() ? o.data_ : owned_.data()),
        shape_(std::move(o.shape_)),
        size_(o.size_) {}

  const float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  Index size() const { return size_; }
  float operator[](Index i) const { return data_[i]; }

 private:
  std::vector<float> owned_;
  const float* data_ = nullptr;
  Shape shape_;
  Index size_ = 0;
};

}  // namespace eigenq

// Eigen's Tensor module costs every translation unit about a quarter of <Eigen/Dense>'s compile
// time, so eigenq declares the two templates it names (with all their arguments spelled out
// where used) and leaves including <unsupported/Eigen/CXX11/Tensor> to code that has tensors.
namespace Eigen {
template <typename T>
struct MakePointer;
template <typename Scalar_, int NumIndices_, int Options_, typename IndexType>
class Tensor;
template <typename PlainObjectType, int Options_, template <class> class MakePointer_>
class TensorMap;
}  // namespace Eigen

namespace eigenq {
namespace detail {

// Row-major float tensors of rank Rank, the layout eigenq's data has.
template <class Scalar, int Rank>
using RowMajorTensorMap =
    Eigen::TensorMap<Eigen::Tensor<Scalar, Rank, Eigen::RowMajor, Index>, Eigen::Unaligned, Eigen::MakePointer>;

template <class T, class = void>
struct is_eigen_tensor : std::false_type {};
// Tensor, TensorMap and TensorRef expose NumDimensions and dimensions().
template <class T>
struct is_eigen_tensor<T, std::void_t<decltype(T::NumDimensions),
                                      decltype(std::declval<const T&>().dimensions())>>
    : std::true_type {};

template <class T>
inline constexpr bool is_dense_v = std::is_base_of_v<Eigen::DenseBase<T>, T>;

template <class Dims>
Shape shape_of_dims(const Dims& dims, int rank) {
  Shape s(static_cast<std::size_t>(rank));
  for (int k = 0; k < rank; ++k) s[static_cast<std::size_t>(k)] = static_cast<Index>(dims[k]);
  return s;
}

}  // namespace detail

// Matrices, vectors, Maps, Refs and other dense expressions.
template <class Derived>
RowMajorView row_major_view(const Eigen::DenseBase<Derived>& x) {
  static_assert(std::is_same_v<typename Derived::Scalar, float>, "eigenq quantizes float data");
  const Shape shape{static_cast<Index>(x.rows()), static_cast<Index>(x.cols())};
  using Plain = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  if constexpr (bool(Derived::Flags & Eigen::DirectAccessBit) &&
                bool(Derived::Flags & Eigen::RowMajorBit)) {
    const auto& d = x.derived();
    if (d.innerStride() == 1 && (d.rows() <= 1 || d.outerStride() == d.cols())) {
      return RowMajorView(d.data(), shape);
    }
  }
  if constexpr (bool(Derived::Flags & Eigen::DirectAccessBit) && Derived::IsVectorAtCompileTime) {
    const auto& d = x.derived();
    if (d.innerStride() == 1) return RowMajorView(d.data(), shape);  // a contiguous vector
  }
  std::vector<float> buf(static_cast<std::size_t>(x.size()));
  Eigen::Map<Plain>(buf.data(), x.rows(), x.cols()) = x.derived();
  return RowMajorView(std::move(buf), shape);
}

// Tensors and TensorMaps of any rank and layout.
template <class T, std::enable_if_t<detail::is_eigen_tensor<T>::value, int> = 0>
RowMajorView row_major_view(const T& t) {
  static_assert(std::is_same_v<std::remove_const_t<typename T::Scalar>, float>,
                "eigenq quantizes float data");
  constexpr int rank = T::NumDimensions;
  const Shape shape = detail::shape_of_dims(t.dimensions(), rank);
  if constexpr (static_cast<int>(T::Layout) == static_cast<int>(Eigen::RowMajor) || rank <= 1) {
    return RowMajorView(t.data(), shape);
  } else {
    // Column-major storage: its layout swap is the row-major tensor with the
    // dimensions reversed; shuffling them back gives logical row-major order.
    std::vector<float> buf(static_cast<std::size_t>(element_count(shape)));
    std::array<Index, rank> dims;
    std::array<int, rank> reverse;
    for (int k = 0; k < rank; ++k) {
      dims[k] = shape[static_cast<std::size_t>(k)];
      reverse[k] = rank - 1 - k;
    }
    detail::RowMajorTensorMap<float, rank> out(buf.data(), dims);
    out = t.swap_layout().shuffle(reverse);
    return RowMajorView(std::move(buf), shape);
  }
}

// A view of a view (borrows the data).
inline RowMajorView row_major_view(const RowMajorView& v) { return RowMajorView(v.data(), v.shape()); }

// Already canonical data: a pointer and a shape.
inline RowMajorView row_major_view(const float* data, const Shape& shape) {
  return RowMajorView(data, shape);
}

// Builds an Eigen object of type T from row-major floats of the given shape.
template <class T>
T from_row_major(const float* data, const Shape& shape) {
  if constexpr (detail::is_dense_v<T>) {
    using Plain = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    if (shape.size() != 2) {
      raise<ShapeError>("cannot make a matrix from a tensor of shape ", to_string(shape),
                        " (rank 2 needed)");
    }
    Eigen::Map<const Plain> m(data, shape[0], shape[1]);
    if constexpr (T::IsVectorAtCompileTime) {
      if (T::RowsAtCompileTime == 1 && shape[0] != 1) {
        raise<ShapeError>("cannot make a row vector from shape ", to_string(shape));
      }
      if (T::ColsAtCompileTime == 1 && shape[1] != 1) {
        raise<ShapeError>("cannot make a column vector from shape ", to_string(shape));
      }
    }
    T out = m;
    return out;
  } else {
    constexpr int rank = T::NumDimensions;
    if (static_cast<int>(shape.size()) != rank) {
      raise<ShapeError>("cannot make a rank-", rank, " tensor from shape ", to_string(shape));
    }
    std::array<Index, rank> dims;
    for (int k = 0; k < rank; ++k) dims[k] = shape[static_cast<std::size_t>(k)];
    const detail::RowMajorTensorMap<const float, rank> in(data, dims);
    T out;
    if constexpr (static_cast<int>(T::Layout) == static_cast<int>(Eigen::RowMajor) || rank <= 1) {
      out = in;
    } else {
      std::array<int, rank> reverse;
      for (int k = 0; k < rank; ++k) reverse[k] = rank - 1 - k;
      out = in.swap_layout().shuffle(reverse);
    }
    return out;
  }
}

}  // namespace eigenq
