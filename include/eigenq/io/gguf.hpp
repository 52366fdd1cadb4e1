// GGUF files, the format llama.cpp and ggml keep models in: read (versions 2
// and 3, memory-mapped, every rule checked) and write (version 3, streaming,
// atomic), and llama.cpp's importance matrices (GGUF and legacy .dat). See
// gguf_metadata.hpp (values and key/value pairs), gguf_reader.hpp (GgufFile),
// gguf_writer.hpp (GgufWriter), imatrix.hpp (read_imatrix), and docs/gguf.md
// for the formats and every rule the readers check.
#pragma once

#include "eigenq/io/gguf_metadata.hpp"
#include "eigenq/io/gguf_reader.hpp"
#include "eigenq/io/gguf_writer.hpp"
#include "eigenq/io/imatrix.hpp"
