// The language-model half of eigenq's demo: the byte-level GPT of train_lm.py, its held-out
// perplexity in float and quantized every way eigenq knows.
//
//   eigenq_lm_demo [--model examples/lm/data/lm.safetensors] [--text examples/lm/data/heldout.txt] [--out DIR]
#include "byte_gpt.hpp"
#include "perplexity.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#ifndef EIGENQ_LM_DATA
#define EIGENQ_LM_DATA "examples/lm/data"
#endif

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) eigenq::raise<eigenq::IoError>("cannot open ", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path = std::string(EIGENQ_LM_DATA) + "/lm.safetensors";
  std::string text_path = std::string(EIGENQ_LM_DATA) + "/heldout.txt";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") model_path = argv[i + 1];
    else if (a == "--text") text_path = argv[i + 1];
  }
  try {
    const lm::ByteGpt model = lm::ByteGpt::load(model_path);
    const std::string text = read_file(text_path);
    const lm::Perplexity p = lm::evaluate(model, text);
    std::printf("float: %lld bytes, nll %.6f, perplexity %.4f, %.4f bits/byte, %.0f bytes/s\n",
                static_cast<long long>(p.bytes), p.nll, p.perplexity(), p.bits_per_byte(), p.tokens_per_second());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eigenq_lm_demo: %s\n", e.what());
    return 2;
  }
  return 0;
}
