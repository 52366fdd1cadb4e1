// `eigenq dequantize IN OUT`: every quantized tensor of an eigenq file back to
// F32 under its own name and logical shape; plain tensors copied as they are;
// the user's metadata kept, eigenq's dropped. OUT may be a .npy file when IN
// holds exactly one tensor.
// IN may be a GGUF file: tensors of ggml's block types become F32 (ggml's
// to_float, bit for bit), F32/F16/BF16/F64 and integer tensors are copied, shapes in
// row-major order (ne reversed); the GGUF key/value pairs that are not arrays are kept
// as safetensors metadata (their value as text), arrays are dropped.
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <eigenq/ggml/row.hpp>
#include <eigenq/io/npy.hpp>
#include <eigenq/io/quantized_format.hpp>
#include <eigenq/io/safetensors.hpp>

#include "cli_util.hpp"
#include "input_model.hpp"
#include "jobs.hpp"
#include "progress.hpp"

namespace eigenq_cli {

struct DequantizeArgs {
  std::string in;
  std::string out;
  int jobs = 1;
  bool quiet = false;
};

namespace detail {

// The float32 values of rows [first, first + count) of a GGUF tensor of a block type.
inline void dequantize_gguf_rows(const InputTensor& t, std::int64_t first, std::int64_t count, float* out) {
  const std::int64_t ne0 = t.ne()[0];
  const auto row_bytes = static_cast<std::size_t>(eigenq::ggml::row_size(*t.ggml_type, ne0));
  for (std::int64_t r = 0; r < count; ++r) {
    eigenq::ggml::dequantize_row(*t.ggml_type, t.data + static_cast<std::size_t>(first + r) * row_bytes, out + r * ne0, ne0);
  }
}

}  // namespace detail

// dequantize IN.gguf OUT(.safetensors | .npy)
inline int run_dequantize_gguf(const DequantizeArgs& a) {
  namespace io = eigenq::io;
  const Stopwatch timer;
  const InputModel in(a.in);
  const auto& tensors = in.tensors();
  std::vector<io::TensorEntry> entries;
  for (const InputTensor& t : tensors) {
    if (t.ggml_quantized) eigenq::ggml::require_supported(*t.ggml_type);
    entries.push_back({t.name, t.ggml_quantized ? io::DType::f32 : t.dtype, t.shape});
  }
  std::map<std::string, std::string> metadata;
  std::size_t dropped = 0;
  for (const auto& e : in.gguf().metadata) {
    if (e.value.is_array()) ++dropped;
    else metadata[e.key] = e.value.is_string() ? e.value.str() : e.value.to_text();
  }

  if (is_npy_path(a.out)) {
    if (tensors.size() != 1) {
      throw UsageError("OUT '" + a.out + "' is a .npy file, which holds one tensor, but IN has " +
                       std::to_string(tensors.size()));
    }
    const InputTensor& t = tensors[0];
    if (t.ggml_quantized) {
      std::vector<float> values(static_cast<std::size_t>(eigenq::element_count(t.shape)));
      detail::dequantize_gguf_rows(t, 0, static_cast<std::int64_t>(values.size()) / t.ne()[0], values.data());
      io::write_npy(a.out, values.data(), t.shape);
    } else {
      io::write_npy(a.out, t.dtype, t.shape, false, t.data, t.bytes);
    }
    if (!a.quiet) std::printf("wrote %s (%s %s)\n", a.out.c_str(), io::to_string(entries[0].dtype), eigenq::to_string(t.shape).c_str());
    return 0;
  }

  io::SafetensorsWriter writer(a.out, entries, metadata);
  const TempFileGuard guard(writer.temp_path());
  Progress progress("dequantize", tensors.size(), in.total_bytes(), Progress::mode_for(a.quiet));
  run_jobs(tensors.size(), a.jobs, [&](std::size_t i) {
    const InputTensor& t = tensors[i];
    if (t.ggml_quantized) {
      // Chunks of rows: one F32 buffer of at most 16 MiB per thread.
      const std::int64_t ne0 = t.ne()[0];
      const std::int64_t rows = eigenq::element_count(t.shape) / ne0;
      const std::int64_t per_chunk = std::max<std::int64_t>(1, (std::int64_t{1} << 22) / ne0);
      const auto row_bytes = static_cast<std::size_t>(eigenq::ggml::row_size(*t.ggml_type, ne0));
      thread_local std::vector<float> values;
      for (std::int64_t r = 0; r < rows; r += per_chunk) {
        const std::int64_t count = std::min(per_chunk, rows - r);
        values.resize(static_cast<std::size_t>(count * ne0));
        detail::dequantize_gguf_rows(t, r, count, values.data());
        writer.write_chunk(i, static_cast<std::size_t>(r * ne0) * sizeof(float), values.data(), values.size() * sizeof(float));
        in.release(i, static_cast<std::size_t>(r) * row_bytes, static_cast<std::size_t>(count) * row_bytes);
      }
    } else {
      constexpr std::size_t chunk = std::size_t{64} << 20;
      for (std::size_t off = 0; off < t.bytes; off += chunk) {
        const std::size_t len = std::min(chunk, t.bytes - off);
        writer.write_chunk(i, off, t.data + off, len);
        in.release(i, off, len);
      }
    }
    progress.done(t.bytes, t.name + ": " + t.type_name() + " -> " + io::to_string(entries[i].dtype) + " " +
                               eigenq::to_string(t.shape));
  });
  writer.commit();
  progress.finish();
  if (!a.quiet) {
    Table table({"tensor", "shape", "from", "to", "before", "after"}, {false, false, false, false, true, true});
    std::uint64_t after_total = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      table.add({tensors[i].name, eigenq::to_string(tensors[i].shape), tensors[i].type_name(),
                 io::to_string(entries[i].dtype), human_bytes(static_cast<double>(tensors[i].bytes)),
                 human_bytes(static_cast<double>(entries[i].bytes()))});
      after_total += entries[i].bytes();
    }
    std::fputs(table.str().c_str(), stdout);
    std::printf("%zu tensors: %s -> %s in %.2f s\n", tensors.size(), human_bytes(static_cast<double>(in.total_bytes())).c_str(),
                human_bytes(static_cast<double>(after_total)).c_str(), timer.seconds());
    std::printf("GGUF metadata: %zu keys kept as safetensors metadata", metadata.size());
    if (dropped > 0) std::printf(", %zu arrays dropped", dropped);
    std::printf("\nwrote %s\n", a.out.c_str());
  }
  return 0;
}

inline int run_dequantize(const DequantizeArgs& a) {
  namespace io = eigenq::io;
  if (io::same_file(a.in, a.out)) {
    throw UsageError("OUT '" + a.out + "' is the same file as IN '" + a.in + "'; choose another output");
  }
  if (is_gguf_path(a.out)) {
    throw UsageError("OUT '" + a.out + "': dequantize writes .safetensors (or .npy for one tensor); to convert into "
                     "GGUF use eigenq quantize IN OUT.gguf --type f32");
  }
  if (is_gguf_path(a.in)) return run_dequantize_gguf(a);
  const Stopwatch timer;
  const io::QuantizedFile in(a.in);
  if (!in.is_eigenq()) {
    throw eigenq::FormatError(a.in + ": not an eigenq-quantized file (no \"" + std::string(io::quantized_format_key) +
                              "\" metadata); nothing to dequantize");
  }
  const io::SafetensorsFile& file = in.file();
  const std::vector<std::string>& names = in.logical();

  std::vector<io::TensorEntry> entries;
  std::vector<std::uint64_t> before(names.size(), 0);
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (const auto& stored : in.stored_tensors(names[i])) before[i] += file.info(stored).bytes();
    if (in.is_quantized(names[i])) entries.push_back({names[i], io::DType::f32, in.meta(names[i]).shape});
    else entries.push_back({names[i], file.info(names[i]).dtype, file.info(names[i]).shape});
  }

  if (is_npy_path(a.out)) {
    if (names.size() != 1) {
      throw UsageError("OUT '" + a.out + "' is a .npy file, which holds one tensor, but IN has " +
                       std::to_string(names.size()));
    }
    const io::TensorEntry& e = entries[0];
    try {
      if (in.is_quantized(e.name)) {
        const std::vector<float> values = in.dequantize(e.name);
        io::write_npy(a.out, values.data(), e.shape);
      } else {
        const io::TensorView v = file.tensor(e.name);
        io::write_npy(a.out, e.dtype, e.shape, false, v.data(), v.bytes());
      }
    } catch (const eigenq::IoError&) {
      throw;
    } catch (const eigenq::Error& err) {
      throw eigenq::Error(a.in + ": tensor '" + e.name + "': " + err.what());
    }
    if (!a.quiet) std::printf("wrote %s (%s %s)\n", a.out.c_str(), io::to_string(e.dtype), eigenq::to_string(e.shape).c_str());
    return 0;
  }

  io::SafetensorsWriter writer(a.out, entries, in.user_metadata());
  const TempFileGuard guard(writer.temp_path());
  std::uint64_t total = 0;
  for (auto b : before) total += b;
  Progress progress("dequantize", names.size(), total, Progress::mode_for(a.quiet));
  run_jobs(names.size(), a.jobs, [&](std::size_t i) {
    const std::string& name = names[i];
    try {
      if (in.is_quantized(name)) {
        // One output buffer per thread, reused: fresh tens of MiB per tensor cost page faults.
        thread_local std::vector<float> values;
        values.resize(static_cast<std::size_t>(eigenq::element_count(entries[i].shape)));
        in.dequantize_into(name, values.data());
        writer.write(i, values.data(), values.size() * sizeof(float));
      } else {
        const io::TensorView v = file.tensor(name);
        constexpr std::size_t chunk = std::size_t{64} << 20;
        for (std::size_t off = 0; off < v.bytes(); off += chunk) {
          const std::size_t len = std::min(chunk, v.bytes() - off);
          writer.write_chunk(i, off, v.data() + off, len);
          file.release(v.info(), off, len);
        }
      }
    } catch (const eigenq::IoError&) {
      throw;
    } catch (const eigenq::Error& e) {
      throw eigenq::Error(a.in + ": tensor '" + name + "': " + e.what());
    }
    for (const auto& stored : in.stored_tensors(name)) file.release(file.info(stored));
    const std::string from = in.is_quantized(name)
                                 ? in.meta(name).scheme + " " + std::to_string(in.meta(name).bits) + "-bit"
                                 : std::string("plain ") + io::to_string(file.info(name).dtype);
    progress.done(before[i], name + ": " + from + " -> " + io::to_string(entries[i].dtype) + " " +
                                 eigenq::to_string(entries[i].shape));
  });
  writer.commit();
  progress.finish();

  if (!a.quiet) {
    Table table({"tensor", "shape", "from", "to", "before", "after"}, {false, false, false, false, true, true});
    std::uint64_t after_total = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string from = in.is_quantized(names[i])
                                   ? in.meta(names[i]).scheme + " " + std::to_string(in.meta(names[i]).bits) + "-bit"
                                   : std::string("copy");
      table.add({names[i], eigenq::to_string(entries[i].shape), from, io::to_string(entries[i].dtype),
                 human_bytes(static_cast<double>(before[i])), human_bytes(static_cast<double>(entries[i].bytes()))});
      after_total += entries[i].bytes();
    }
    std::fputs(table.str().c_str(), stdout);
    std::printf("%zu tensors: %s -> %s in %.2f s\nwrote %s\n", names.size(), human_bytes(static_cast<double>(total)).c_str(),
                human_bytes(static_cast<double>(after_total)).c_str(), timer.seconds(), a.out.c_str());
  }
  return 0;
}

}  // namespace eigenq_cli
