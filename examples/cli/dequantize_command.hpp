// `eigenq dequantize IN OUT`: every quantized tensor of an eigenq file back to
// F32 under its own name and logical shape; plain tensors copied as they are;
// the user's metadata kept, eigenq's dropped. OUT may be a .npy file when IN
// holds exactly one tensor.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

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

inline int run_dequantize(const DequantizeArgs& a) {
  namespace io = eigenq::io;
  if (io::same_file(a.in, a.out)) {
    throw UsageError("OUT '" + a.out + "' is the same file as IN '" + a.in + "'; choose another output");
  }
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
