// `eigenq quantize IN OUT.gguf --type TYPE` and `eigenq report IN --type TYPE`: ggml's types,
// chosen per tensor as llama.cpp's quantize chooses them, quantized with eigenq/ggml (the bytes
// of ggml_quantize_chunk), streamed into a GGUF file ggml reads.
//
// Which type each tensor gets, in this order:
//  1. integer tensors, and tensors --include/--exclude leave out, are copied as they are;
//  2. tensors of rank < 2 (biases, norms) are kept in float unless --quantize-vectors: from a
//     GGUF input copied as they are (llama.cpp's quantize), from safetensors/npy as F32 (F16
//     and BF16 widened exactly, as llama.cpp's convert_hf_to_gguf.py stores them; F64 copied);
//  3. the others get the first --type-for REGEX=TYPE whose regex matches (std::regex_search),
//     else --type; a row length that is not a whole number of the type's blocks falls back as
//     llama.cpp's tensor_type_fallback does (ggml_types.hpp), and is reported;
//  4. a tensor already of that type is copied (llama.cpp too); one of another block type is
//     refused (llama.cpp requantizes only with --allow-requantize; eigenq does not).
// Importance (--imatrix): the entry named like the tensor, one row of ne0 values per matrix
// (ne0 x ne2 values, as llama.cpp checks; token_embd.weight's is ignored on a mismatch, as
// llama.cpp does), passed to the quantizer exactly as llama-quantize passes it; tensors
// without an entry are quantized without. Non-finite values are refused (llama.cpp's
// quantize validates its rows too). The output keeps the input's tensor order, and a GGUF
// input's key/value pairs in their order; general.quantization_version (2) and
// general.file_type (llama.cpp's number for --type) are set; --metadata FILE.json applies last.
// Tensors are processed in chunks of rows (--jobs threads, the file the same for any count),
// each written at its place in the output and its input pages released, so memory stays
// bounded whatever the model's size.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/analysis/metrics.hpp>
#include <eigenq/ggml/row.hpp>
#include <eigenq/io/gguf_writer.hpp>
#include <eigenq/io/imatrix.hpp>

#include "cli_util.hpp"
#include "ggml_types.hpp"
#include "gguf_metadata_json.hpp"
#include "input_model.hpp"
#include "jobs.hpp"
#include "progress.hpp"

namespace eigenq_cli {

// The options of the GGUF path (quantize and report).
struct GgufOptions {
  std::string type;                   // --type
  std::vector<std::string> type_for;  // --type-for REGEX=TYPE, in order
  std::string imatrix;                // --imatrix FILE
  std::string metadata;               // --metadata FILE.json (quantize only)
};

// What happens to one tensor.
struct GgufTensorPlan {
  std::string name;
  eigenq::Shape shape;
  std::vector<std::int64_t> ne;
  std::string from;                        // the input's type: "F32", "BF16", "q4_0"
  gg::Type to = gg::Type::f32;             // the output's type
  bool quantize = false;                   // through ggml's quantizer (else the bytes are copied)
  std::string kept;                        // why a float tensor is not given --type: "rank < 2", "excluded"
  std::string copied;                      // why bytes are copied: "not a float", "already q4_K", ...
  std::optional<gg::Type> fell_back_from;  // the type asked for, when the rows did not fit it
  std::string chosen_by;                   // "--type" or "--type-for 'REGEX'"
  std::string importance;                  // "imatrix", "not in the imatrix", "ignored by q8_0", "" (no --imatrix)
  const eigenq::io::ImatrixEntry* entry = nullptr;
  std::int64_t rows = 0;
  std::int64_t row_length = 0;
  std::int64_t rows_per_matrix = 1;
  std::uint64_t bytes_before = 0;
  std::uint64_t bytes_after = 0;
  bool measured = false;
  eigenq::detail::ErrorSums sums;
};

namespace detail {

constexpr std::int64_t gguf_chunk_elements = std::int64_t{1} << 22;  // floats quantized at a time (16 MiB)

// "[1, 36]": a flat index in a shape.
inline std::string index_text(std::int64_t flat, const eigenq::Shape& shape) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    idx[k] = flat % shape[k];
    flat /= shape[k];
  }
  std::string s = "[";
  for (std::size_t k = 0; k < idx.size(); ++k) s += (k ? ", " : "") + std::to_string(idx[k]);
  return s + "]";
}

// True when no value is NaN or infinite (a branch-free pass the compiler vectorizes).
inline bool all_finite(const float* x, std::int64_t n) {
  std::uint32_t bad = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    std::uint32_t u;
    std::memcpy(&u, x + j, 4);
    bad |= static_cast<std::uint32_t>((u & 0x7F800000u) == 0x7F800000u);
  }
  return bad == 0;
}

inline bool is_token_embedding(const std::string& name) {
  return name == "token_embd.weight" || name == "per_layer_token_embd.weight";
}

// The plan of every tensor; throws (naming file and tensor) before anything is written.
inline std::vector<GgufTensorPlan> plan_gguf(const std::string& file, const InputModel& in,
                                             const std::vector<TypeRule>& rules, gg::Type default_type,
                                             const std::string& include, const std::string& exclude,
                                             bool quantize_vectors, const eigenq::io::Imatrix* im) {
  namespace io = eigenq::io;
  const std::regex include_re(include.empty() ? std::string(".") : include, std::regex::ECMAScript);
  const std::regex exclude_re(exclude.empty() ? std::string(".") : exclude, std::regex::ECMAScript);
  std::vector<GgufTensorPlan> plans;
  for (const InputTensor& t : in.tensors()) {
    auto fail = [&](const std::string& what) -> void {
      throw eigenq::FormatError(file + ": tensor '" + t.name + "': " + what);
    };
    GgufTensorPlan p;
    p.name = t.name;
    p.shape = t.shape;
    p.ne = t.ne();
    p.from = t.type_name();
    p.bytes_before = t.bytes;
    if (t.shape.size() > 4) fail("has " + std::to_string(t.shape.size()) + " dimensions; a GGUF tensor has 1 to 4");
    if (eigenq::element_count(t.shape) == 0) {
      fail("has no elements (shape " + eigenq::to_string(t.shape) + "); GGUF dimensions are positive");
    }
    p.row_length = p.ne[0];
    p.rows = eigenq::element_count(t.shape) / p.row_length;
    p.rows_per_matrix = p.ne.size() > 1 ? p.ne[1] : 1;
    const bool is_float = !t.ggml_quantized && io::converts_to_float(t.dtype);
    // The type a copy keeps.
    auto stored_type = [&]() -> gg::Type {
      if (t.ggml_type) return *t.ggml_type;
      const auto g = gguf_type_of(t.dtype);
      if (!g) fail(std::string("is ") + io::to_string(t.dtype) + ", which GGUF has no type for");
      return *g;
    };
    auto copy = [&](const std::string& why) {
      p.to = stored_type();
      p.copied = why;
      p.bytes_after = t.bytes;
    };
    const bool excluded = (!include.empty() && !std::regex_search(t.name, include_re)) ||
                          (!exclude.empty() && std::regex_search(t.name, exclude_re));
    if (!is_float && !t.ggml_quantized) {
      copy("not a float");
    } else if (excluded) {
      p.kept = "excluded";
      copy("excluded");
    } else if (t.shape.size() < 2 && !quantize_vectors) {
      p.kept = "rank < 2";
      if (in.is_gguf() || t.ggml_quantized || t.dtype == io::DType::f32 || t.dtype == io::DType::f64) {
        copy("rank < 2");
      } else {
        p.to = gg::Type::f32;  // F16 / BF16 widened exactly
        p.quantize = true;
      }
    } else {
      gg::Type wanted = default_type;
      p.chosen_by = "--type";
      for (const TypeRule& r : rules) {
        if (std::regex_search(t.name, r.regex)) {
          wanted = r.type;
          p.chosen_by = "--type-for '" + r.pattern + "'";
          break;
        }
      }
      const gg::Type target = type_that_fits(wanted, p.row_length, file, t.name, p.chosen_by);
      if (target != wanted) p.fell_back_from = wanted;
      if (t.ggml_type && *t.ggml_type == target) {
        copy(std::string("already ") + gg::type_name(target));
      } else if (t.ggml_quantized) {
        fail("is already " + t.type_name() + "; eigenq does not quantize quantized tensors again (nor does " +
             "llama.cpp's quantize without --allow-requantize): start from an F32/F16/BF16 file, or --exclude it " +
             "to copy it as it is");
      } else {
        p.to = target;
        p.quantize = true;
        const std::int64_t matrices = p.rows / p.rows_per_matrix;
        if (im != nullptr) {
          const io::ImatrixEntry* e = im->find(t.name);
          if (e == nullptr) {
            p.importance = "not in the imatrix";
          } else if (!e->matches(p.row_length, matrices)) {
            if (!is_token_embedding(t.name)) {
              fail("the imatrix entry holds " + std::to_string(e->importance.size()) + " values, but the tensor needs " +
                   std::to_string(p.row_length) + " per matrix x " + std::to_string(matrices) + " = " +
                   std::to_string(p.row_length * matrices) + " (llama.cpp's quantize refuses this too)");
            }
            p.importance = "size mismatch, ignored";  // llama.cpp ignores token_embd's
          } else {
            p.entry = e;
            p.importance = gg::uses_importance(target) ? "imatrix" : std::string("ignored by ") + gg::type_name(target);
          }
        }
        if (gg::requires_importance(target) && p.entry == nullptr) {
          fail(std::string(gg::type_name(target)) + " needs an importance matrix (ggml_quantize_requires_imatrix)" +
               (im == nullptr ? "; give one with --imatrix FILE" : ", and the imatrix has none for this tensor"));
        }
        if (!gg::is_supported(target)) {
          throw UsageError(p.chosen_by + ": eigenq cannot quantize to " + gg::type_name(target) + ": " +
                           gg::type_traits(target).why_not + "; choose one of " + supported_type_list());
        }
      }
    }
    if (p.quantize) {
      p.bytes_after = static_cast<std::uint64_t>(p.rows) * static_cast<std::uint64_t>(gg::row_size(p.to, p.row_length));
    }
    plans.push_back(std::move(p));
  }
  return plans;
}

// A unit of work: rows [first_row, first_row + rows) of a quantized tensor, or bytes
// [offset, offset + bytes) of a copied one.
struct GgufWorkItem {
  std::size_t tensor = 0;
  std::int64_t first_row = 0;
  std::int64_t rows = 0;
  std::size_t offset = 0;
  std::size_t bytes = 0;
};

inline std::vector<GgufWorkItem> gguf_work_items(const std::vector<GgufTensorPlan>& plans) {
  std::vector<GgufWorkItem> items;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const GgufTensorPlan& p = plans[i];
    if (!p.quantize) {
      constexpr std::size_t chunk = std::size_t{64} << 20;
      const auto total = static_cast<std::size_t>(p.bytes_before);
      for (std::size_t off = 0; off < total; off += chunk) items.push_back({i, 0, 0, off, std::min(chunk, total - off)});
      continue;
    }
    // Chunks of whole rows inside one matrix (its importance row), about gguf_chunk_elements each.
    const std::int64_t per_chunk = std::max<std::int64_t>(1, gguf_chunk_elements / p.row_length);
    for (std::int64_t m0 = 0; m0 < p.rows; m0 += p.rows_per_matrix) {
      const std::int64_t m1 = std::min(p.rows, m0 + p.rows_per_matrix);
      for (std::int64_t r = m0; r < m1; r += per_chunk) items.push_back({i, r, std::min(per_chunk, m1 - r), 0, 0});
    }
  }
  return items;
}

// The floats of `rows` rows of t from first_row: in place for aligned F32, else converted into buf.
inline const float* rows_as_float(const InputTensor& t, std::int64_t first, std::int64_t count, std::int64_t ne0,
                                  std::vector<float>& buf) {
  namespace io = eigenq::io;
  const std::int64_t n = count * ne0;
  const std::size_t esize = io::dtype_size(t.dtype);
  const std::uint8_t* src = t.data + static_cast<std::size_t>(first * ne0) * esize;
  if (t.dtype == io::DType::f32 && reinterpret_cast<std::uintptr_t>(src) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(src);
  }
  buf.resize(static_cast<std::size_t>(n));
  if (t.dtype == io::DType::f16) gg::dequantize_row(gg::Type::f16, src, buf.data(), n);         // ggml's conversion
  else if (t.dtype == io::DType::bf16) gg::dequantize_row(gg::Type::bf16, src, buf.data(), n);  // (exact)
  else io::convert_elements<float>(t.dtype, src, n, buf.data());
  return buf.data();
}

}  // namespace detail

// The result of one run: every tensor's plan (with its error when measured), and the file type.
struct GgufRun {
  std::vector<GgufTensorPlan> plans;
  gg::Type type = gg::Type::f32;
  std::uint32_t file_type = 0;
};

// Plans, (writes,) measures. `out` empty: report only.
inline GgufRun quantize_to_gguf(const std::string& in_path, const std::string& out, const GgufOptions& o,
                                const std::string& include, const std::string& exclude, bool quantize_vectors, int jobs,
                                bool measure, bool quiet) {
  namespace io = eigenq::io;
  const bool write = !out.empty();
  if (write && io::same_file(in_path, out)) {
    throw UsageError("OUT '" + out + "' is the same file as IN '" + in_path + "'; choose another output");
  }
  if (!o.imatrix.empty() && write && io::same_file(o.imatrix, out)) {
    throw UsageError("OUT '" + out + "' is the same file as --imatrix '" + o.imatrix + "'; choose another output");
  }
  auto compile = [](const std::string& re, const char* option) {
    try {
      return std::regex(re.empty() ? std::string(".") : re, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw UsageError(std::string(option) + " '" + re + "' is not a valid regular expression: " + e.what());
    }
  };
  compile(include, "--include");
  compile(exclude, "--exclude");
  GgufRun run;
  run.type = parse_ggml_type(o.type, "--type");
  std::vector<TypeRule> rules;
  for (const std::string& r : o.type_for) rules.push_back(parse_type_rule(r));
  run.file_type = llama_file_type(run.type).value_or(0);

  std::optional<io::Imatrix> im;
  if (!o.imatrix.empty()) im.emplace(io::read_imatrix(o.imatrix));
  const InputModel in(in_path);
  run.plans = detail::plan_gguf(in_path, in, rules, run.type, include, exclude, quantize_vectors, im ? &*im : nullptr);
  std::vector<GgufTensorPlan>& plans = run.plans;
  const auto& tensors = in.tensors();

  std::optional<io::GgufWriter> writer;
  std::optional<TempFileGuard> guard;
  if (write) {
    io::GgufMetadata m = in.is_gguf() ? in.gguf().metadata : io::GgufMetadata{};
    m.set("general.quantization_version", ggml_quantization_version);
    m.set("general.file_type", run.file_type);
    if (!o.metadata.empty()) apply_metadata_json(o.metadata, m);
    std::vector<io::GgufTensorEntry> entries;
    for (const GgufTensorPlan& p : plans) entries.push_back({p.name, p.to, p.ne});
    writer.emplace(out, m, entries);
    guard.emplace(writer->temp_path());
  }

  const std::vector<detail::GgufWorkItem> items = detail::gguf_work_items(plans);
  std::unique_ptr<std::atomic<std::size_t>[]> left(new std::atomic<std::size_t>[plans.size()]);
  for (std::size_t i = 0; i < plans.size(); ++i) left[i] = 0;
  for (const auto& w : items) ++left[w.tensor];
  std::vector<eigenq::detail::ErrorSums> item_sums(items.size());

  Progress progress(write ? "quantize" : "report", plans.size(), in.total_bytes(), Progress::mode_for(quiet));
  run_jobs(items.size(), jobs, [&](std::size_t k) {
    const detail::GgufWorkItem& w = items[k];
    const InputTensor& t = tensors[w.tensor];
    const GgufTensorPlan& p = plans[w.tensor];
    if (!p.quantize) {
      if (writer && w.bytes > 0) writer->write_chunk(w.tensor, w.offset, t.data + w.offset, w.bytes);
      in.release(w.tensor, w.offset, w.bytes);
    } else {
      thread_local std::vector<float> floats;
      thread_local std::vector<float> back;
      thread_local std::vector<std::uint8_t> q;
      const std::int64_t n = w.rows * p.row_length;
      const float* x = detail::rows_as_float(t, w.first_row, w.rows, p.row_length, floats);
      if (p.kept.empty() && !detail::all_finite(x, n)) {
        std::int64_t j = 0;
        while (std::isfinite(x[j])) ++j;
        throw eigenq::NonFiniteError(in_path + ": tensor '" + p.name + "': " +
                                     (std::isnan(x[j]) ? "NaN" : x[j] > 0 ? "+Inf" : "-Inf") + " at index " +
                                     detail::index_text(w.first_row * p.row_length + j, p.shape) +
                                     "; GGUF tensors are quantized from finite values (llama.cpp's quantize refuses "
                                     "them too)");
      }
      const std::int64_t row_bytes = gg::row_size(p.to, p.row_length);
      q.resize(static_cast<std::size_t>(w.rows * row_bytes));
      const float* imp = p.entry ? p.entry->weights(p.row_length, w.first_row / p.rows_per_matrix) : nullptr;
      gg::quantize_rows(p.to, x, q.data(), w.rows, p.row_length, imp);
      if (writer) writer->write_chunk(w.tensor, static_cast<std::size_t>(w.first_row * row_bytes), q.data(), q.size());
      if (measure) {
        back.resize(static_cast<std::size_t>(n));
        for (std::int64_t r = 0; r < w.rows; ++r) {
          gg::dequantize_row(p.to, q.data() + r * row_bytes, back.data() + r * p.row_length, p.row_length);
        }
        constexpr std::int64_t step = std::int64_t{1} << 16;
        for (std::int64_t j = 0; j < n; j += step) item_sums[k].add(x + j, back.data() + j, std::min(step, n - j));
      }
      const std::size_t esize = eigenq::io::dtype_size(t.dtype);
      in.release(w.tensor, static_cast<std::size_t>(w.first_row * p.row_length) * esize, static_cast<std::size_t>(n) * esize);
    }
    if (--left[w.tensor] == 0) {
      std::string line = p.name + ": " + p.from + " " + eigenq::to_string(p.shape) + " -> " + gg::type_name(p.to);
      if (p.fell_back_from) line += std::string(" (fallback from ") + gg::type_name(*p.fell_back_from) + ")";
      if (!p.quantize) line += " copied (" + p.copied + ")";
      else if (!p.kept.empty()) line += " (kept in float: " + p.kept + ")";
      line += ", " + human_bytes(static_cast<double>(p.bytes_before)) + " -> " + human_bytes(static_cast<double>(p.bytes_after));
      progress.done(p.bytes_before, line);
    }
  });
  if (writer) writer->commit();
  progress.finish();
  // Errors summed chunk by chunk in file order: the same figures for any --jobs.
  for (std::size_t k = 0; k < items.size(); ++k) {
    GgufTensorPlan& p = plans[items[k].tensor];
    p.measured = measure;
    if (!p.quantize) continue;
    p.sums.add(item_sums[k]);
  }
  return run;
}

// ---- what the run prints ------------------------------------------------------------------

inline std::string gguf_table(const std::vector<GgufTensorPlan>& plans, bool with_metrics, bool with_importance) {
  std::vector<std::string> header{"tensor", "shape", "from", "to", "bits/w"};
  std::vector<bool> right{false, false, false, false, true};
  if (with_importance) {
    header.push_back("importance");
    right.push_back(false);
  }
  if (with_metrics) {
    for (const char* h : {"mse", "sqnr_db", "max_abs", "cosine"}) {
      header.push_back(h);
      right.push_back(true);
    }
  }
  for (const char* h : {"before", "after"}) {
    header.push_back(h);
    right.push_back(true);
  }
  Table table(header, right);
  for (const GgufTensorPlan& p : plans) {
    std::string to = gg::type_name(p.to);
    if (p.fell_back_from) to += std::string(" (fallback from ") + gg::type_name(*p.fell_back_from) + ")";
    else if (!p.quantize) to += " (" + p.copied + ")";
    else if (!p.kept.empty()) to += " (" + p.kept + ")";
    std::vector<std::string> row{p.name, eigenq::to_string(p.shape), p.from, to, format_double("%.4g", bits_per_weight(p.to))};
    if (with_importance) row.push_back(p.quantize && !p.importance.empty() ? p.importance : "-");
    if (with_metrics) {
      const eigenq::ErrorMetrics m = p.sums.metrics();
      if (p.quantize && p.kept.empty()) {
        row.push_back(format_double("%.4e", m.mse));
        row.push_back(eigenq::ErrorMetrics::format_db(m.sqnr_db));
        row.push_back(format_double("%.4e", m.max_abs));
        row.push_back(format_double("%.6f", m.cosine));
      } else {
        for (int k = 0; k < 4; ++k) row.push_back("-");
      }
    }
    row.push_back(human_bytes(static_cast<double>(p.bytes_before)));
    row.push_back(human_bytes(static_cast<double>(p.bytes_after)));
    table.add(std::move(row));
  }
  return table.str();
}

// One line per fallback; the kept-in-float and importance summaries.
inline std::string gguf_notes(const GgufRun& run, const GgufOptions& o) {
  std::string out;
  std::size_t fallbacks = 0;
  for (const GgufTensorPlan& p : run.plans) {
    if (!p.fell_back_from) continue;
    ++fallbacks;
    out += "fallback: " + p.name + ": rows of " + std::to_string(p.row_length) + " elements are not a whole number of " +
           gg::type_name(*p.fell_back_from) + " blocks (" + std::to_string(gg::block_size(*p.fell_back_from)) + ") -> " +
           gg::type_name(p.to) + ", as llama.cpp's quantize falls back\n";
  }
  if (fallbacks > 0) out += std::to_string(fallbacks) + " of " + std::to_string(run.plans.size()) + " tensors fell back\n";
  for (const char* reason : {"rank < 2", "excluded"}) {
    std::size_t count = 0;
    std::uint64_t bytes = 0;
    std::string names;
    for (const GgufTensorPlan& p : run.plans) {
      if (p.kept != reason) continue;
      if (count < 8) names += (count ? ", " : "") + p.name;
      ++count;
      bytes += p.bytes_after;
    }
    if (count == 0) continue;
    if (count > 8) names += ", ... (" + std::to_string(count - 8) + " more)";
    out += "kept in float: " + std::to_string(count) + (count == 1 ? " tensor" : " tensors") +
           (std::string(reason) == "rank < 2" ? " of rank < 2" : " left out by --include/--exclude") + ", " +
           human_bytes(static_cast<double>(bytes)) + " (" + names + ")" +
           (std::string(reason) == "rank < 2" ? "; --quantize-vectors quantizes them" : "") + "\n";
  }
  if (!o.imatrix.empty()) {
    std::size_t used = 0;
    std::size_t missing = 0;
    std::size_t ignored = 0;
    std::string missing_names;
    for (const GgufTensorPlan& p : run.plans) {
      if (!p.quantize || !p.kept.empty()) continue;
      if (p.importance == "imatrix") {
        ++used;
      } else if (p.importance == "not in the imatrix") {
        if (missing < 8) missing_names += (missing ? ", " : "") + p.name;
        ++missing;
      } else {
        ++ignored;
      }
    }
    out += "importance from " + o.imatrix + ": " + std::to_string(used) + " tensors";
    if (ignored) out += ", " + std::to_string(ignored) + " whose type ignores it";
    if (missing) out += ", " + std::to_string(missing) + " without an entry, quantized without (" + missing_names + (missing > 8 ? ", ..." : "") + ")";
    out += "\n";
  }
  return out;
}

inline std::string gguf_totals_line(const std::vector<GgufTensorPlan>& plans, double seconds) {
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  std::size_t quantized = 0;
  for (const auto& p : plans) {
    before += p.bytes_before;
    after += p.bytes_after;
    quantized += p.quantize && p.kept.empty() ? 1 : 0;
  }
  std::string s = std::to_string(plans.size()) + " tensors (" + std::to_string(quantized) + " quantized, " +
                  std::to_string(plans.size() - quantized) + " kept): " + human_bytes(static_cast<double>(before)) +
                  " -> " + human_bytes(static_cast<double>(after));
  if (after > 0) s += format_double(" (%.2fx smaller)", static_cast<double>(before) / static_cast<double>(after));
  s += format_double(" in %.2f s", seconds);
  if (seconds > 0.0) s += " (" + human_bytes(static_cast<double>(before) / seconds) + "/s)";
  return s;
}

inline nlohmann::ordered_json gguf_report_json(const std::string& in, const GgufRun& run, const GgufOptions& o) {
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  eigenq::detail::ErrorSums total;
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  std::size_t quantized = 0;
  std::size_t fallbacks = 0;
  auto metrics = [](const eigenq::detail::ErrorSums& s, nlohmann::ordered_json& j) {
    const eigenq::ErrorMetrics m = s.metrics();
    j["mse"] = m.mse;
    j["sqnr_db"] = m.sqnr_db;  // JSON has no infinity: a lossless tensor gives null
    j["max_abs"] = m.max_abs;
    j["cosine"] = m.cosine;
  };
  for (const GgufTensorPlan& p : run.plans) {
    nlohmann::ordered_json j;
    j["name"] = p.name;
    j["shape"] = p.shape;
    j["ne"] = p.ne;
    j["from"] = p.from;
    j["type"] = gg::type_name(p.to);
    j["bits_per_weight"] = bits_per_weight(p.to);
    j["quantized"] = p.quantize && p.kept.empty();
    if (p.quantize) j["copied_because"] = nullptr;
    else j["copied_because"] = p.copied;
    if (p.kept.empty()) j["kept_because"] = nullptr;
    else j["kept_because"] = p.kept;
    if (p.fell_back_from) j["fallback_from"] = gg::type_name(*p.fell_back_from);
    else j["fallback_from"] = nullptr;
    if (p.importance.empty()) j["importance"] = nullptr;
    else j["importance"] = p.importance;
    if (p.quantize) {
      metrics(p.sums, j);
    } else {
      j["mse"] = 0.0;
      j["sqnr_db"] = nullptr;
      j["max_abs"] = 0.0;
      j["cosine"] = 1.0;
    }
    j["bytes_before"] = p.bytes_before;
    j["bytes_after"] = p.bytes_after;
    tensors.push_back(std::move(j));
    before += p.bytes_before;
    after += p.bytes_after;
    fallbacks += p.fell_back_from ? 1 : 0;
    if (p.quantize && p.kept.empty()) {
      ++quantized;
      total.add(p.sums);
    }
  }
  nlohmann::ordered_json totals;
  totals["tensors"] = run.plans.size();
  totals["quantized"] = quantized;
  totals["fallbacks"] = fallbacks;
  totals["bytes_before"] = before;
  totals["bytes_after"] = after;
  totals["compression"] = after > 0 ? static_cast<double>(before) / static_cast<double>(after) : 0.0;
  metrics(total, totals);
  nlohmann::ordered_json out;
  out["file"] = in;
  out["type"] = gg::type_name(run.type);
  out["file_type"] = run.file_type;
  if (o.imatrix.empty()) out["imatrix"] = nullptr;
  else out["imatrix"] = o.imatrix;
  out["tensors"] = std::move(tensors);
  out["totals"] = std::move(totals);
  return out;
}

}  // namespace eigenq_cli
