// libFuzzer target: the .npy reader. Any input either parses or throws an eigenq::Error;
// anything else (a crash, a sanitizer report, another exception) is a bug. Inputs that parse
// must survive conversion, reordering and a write/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "eigenq/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  eigenq::io::NpyArray a;
  try {
    a = eigenq::io::parse_npy(data, size, "fuzz.npy");
  } catch (const eigenq::Error&) {
    return 0;
  }
  if (eigenq::io::converts_to<double>(a.dtype)) (void)a.values<double>();
  const eigenq::io::NpyArray c = a.c_order();

  // Written again (C order, every format version) it parses to the same array.
  for (int version : {1, 2, 3}) {
    const std::string prefix = eigenq::io::npy_prefix(c.dtype, c.shape, false, version);
    std::vector<std::uint8_t> bytes(prefix.begin(), prefix.end());
    bytes.insert(bytes.end(), c.data.begin(), c.data.end());
    const eigenq::io::NpyArray b = eigenq::io::parse_npy(bytes.data(), bytes.size(), "round-trip.npy");
    if (b.dtype != c.dtype || b.shape != c.shape || b.fortran_order || b.data != c.data) __builtin_trap();
  }
  return 0;
}
