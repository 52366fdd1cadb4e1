// Golden files written by ggml (tests/ggml/golden/, make_ggml_golden.cpp):
// every row quantized by eigenq must give ggml's bytes, and dequantizing
// ggml's bytes must give ggml's floats, bit for bit. The same source is also
// built with -march=native (ggml_native_tests), where FMA is available.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "eigenq/ggml/row.hpp"

namespace eigenq {
namespace ggml {
// gtest prints parameters with this: the type's name rather than its bytes.
void PrintTo(Type t, std::ostream* os) { *os << type_name(t); }
}  // namespace ggml
}  // namespace eigenq

namespace {

namespace gg = eigenq::ggml;
using eigenq::Index;

const std::string kGoldenDir = std::string(EIGENQ_TEST_DATA_DIR) + "/ggml/golden";

std::vector<float> parse_floats(std::istringstream& in, const std::string& where) {
  std::vector<float> out;
  std::string tok;
  while (in >> tok) {
    if (tok.size() != 8) throw std::runtime_error(where + ": bad float token " + tok);
    const std::uint32_t u = static_cast<std::uint32_t>(std::stoul(tok, nullptr, 16));
    float f;
    std::memcpy(&f, &u, 4);
    out.push_back(f);
  }
  return out;
}

std::vector<std::uint8_t> parse_bytes(std::istringstream& in, const std::string& where) {
  std::string hex;
  in >> hex;
  if (hex.size() % 2 != 0) throw std::runtime_error(where + ": odd hex string");
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

struct Input {
  std::vector<float> x, w;
};

const std::map<std::string, Input>& inputs() {
  static const std::map<std::string, Input> table = [] {
    std::map<std::string, Input> out;
    const std::string path = kGoldenDir + "/inputs.txt";
    std::ifstream file(path);
    if (!file) throw std::runtime_error("cannot open " + path);
    std::string line, current;
    int lineno = 0;
    while (std::getline(file, line)) {
      ++lineno;
      if (line.empty() || line[0] == '#') continue;
      std::istringstream in(line);
      std::string key;
      in >> key;
      const std::string where = path + ":" + std::to_string(lineno);
      if (key == "input") {
        in >> current;
      } else if (key == "x") {
        out[current].x = parse_floats(in, where);
      } else if (key == "w") {
        out[current].w = parse_floats(in, where);
      } else {
        throw std::runtime_error(where + ": unknown key " + key);
      }
    }
    return out;
  }();
  return table;
}

struct GoldenRow {
  std::string kind;
  Index n = 0;
  bool importance = false;
  std::vector<float> x, w;  // inline input (fma_trap rows); else inputs.txt's row of this kind
  std::vector<std::uint8_t> q;
  std::vector<float> y;
};

std::vector<GoldenRow> load_type_file(gg::Type type) {
  const std::string path = kGoldenDir + "/" + gg::type_name(type) + ".txt";
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::vector<GoldenRow> rows;
  std::string line;
  int lineno = 0;
  while (std::getline(file, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string key;
    in >> key;
    const std::string where = path + ":" + std::to_string(lineno);
    if (key == "type") {
      std::string name;
      int value = -1;
      in >> name >> value;
      if (name != gg::type_name(type) || value != static_cast<int>(type)) {
        throw std::runtime_error(where + ": file is for " + name);
      }
    } else if (key == "row") {
      GoldenRow r;
      int imp = 0;
      in >> r.kind >> r.n >> imp;
      r.importance = imp != 0;
      rows.push_back(r);
    } else if (key == "x") {
      rows.back().x = parse_floats(in, where);
    } else if (key == "w") {
      rows.back().w = parse_floats(in, where);
    } else if (key == "q") {
      rows.back().q = parse_bytes(in, where);
    } else if (key == "y") {
      rows.back().y = parse_floats(in, where);
    } else {
      throw std::runtime_error(where + ": unknown key " + key);
    }
  }
  return rows;
}

std::string hex_float(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", u);
  return buf;
}

class GgmlGolden : public ::testing::TestWithParam<gg::Type> {};

// Rows of the generator's trap search: eigenq's quantizer built with FMA contraction fails on them.
int count_traps(const std::vector<GoldenRow>& rows) {
  int n = 0;
  for (const GoldenRow& r : rows) n += r.kind == "fma_trap" ? 1 : 0;
  return n;
}

TEST_P(GgmlGolden, BytesAndFloatsMatchGgml) {
  const gg::Type type = GetParam();
  const std::vector<GoldenRow> rows = load_type_file(type);
  ASSERT_GE(rows.size() - static_cast<std::size_t>(count_traps(rows)), 13u) << gg::type_name(type);
  for (const GoldenRow& r : rows) {
    SCOPED_TRACE(std::string(gg::type_name(type)) + " " + r.kind + " n=" + std::to_string(r.n) +
                 (r.importance ? " with importance" : " without importance"));
    const Input input = r.x.empty() ? inputs().at(r.kind) : Input{r.x, r.w};
    ASSERT_LE(r.n, static_cast<Index>(input.x.size()));
    if (r.importance) {
      ASSERT_LE(r.n, static_cast<Index>(input.w.size()));
    }
    const Index bytes = gg::row_size(type, r.n);
    ASSERT_EQ(static_cast<Index>(r.q.size()), bytes);
    ASSERT_EQ(static_cast<Index>(r.y.size()), r.n);

    std::vector<std::uint8_t> q(static_cast<std::size_t>(bytes), 0xEE);
    EXPECT_EQ(gg::quantize_rows(type, input.x.data(), q.data(), 1, r.n, r.importance ? input.w.data() : nullptr),
              bytes);
    for (Index i = 0; i < bytes; ++i) {
      ASSERT_EQ(q[static_cast<std::size_t>(i)], r.q[static_cast<std::size_t>(i)]) << "first differing byte " << i;
    }
    std::vector<float> y(static_cast<std::size_t>(r.n));
    gg::dequantize_row(type, r.q.data(), y.data(), r.n);
    for (Index i = 0; i < r.n; ++i) {
      ASSERT_EQ(hex_float(y[static_cast<std::size_t>(i)]), hex_float(r.y[static_cast<std::size_t>(i)]))
          << "dequantized element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllSupportedTypes, GgmlGolden, ::testing::ValuesIn(gg::supported_types()),
                         [](const ::testing::TestParamInfo<gg::Type>& info) {
                           return std::string(gg::type_name(info.param));
                         });

// Several rows at once give the rows' bytes one after another (the chunk
// semantics), importance shared by all rows.
TEST(GgmlGoldenChunk, MultiRowChunksEqualRowByRow) {
  const Input& a = inputs().at("laplacian");
  for (const gg::Type type : gg::supported_types()) {
    const Index n = gg::block_size(type) == 1 ? 64 : gg::block_size(type);
    const Index rows = static_cast<Index>(a.x.size()) / n;
    const Index bytes = gg::row_size(type, n);
    for (const float* qw : {static_cast<const float*>(nullptr), a.w.data()}) {
      std::vector<std::uint8_t> all(static_cast<std::size_t>(rows * bytes)), one(static_cast<std::size_t>(bytes));
      gg::quantize_rows(type, a.x.data(), all.data(), rows, n, qw);
      for (Index r = 0; r < rows; ++r) {
        gg::quantize_rows(type, a.x.data() + r * n, one.data(), 1, n, qw);
        ASSERT_EQ(0, std::memcmp(one.data(), all.data() + r * bytes, static_cast<std::size_t>(bytes)))
            << gg::type_name(type) << " row " << r;
      }
    }
  }
}

}  // namespace
