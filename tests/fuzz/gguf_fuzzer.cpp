// libFuzzer target: the GGUF reader and the importance matrix readers (GGUF and legacy .dat).
// Any input either parses or throws an eigenq::Error; anything else is a bug. A GGUF file that
// parses must serialize back (eigenq's writer layout) to a file that parses to the same key/value
// pairs, tensors and tensor bytes; an importance matrix that parses holds finite, non-negative
// weights of the size it claims.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "eigenq/io/gguf.hpp"
#include "eigenq/io/imatrix.hpp"

namespace {

void check_round_trip(const eigenq::io::GgufFile& f) {
  std::vector<eigenq::io::GgufTensorEntry> entries;
  for (const auto& t : f.tensors()) entries.push_back({t.name, t.type, t.ne});
  std::vector<eigenq::io::GgufTensorInfo> layout;
  try {
    layout = eigenq::io::plan_gguf_layout("round-trip.gguf", entries, f.alignment());
  } catch (const eigenq::InvalidArgument&) {
    return;  // readable but not writable: a tensor name longer than ggml's 63 bytes
  }
  const std::string header = eigenq::io::gguf_header_bytes(f.metadata(), layout);
  std::vector<std::uint8_t> bytes(header.begin(), header.end());
  for (std::size_t i = 0; i < layout.size(); ++i) {
    bytes.resize(header.size() + layout[i].offset, 0);
    const auto v = f.tensor(i);
    bytes.insert(bytes.end(), v.data(), v.data() + v.bytes());
  }
  bytes.resize(header.size() + eigenq::io::gguf_data_size(layout, f.alignment()), 0);
  const auto g = eigenq::io::GgufFile::from_buffer(std::move(bytes), "round-trip.gguf");
  if (g.metadata() != f.metadata() || g.tensors().size() != f.tensors().size() || g.alignment() != f.alignment()) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = g.tensors()[i];
    if (a.name != b.name || a.type != b.type || a.ne != b.ne || a.bytes != b.bytes) __builtin_trap();
    if (std::memcmp(f.tensor(i).data(), g.tensor(i).data(), a.bytes) != 0) __builtin_trap();
  }
}

void check_imatrix(const eigenq::io::Imatrix& im) {
  for (const auto& e : im.entries) {
    if (e.importance.size() != static_cast<std::size_t>(e.row_length * e.matrices)) __builtin_trap();
    if (e.counts.size() != (im.format == eigenq::io::ImatrixFormat::gguf ? static_cast<std::size_t>(e.matrices) : 1u)) {
      __builtin_trap();
    }
    for (const float w : e.importance) {
      if (!std::isfinite(w) || w < 0) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> input(data, data + size);
  try {
    const auto f = eigenq::io::GgufFile::from_buffer(input, "fuzz.gguf");
    std::size_t text = 0;
    for (const auto& kv : f.metadata()) text += kv.value.to_text().size();
    unsigned sum = 0;
    for (std::size_t i = 0; i < f.tensors().size(); ++i) {
      const auto v = f.tensor(i);
      sum += v.data()[0] + v.data()[v.bytes() - 1];  // every tensor has at least one byte inside the file
    }
    if (text == static_cast<std::size_t>(-1) || sum == ~0u) __builtin_trap();
    check_round_trip(f);
  } catch (const eigenq::Error&) {
  }
  try {
    check_imatrix(eigenq::io::parse_imatrix(input, "fuzz.imatrix"));
  } catch (const eigenq::Error&) {
  }
  return 0;
}
