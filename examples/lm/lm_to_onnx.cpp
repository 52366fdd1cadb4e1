// Writes examples/lm's language model as an ONNX file (lm_onnx.hpp), for ONNX Runtime and for
// `eigenq quantize`:
//
//   eigenq_lm_to_onnx OUT.onnx [LM.safetensors]
//   eigenq quantize OUT.onnx lm.q4.onnx --bits 4 --granularity group --group-size 128 --exclude lm_head
//
// The graph takes "bytes" (int64 [t], t <= the model's context) and gives "logits" [t, 256].
#include <cstdio>
#include <exception>
#include <string>

#include <eigenq/onnx/graph_builder.hpp>

#include "lm_onnx.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUT.onnx [LM.safetensors]  (default: %s/lm.safetensors)\n", argv[0], EIGENQ_LM_DATA);
    return 2;
  }
  const std::string out = argv[1];
  const std::string in = argc == 3 ? argv[2] : std::string(EIGENQ_LM_DATA) + "/lm.safetensors";
  try {
    const lm::ByteGpt gpt = lm::ByteGpt::load(in);
    const std::string bytes = eigenq::onnx::serialize(lm::to_onnx(gpt));
    eigenq::onnx::write_file(out, bytes);
    std::printf("%s: %zu bytes (%lld layers, width %lld, %lld heads, context %lld)\n", out.c_str(), bytes.size(),
                static_cast<long long>(gpt.config().layers), static_cast<long long>(gpt.config().width),
                static_cast<long long>(gpt.config().heads), static_cast<long long>(gpt.config().ctx));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eigenq_lm_to_onnx: %s\n", e.what());
    return 2;
  }
}
