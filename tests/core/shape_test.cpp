#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::Shape;

TEST(Shape, ElementCountAndErrors) {
  EXPECT_EQ(eigenq::element_count({}), 1);
  EXPECT_EQ(eigenq::element_count({2, 3, 4}), 24);
  EXPECT_EQ(eigenq::element_count({5, 0, 7}), 0);
  EXPECT_THROW(eigenq::element_count({2, -1}), eigenq::ShapeError);
  const Index big = Index{1} << 40;
  try {
    eigenq::element_count({big, big});
    FAIL() << "overflow not detected";
  } catch (const eigenq::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("int64"), std::string::npos) << e.what();
  }
}

TEST(Shape, NormalizeAxis) {
  EXPECT_EQ(eigenq::normalize_axis(-1, 3), 2);
  EXPECT_EQ(eigenq::normalize_axis(0, 3), 0);
  EXPECT_EQ(eigenq::normalize_axis(-3, 3), 0);
  try {
    eigenq::normalize_axis(3, 3);
    FAIL();
  } catch (const eigenq::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("axis 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eigenq::normalize_axis(-4, 3), eigenq::ShapeError);
}

TEST(Shape, IndexToString) {
  EXPECT_EQ(eigenq::index_to_string({2, 3, 4}, 0), "[0, 0, 0]");
  EXPECT_EQ(eigenq::index_to_string({2, 3, 4}, 23), "[1, 2, 3]");
  EXPECT_EQ(eigenq::index_to_string({2, 3, 4}, 13), "[1, 0, 1]");
}

// Brute-force parameter index of a row-major element under a granularity.
Index expected_param(const Shape& shape, const eigenq::Granularity& g, Index flat) {
  std::vector<Index> idx(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    idx[k] = flat % shape[k];
    flat /= shape[k];
  }
  using K = eigenq::Granularity::Kind;
  if (g.kind == K::tensor) return 0;
  const auto a = static_cast<std::size_t>(g.axis);
  if (g.kind == K::channel) return idx[a];
  idx[a] /= g.group_size;
  Shape pshape = shape;
  pshape[a] = (shape[a] + g.group_size - 1) / g.group_size;
  Index p = 0;
  for (std::size_t k = 0; k < shape.size(); ++k) p = p * pshape[k] + idx[k];
  return p;
}

TEST(ParamLayout, MatchesBruteForceForEveryGranularity) {
  const std::vector<Shape> shapes = {{7}, {3, 13}, {5, 9, 3}, {2, 3, 5, 7}, {1, 1}};
  for (const Shape& shape : shapes) {
    const int rank = static_cast<int>(shape.size());
    std::vector<eigenq::Granularity> gs = {eigenq::PerTensor{}};
    for (int a = 0; a < rank; ++a) {
      gs.push_back(eigenq::PerChannel{a});
      for (Index gsz : {1, 2, 4, 5}) gs.push_back(eigenq::PerGroup{a, gsz});
    }
    for (const auto& g0 : gs) {
      const eigenq::ParamLayout layout(shape, g0);
      const eigenq::Granularity& g = layout.granularity();
      std::vector<int> seen(static_cast<std::size_t>(layout.param_count()), 0);
      Index next = 0;
      layout.for_each([&](Index flat, Index p) {
        ASSERT_EQ(flat, next++);
        ASSERT_EQ(p, expected_param(shape, g, flat)) << eigenq::to_string(shape) << " flat " << flat;
        ASSERT_LT(p, layout.param_count());
        seen[static_cast<std::size_t>(p)] = 1;
      });
      EXPECT_EQ(next, eigenq::element_count(shape));
      for (int s : seen) EXPECT_EQ(s, 1) << "every parameter set is used";
      EXPECT_EQ(eigenq::element_count(layout.param_shape()), layout.param_count());
      // for_each_run covers the same mapping.
      layout.for_each_run([&](Index first, Index n, Index base, Index step) {
        for (Index i = 0; i < n; ++i) {
          ASSERT_EQ(base + i * step, expected_param(shape, g, first + i));
        }
      });
    }
  }
}

TEST(ParamLayout, GroupShapes) {
  const eigenq::ParamLayout layout({4, 70}, eigenq::PerGroup{1, 32});
  EXPECT_EQ(layout.groups_per_axis(), 3);  // 32 + 32 + a partial group of 6
  EXPECT_EQ(layout.param_shape(), (Shape{4, 3}));
  EXPECT_EQ(layout.param_count(), 12);
  const eigenq::ParamLayout by_rows({70, 4}, eigenq::PerGroup{0, 32});
  EXPECT_EQ(by_rows.param_shape(), (Shape{3, 4}));
}

TEST(ParamLayout, Errors) {
  EXPECT_THROW(eigenq::ParamLayout({4, 4}, eigenq::PerChannel{2}), eigenq::ShapeError);
  EXPECT_THROW(eigenq::ParamLayout({}, eigenq::PerChannel{0}), eigenq::ShapeError);
  try {
    eigenq::ParamLayout({4, 4}, eigenq::PerGroup{1, 0});
    FAIL();
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("G = 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eigenq::ParamLayout({4, 4}, eigenq::PerGroup{1, -3}), eigenq::InvalidArgument);
}

}  // namespace
