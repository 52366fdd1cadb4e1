// libFuzzer target: the safetensors reader and the eigenq quantized format on top of it.
// Any input either parses or throws an eigenq::Error; anything else is a bug. A file that
// parses must serialize back to a file that parses to the same tensors and metadata, and
// every quantized tensor in it either dequantizes or is rejected with a FormatError.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "eigenq/io/quantized_format.hpp"
#include "eigenq/io/safetensors.hpp"

namespace {

void check_round_trip(const eigenq::io::SafetensorsFile& f) {
  const std::string header = eigenq::io::safetensors_header(f.tensors(), f.metadata());
  std::vector<std::uint8_t> bytes(header.begin(), header.end());
  for (const auto& t : f.tensors()) {
    const auto v = f.tensor(t.name);
    bytes.insert(bytes.end(), v.data(), v.data() + v.bytes());
  }
  const auto g = eigenq::io::SafetensorsFile::from_buffer(std::move(bytes), "round-trip.safetensors");
  if (g.metadata() != f.metadata() || g.tensors().size() != f.tensors().size()) __builtin_trap();
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = g.tensors()[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.begin != b.begin || a.end != b.end) {
      __builtin_trap();
    }
    if (a.bytes() > 0 && std::memcmp(f.tensor(i).data(), g.tensor(i).data(), a.bytes()) != 0) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto f = eigenq::io::SafetensorsFile::from_buffer(std::vector<std::uint8_t>(data, data + size), "fuzz.safetensors");
    for (const auto& t : f.tensors()) {
      const auto v = f.tensor(t.name);
      if (eigenq::io::converts_to<float>(v.dtype())) (void)v.to_float();
    }
    check_round_trip(f);
    const eigenq::io::QuantizedFile q(std::move(f));
    for (const auto& name : q.quantized()) {
      try {
        (void)q.dequantize(name);
      } catch (const eigenq::InvalidArgument&) {
        // e.g. a scheme whose policy type does not exist for this code type (a FormatError
        // otherwise); either way a typed error, not a crash.
      }
    }
  } catch (const eigenq::Error&) {
  }
  return 0;
}
