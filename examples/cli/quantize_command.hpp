// `eigenq quantize IN OUT` and `eigenq report IN`: one pipeline. Every float
// tensor of rank >= 2 that --include/--exclude select is quantized with the
// scheme options (tensors of rank 0 and 1, biases and norm weights, only with
// --quantize-vectors, as llama.cpp's quantize does); every other tensor is
// copied through, and the summary says which floats were kept and why. quantize streams the result into OUT
// (laid out before any data is written, so threads write disjoint ranges and
// the file is the same for any --jobs); report only measures the error.
// --method gptq|awq|weighted chooses the codes of the matrices from calibration statistics
// (method.hpp); rtn, round to nearest, is the default.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <type_traits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/analysis/metrics.hpp>
#include <eigenq/core/eigen_view.hpp>
#include <eigenq/io/atomic_file.hpp>
#include <eigenq/io/quantized_format.hpp>
#include <eigenq/io/safetensors.hpp>

#include "cli_util.hpp"
#include "gguf_quantize_command.hpp"
#include "input_model.hpp"
#include "jobs.hpp"
#include "method.hpp"
#include "progress.hpp"
#include "scheme.hpp"

namespace eigenq_cli {

struct QuantizeArgs {
  std::string in;
  std::string out;  // empty for report
  SchemeOptions scheme;
  MethodOptions method;
  std::string include;
  std::string exclude;
  bool quantize_vectors = false;  // also tensors of rank 0 and 1
  int jobs = 1;
  std::string report_path;  // quantize --report FILE.json
  bool quiet = false;
  bool json = false;  // report --json
  GgufOptions gguf;   // --type, --type-for, --imatrix, --metadata: the GGUF path
  std::vector<std::string> scheme_flags_given;  // eigenq scheme options on the command line ("--bits", ...)
  std::string onnx_format;  // --format qdq|dynamic|matmulnbits (ONNX IN and OUT; empty: by --bits, --granularity)
  bool onnx_activations = false;  // --activations: QDQ on the rewritten nodes' inputs too (ONNX, qdq)
  std::string calibration_data;   // --calibration-data FILE (.npy or .safetensors): the graph's inputs
};

// Why a tensor was copied instead of quantized.
enum class CopyReason { none, not_float, empty, excluded, rank };

inline const char* to_string(CopyReason r) {
  switch (r) {
    case CopyReason::none: return "";
    case CopyReason::not_float: return "not a float";
    case CopyReason::empty: return "empty";
    case CopyReason::excluded: return "excluded";
    case CopyReason::rank: return "rank < 2";
  }
  return "?";
}

// What happened to one tensor.
struct TensorOutcome {
  std::string name;
  eigenq::Shape shape;
  eigenq::io::DType dtype = eigenq::io::DType::f32;
  std::string dtype_name = "F32";  // the dtype, or a GGUF input's block type ("q4_K")
  bool quantized = false;
  CopyReason copied_because = CopyReason::none;
  std::string scheme = "copy";
  int bits = 0;
  std::string granularity = "-";
  std::string method = "-";        // rtn, gptq, awq or weighted for a quantized tensor
  std::string method_fallback;     // why a tensor got rtn instead of --method (empty if it did not)
  std::uint64_t bytes_before = 0;
  std::uint64_t bytes_after = 0;
  bool has_metrics = false;
  eigenq::detail::ErrorSums sums;  // reference vs dequantized, when measured
};

namespace detail {

constexpr std::size_t copy_chunk = std::size_t{64} << 20;  // bytes copied (and released) at a time

inline std::string describe_granularity(const eigenq::Granularity& g) {
  switch (g.kind) {
    case eigenq::Granularity::Kind::tensor: return "tensor";
    case eigenq::Granularity::Kind::channel: return "channel(" + std::to_string(g.axis) + ")";
    case eigenq::Granularity::Kind::group:
      return "group(" + std::to_string(g.axis) + ", " + std::to_string(g.group_size) + ")";
  }
  return "?";
}

// Adds reference-vs-reconstruction sums in chunks (no large temporaries).
inline void add_error_sums(eigenq::detail::ErrorSums& sums, const float* reference, const float* reconstruction,
                           Index n) {
  constexpr Index chunk = Index{1} << 16;
  for (Index first = 0; first < n; first += chunk) {
    sums.add(reference + first, reconstruction + first, std::min(chunk, n - first));
  }
}

inline std::regex compile_regex(const std::string& pattern, const char* option) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError(std::string(option) + " '" + pattern + "' is not a valid regular expression: " + e.what());
  }
}

// Wraps a library error with the file and tensor it happened on, in the tool's words.
[[noreturn]] inline void rethrow_for_tensor(const std::string& file, const std::string& tensor, const eigenq::Error& e,
                                            const SchemeOptions& scheme) {
  if (dynamic_cast<const eigenq::IoError*>(&e)) throw;  // names the output file already
  throw eigenq::Error(file + ": tensor '" + tensor + "': " + in_tool_words(e.what(), scheme));
}

// A float tensor that was copied, not quantized (rank < 2, excluded or empty).
inline bool kept_in_float(const TensorOutcome& t) {
  return !t.quantized && t.copied_because != CopyReason::not_float;
}

inline nlohmann::ordered_json metrics_json(const TensorOutcome& t) {
  const eigenq::ErrorMetrics m = t.sums.metrics();
  nlohmann::ordered_json j;
  j["mse"] = m.mse;
  j["sqnr_db"] = m.sqnr_db;  // JSON has no infinity: a lossless tensor gives null
  j["max_abs"] = m.max_abs;
  j["cosine"] = m.cosine;
  return j;
}

}  // namespace detail

// The report object of `report --json` and `quantize --report FILE.json`.
inline nlohmann::ordered_json report_json(const std::string& in, const std::vector<TensorOutcome>& outcomes) {
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  eigenq::detail::ErrorSums total;
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  std::size_t quantized = 0;
  std::size_t kept_float = 0;
  std::uint64_t kept_float_bytes = 0;
  for (const TensorOutcome& t : outcomes) {
    if (detail::kept_in_float(t)) {
      ++kept_float;
      kept_float_bytes += t.bytes_before;
    }
    nlohmann::ordered_json j;
    j["name"] = t.name;
    j["shape"] = t.shape;
    j["dtype"] = t.dtype_name;
    j["scheme"] = t.scheme;
    j["bits"] = t.bits;
    j["granularity"] = t.granularity;
    if (t.quantized) j["method"] = t.method;
    else j["method"] = nullptr;
    if (!t.method_fallback.empty()) j["method_fallback"] = t.method_fallback;
    if (t.quantized) j["copied_because"] = nullptr;
    else j["copied_because"] = to_string(t.copied_because);
    const nlohmann::ordered_json m = detail::metrics_json(t);
    for (auto it = m.begin(); it != m.end(); ++it) j[it.key()] = it.value();
    j["bytes_before"] = t.bytes_before;
    j["bytes_after"] = t.bytes_after;
    tensors.push_back(std::move(j));
    before += t.bytes_before;
    after += t.bytes_after;
    if (t.quantized) {
      ++quantized;
      total.add(t.sums);
    }
  }
  TensorOutcome all;
  all.sums = total;
  nlohmann::ordered_json totals;
  totals["tensors"] = outcomes.size();
  totals["quantized"] = quantized;
  totals["kept_float"] = kept_float;  // float tensors copied: rank < 2, excluded or empty
  totals["kept_float_bytes"] = kept_float_bytes;
  totals["bytes_before"] = before;
  totals["bytes_after"] = after;
  totals["compression"] = after > 0 ? static_cast<double>(before) / static_cast<double>(after) : 0.0;
  const nlohmann::ordered_json m = detail::metrics_json(all);  // over every quantized element
  for (auto it = m.begin(); it != m.end(); ++it) totals[it.key()] = it.value();
  nlohmann::ordered_json out;
  out["file"] = in;
  out["tensors"] = std::move(tensors);
  out["totals"] = std::move(totals);
  return out;
}

inline std::string summary_table(const std::vector<TensorOutcome>& outcomes, bool with_metrics) {
  std::vector<std::string> header{"tensor", "shape", "dtype", "scheme", "bits", "granularity"};
  std::vector<bool> right{false, false, false, false, true, false};
  if (with_metrics) {
    for (const char* h : {"mse", "sqnr_db", "max_abs", "cosine"}) {
      header.push_back(h);
      right.push_back(true);
    }
  }
  header.push_back("before");
  header.push_back("after");
  right.push_back(true);
  right.push_back(true);
  Table table(header, right);
  for (const TensorOutcome& t : outcomes) {
    std::string scheme = t.quantized ? t.scheme : t.scheme + " (" + to_string(t.copied_because) + ")";
    if (t.quantized && t.method != "rtn") scheme += " " + t.method;
    std::vector<std::string> row{t.name, eigenq::to_string(t.shape), t.dtype_name, scheme,
                                 std::to_string(t.bits), t.granularity};
    if (with_metrics) {
      const eigenq::ErrorMetrics m = t.sums.metrics();
      row.push_back(format_double("%.4e", m.mse));
      row.push_back(eigenq::ErrorMetrics::format_db(m.sqnr_db));
      row.push_back(format_double("%.4e", m.max_abs));
      row.push_back(format_double("%.6f", m.cosine));
    }
    row.push_back(human_bytes(static_cast<double>(t.bytes_before)));
    row.push_back(human_bytes(static_cast<double>(t.bytes_after)));
    table.add(std::move(row));
  }
  return table.str();
}

inline std::string totals_line(const std::vector<TensorOutcome>& outcomes, double seconds) {
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  std::size_t quantized = 0;
  for (const auto& t : outcomes) {
    before += t.bytes_before;
    after += t.bytes_after;
    quantized += t.quantized ? 1 : 0;
  }
  std::string s = std::to_string(outcomes.size()) + " tensors (" + std::to_string(quantized) + " quantized, " +
                  std::to_string(outcomes.size() - quantized) + " copied): " + human_bytes(static_cast<double>(before)) +
                  " -> " + human_bytes(static_cast<double>(after));
  if (after > 0) s += format_double(" (%.2fx smaller)", static_cast<double>(before) / static_cast<double>(after));
  s += format_double(" in %.2f s", seconds);
  if (seconds > 0.0) s += " (" + human_bytes(static_cast<double>(before) / seconds) + "/s)";
  return s;
}

// "kept in float: ..." lines, one per reason (none when every float tensor was quantized):
//   kept in float: 2 tensors of rank < 2, 96 B (layers.0.bias, layers.1.bias); --quantize-vectors quantizes them
inline std::string kept_in_float_lines(const std::vector<TensorOutcome>& outcomes) {
  constexpr std::size_t max_names = 8;
  std::string out;
  for (CopyReason reason : {CopyReason::rank, CopyReason::excluded, CopyReason::empty}) {
    std::size_t count = 0;
    std::uint64_t bytes = 0;
    std::string names;
    for (const TensorOutcome& t : outcomes) {
      if (!detail::kept_in_float(t) || t.copied_because != reason) continue;
      if (count < max_names) names += (count > 0 ? ", " : "") + t.name;
      ++count;
      bytes += t.bytes_before;
    }
    if (count == 0) continue;
    if (count > max_names) names += ", ... (" + std::to_string(count - max_names) + " more)";
    const std::string tensors = std::to_string(count) + (count == 1 ? " tensor" : " tensors");
    out += "kept in float: " + tensors;
    switch (reason) {
      case CopyReason::rank: out += " of rank < 2"; break;
      case CopyReason::excluded: out += " left out by --include/--exclude"; break;
      default: out += " without elements"; break;
    }
    out += ", " + human_bytes(static_cast<double>(bytes)) + " (" + names + ")";
    if (reason == CopyReason::rank) out += "; --quantize-vectors quantizes them";
    out += "\n";
  }
  return out;
}

// "rounded to nearest: ..." lines for the tensors that did not get --method, one per reason.
inline std::string method_fallback_lines(const std::vector<TensorOutcome>& outcomes, const MethodOptions& m) {
  if (m.is_rtn()) return "";
  constexpr std::size_t max_names = 8;
  std::map<std::string, std::vector<std::string>> by_reason;
  std::size_t with_method = 0;
  for (const TensorOutcome& t : outcomes) {
    if (!t.quantized) continue;
    if (t.method_fallback.empty()) ++with_method;
    else by_reason[t.method_fallback].push_back(t.name);
  }
  std::string out = "method " + m.method + ": " + std::to_string(with_method) + (with_method == 1 ? " tensor" : " tensors") +
                    " with statistics from " + m.stats_path() + "\n";
  for (const auto& [reason, names] : by_reason) {
    std::string list;
    for (std::size_t k = 0; k < names.size() && k < max_names; ++k) list += (k > 0 ? ", " : "") + names[k];
    if (names.size() > max_names) list += ", ... (" + std::to_string(names.size() - max_names) + " more)";
    out += "rounded to nearest instead: " + std::to_string(names.size()) + (names.size() == 1 ? " tensor, " : " tensors, ") +
           reason + " (" + list + ")\n";
  }
  return out;
}

// The shared pipeline: plans, (writes,) measures. Returns one outcome per input tensor.
inline std::vector<TensorOutcome> quantize_model(const QuantizeArgs& a, bool write_output, bool measure) {
  namespace io = eigenq::io;
  if (write_output) {
    if (is_npy_path(a.out)) throw UsageError("OUT '" + a.out + "' ends in .npy, but quantized files are safetensors");
    if (io::same_file(a.in, a.out)) {
      throw UsageError("OUT '" + a.out + "' is the same file as IN '" + a.in + "'; choose another output");
    }
  }
  const bool use_include = !a.include.empty();
  const std::regex include = detail::compile_regex(use_include ? a.include : std::string("."), "--include");
  const bool use_exclude = !a.exclude.empty();
  const std::regex exclude = detail::compile_regex(use_exclude ? a.exclude : std::string("."), "--exclude");

  const InputModel in(a.in);
  for (const auto& kv : in.metadata()) {
    if (io::is_eigenq_metadata_key(kv.first)) {
      throw eigenq::FormatError(a.in + ": already an eigenq-quantized file (metadata '" + kv.first +
                                "'); quantize the original model instead");
    }
  }
  const auto& tensors = in.tensors();
  const std::size_t n = tensors.size();

  // The statistics of --method, checked against the input's float matrices before anything
  // is written: a NAME that is no matrix of IN, or of another width, is an error.
  eigenq::io::CalibrationStatsMap stats;
  if (!a.method.is_rtn()) {
    std::map<std::string, Index> matrices;
    for (const InputTensor& t : tensors) {
      if (io::converts_to_float(t.dtype) && t.shape.size() == 2) matrices[t.name] = t.shape[1];
    }
    stats = load_method_stats(a.method, matrices);
  }
  std::vector<const eigenq::CalibrationStats*> tensor_stats(n, nullptr);  // the tensors --method quantizes

  // Plan: which tensors are quantized, the granularity of each, every output entry.
  std::vector<TensorOutcome> outcomes(n);
  std::vector<eigenq::Granularity> granularity(n);
  std::vector<Index> double_quant(n, 0);
  std::vector<std::size_t> first_entry(n);
  std::vector<io::TensorEntry> entries;
  std::map<std::string, std::string> metadata = in.metadata();
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  extra["calibration"] = a.scheme.calibration_label();
  for (std::size_t i = 0; i < n; ++i) {
    const InputTensor& t = tensors[i];
    TensorOutcome& o = outcomes[i];
    o.name = t.name;
    o.shape = t.shape;
    o.dtype = t.dtype;
    o.dtype_name = t.type_name();
    o.bits = t.ggml_quantized ? static_cast<int>(std::lround(bits_per_weight(*t.ggml_type)))
                              : 8 * static_cast<int>(io::dtype_size(t.dtype));
    o.bytes_before = t.bytes;
    if (t.ggml_quantized) {
      // A ggml block type (a GGUF input): eigenq's safetensors format has no place for it.
      if (write_output) {
        throw eigenq::FormatError(a.in + ": tensor '" + t.name + "' is " + t.type_name() +
                                  ", a ggml block type, which eigenq's safetensors format cannot hold; write a .gguf "
                                  "OUT (with --type), or start from an F32/F16/BF16 file");
      }
      o.copied_because = CopyReason::not_float;
    } else if (!io::converts_to_float(t.dtype)) {
      o.copied_because = CopyReason::not_float;
    } else if (eigenq::element_count(t.shape) == 0) {
      o.copied_because = CopyReason::empty;
    } else if ((use_include && !std::regex_search(t.name, include)) || (use_exclude && std::regex_search(t.name, exclude))) {
      o.copied_because = CopyReason::excluded;
    } else if (t.shape.size() < 2 && !a.quantize_vectors) {
      o.copied_because = CopyReason::rank;
    }
    o.quantized = o.copied_because == CopyReason::none;
    first_entry[i] = entries.size();
    if (!o.quantized) {
      o.bytes_after = t.bytes;
      o.has_metrics = true;  // a copy is exact
      entries.push_back({t.name, t.dtype, t.shape});
      continue;
    }
    o.method = "rtn";
    if (!a.method.is_rtn()) {
      const auto it = stats.find(t.name);
      if (t.shape.size() != 2) {
        o.method_fallback = "not a matrix [out, in]";
      } else if (it == stats.end() || !has_method_fields(a.method.method, it->second)) {
        const std::string why = it == stats.end() ? std::string("no statistics")
                                                  : std::string("statistics without ") + method_fields(a.method.method);
        if (!a.method.allow_missing_stats) {
          throw eigenq::Error(a.in + ": tensor '" + t.name + "': " + why + " in " + a.method.stats_path() + " for --method " +
                              a.method.method + " (--allow-missing-stats rounds such tensors to nearest)");
        }
        o.method_fallback = why;
      } else {
        o.method = a.method.method;
        tensor_stats[i] = &it->second;
      }
    }
    try {
      granularity[i] = a.scheme.granularity_for(t.shape);
      // Double quantization applies to the tensors that really get groups (not to scalars).
      double_quant[i] = granularity[i].kind == eigenq::Granularity::Kind::group ? a.scheme.double_quant : 0;
      nlohmann::ordered_json tensor_extra = extra;
      if (tensor_stats[i] != nullptr) {
        tensor_extra["method"] = o.method;
        if (o.method == "awq") tensor_extra["input_scale"] = t.name + ".input_scale";
      }
      const io::QuantizedPlan plan = with_policy(a.scheme, [&](const auto& policy) {
        return io::plan_quantized(t.name, policy, t.shape, granularity[i],
                                  io::QuantizedTensorOptions{t.dtype, tensor_extra, double_quant[i]});
      });
      granularity[i] = eigenq::ParamLayout(t.shape, granularity[i]).granularity();  // normalized axis
      o.scheme = a.scheme.scheme + (a.scheme.convention == "real-offset" ? " (real-offset)" : "") + (double_quant[i] > 0 ? " (dq)" : "");
      o.bits = a.scheme.bits;
      o.granularity = detail::describe_granularity(granularity[i]);
      o.bytes_after = plan.bytes();
      o.has_metrics = measure;
      entries.insert(entries.end(), plan.entries.begin(), plan.entries.end());
      if (o.method == "awq") {  // AWQ's input scales s, F32 [in], after the tensor's own entries
        entries.push_back({t.name + ".input_scale", io::DType::f32, {t.shape[1]}});
        o.bytes_after += sizeof(float) * static_cast<std::uint64_t>(t.shape[1]);
      }
      metadata[plan.metadata_key] = plan.metadata_json;
    } catch (const eigenq::Error& e) {
      detail::rethrow_for_tensor(a.in, t.name, e, a.scheme);
    }
  }
  metadata[io::quantized_format_key] = io::quantized_format_version;

  // NAME.scale of one tensor must not be the name of another.
  {
    std::map<std::string, std::size_t> owner;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t end = i + 1 < n ? first_entry[i + 1] : entries.size();
      for (std::size_t k = first_entry[i]; k < end; ++k) {
        const auto [it, fresh] = owner.emplace(entries[k].name, i);
        if (!fresh) {
          throw eigenq::FormatError(a.in + ": tensors '" + tensors[it->second].name + "' and '" + tensors[i].name +
                                    "' would both be stored as '" + entries[k].name +
                                    "' (a quantized tensor's parameters are NAME.<param>); --exclude one of them");
        }
      }
    }
  }

  std::optional<io::SafetensorsWriter> writer;
  std::optional<TempFileGuard> guard;
  if (write_output) {
    writer.emplace(a.out, entries, metadata);
    guard.emplace(writer->temp_path());
  }

  Progress progress(write_output ? "quantize" : "report", n, in.total_bytes(), Progress::mode_for(a.quiet));
  run_jobs(n, a.jobs, [&](std::size_t i) {
    const InputTensor& t = tensors[i];
    TensorOutcome& o = outcomes[i];
    in.prefetch(i);
    try {
      if (!o.quantized) {
        if (writer) {
          for (std::size_t off = 0; off < t.bytes; off += detail::copy_chunk) {
            const std::size_t len = std::min(detail::copy_chunk, t.bytes - off);
            writer->write_chunk(first_entry[i], off, t.data + off, len);
            in.release(i, off, len);
          }
        }
      } else {
        // F32 data aligned for float is used in place; anything else is converted once.
        const eigenq::Index count = eigenq::element_count(t.shape);
        const bool in_place = t.dtype == io::DType::f32 && reinterpret_cast<std::uintptr_t>(t.data) % alignof(float) == 0;
        std::vector<float> converted;
        if (!in_place) {
          converted.resize(static_cast<std::size_t>(count));
          io::convert_elements<float>(t.dtype, t.data, count, converted.data());
        }
        const float* values = in_place ? reinterpret_cast<const float*>(t.data) : converted.data();
        const eigenq::RowMajorView view(values, t.shape);
        with_policy(a.scheme, [&](const auto& policy) {
          using Policy = std::decay_t<decltype(policy)>;
          auto finish = [&](const auto& q, const std::vector<io::Payload>& payloads) {
            if (writer) {
              for (std::size_t k = 0; k < payloads.size(); ++k) {
                writer->write(first_entry[i] + k, payloads[k].data(), payloads[k].size());
              }
            }
            if (o.has_metrics) {
              const std::vector<float> back = q.dequantize_flat();
              detail::add_error_sums(o.sums, values, back.data(), count);
            }
          };
          if (tensor_stats[i] != nullptr) {
            auto r = quantize_with_method(o.method, policy, granularity[i], view, *tensor_stats[i]);
            const std::vector<io::Payload> payloads = io::encode_quantized(r.weights);
            if (writer) {
              for (std::size_t k = 0; k < payloads.size(); ++k) {
                writer->write(first_entry[i] + k, payloads[k].data(), payloads[k].size());
              }
              if (r.input_scales.size() > 0) {
                writer->write(first_entry[i] + payloads.size(), r.input_scales.data(),
                              sizeof(float) * static_cast<std::size_t>(r.input_scales.size()));
              }
            }
            if (o.has_metrics) {  // against the weight the result stands for: Q(W diag(s)) diag(s)^-1 for AWQ
              std::vector<float> back = r.weights.dequantize_flat();
              const Index cols = t.shape[1];
              for (Index k = 0; r.input_scales.size() > 0 && k < count; ++k) back[static_cast<std::size_t>(k)] /= r.input_scales[k % cols];
              detail::add_error_sums(o.sums, values, back.data(), count);
            }
            return;
          }
          if constexpr (io::detail::is_linear_policy<Policy>::value) {
            if (double_quant[i] > 0) {
              const auto dq = double_quantize_view(policy, granularity[i], view, double_quant[i]);
              finish(dq.tensor, io::encode_double_quantized(dq));
              return;
            }
          }
          const auto q = quantize_view(policy, granularity[i], view, a.scheme);
          finish(q, io::encode_quantized(q));
        });
      }
    } catch (const eigenq::Error& e) {
      detail::rethrow_for_tensor(a.in, t.name, e, a.scheme);
    }
    in.release(i);
    std::string line = t.name + ": " + io::to_string(t.dtype) + " " + eigenq::to_string(t.shape) + " -> ";
    line += o.quantized ? o.scheme + " " + std::to_string(o.bits) + "-bit " + o.granularity
                        : "copied (" + std::string(to_string(o.copied_because)) + ")";
    if (o.quantized && !a.method.is_rtn()) line += ", " + (o.method_fallback.empty() ? o.method : "rtn (" + o.method_fallback + ")");
    line += ", " + human_bytes(static_cast<double>(o.bytes_before)) + " -> " + human_bytes(static_cast<double>(o.bytes_after));
    progress.done(t.bytes, line);
  });
  if (writer) writer->commit();
  progress.finish();
  return outcomes;
}

// The scheme options given, in one string for messages: "--scheme, --bits".
inline std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// quantize IN OUT.gguf --type TYPE ...
inline int run_quantize_gguf(const QuantizeArgs& a) {
  const bool measure = !a.report_path.empty();
  const Stopwatch timer;
  const GgufRun run = quantize_to_gguf(a.in, a.out, a.gguf, a.include, a.exclude, a.quantize_vectors, a.jobs, measure,
                                       a.quiet);
  const double seconds = timer.seconds();
  if (measure) {
    const std::string text = gguf_report_json(a.in, run, a.gguf).dump(2) + "\n";
    eigenq::io::AtomicFile report(a.report_path);
    report.write(text.data(), text.size());
    report.commit();
  }
  if (!a.quiet) {
    std::fputs(gguf_table(run.plans, measure, !a.gguf.imatrix.empty()).c_str(), stdout);
    const char* ftype = llama_file_type_name(run.file_type);
    std::printf("%s\n%sgeneral.file_type = %u (%s)\nwrote %s\n", gguf_totals_line(run.plans, seconds).c_str(),
                gguf_notes(run, a.gguf).c_str(), static_cast<unsigned>(run.file_type), ftype ? ftype : "?",
                a.out.c_str());
  }
  return 0;
}

// report IN --type TYPE ...
inline int run_report_gguf(const QuantizeArgs& a) {
  const Stopwatch timer;
  const GgufRun run = quantize_to_gguf(a.in, "", a.gguf, a.include, a.exclude, a.quantize_vectors, a.jobs, true, a.quiet);
  if (a.json) {
    std::printf("%s\n", gguf_report_json(a.in, run, a.gguf).dump(2).c_str());
    return 0;
  }
  std::fputs(gguf_table(run.plans, true, !a.gguf.imatrix.empty()).c_str(), stdout);
  eigenq::detail::ErrorSums all;
  for (const auto& p : run.plans) {
    if (p.quantize && p.kept.empty()) all.add(p.sums);
  }
  const eigenq::ErrorMetrics m = all.metrics();
  std::printf("%s\n%sall quantized elements: mse %.4e, sqnr %s dB, max abs %.4e, cosine %.6f\n",
              gguf_totals_line(run.plans, timer.seconds()).c_str(), gguf_notes(run, a.gguf).c_str(), m.mse,
              eigenq::ErrorMetrics::format_db(m.sqnr_db).c_str(), m.max_abs, m.cosine);
  return 0;
}

inline int run_quantize(const QuantizeArgs& a) {
  if (is_gguf_path(a.out)) return run_quantize_gguf(a);
  const bool measure = !a.report_path.empty();
  const Stopwatch timer;
  const std::vector<TensorOutcome> outcomes = quantize_model(a, true, measure);
  const double seconds = timer.seconds();
  if (measure) {
    const std::string text = report_json(a.in, outcomes).dump(2) + "\n";
    eigenq::io::AtomicFile report(a.report_path);
    report.write(text.data(), text.size());
    report.commit();
  }
  if (!a.quiet) {
    std::fputs(summary_table(outcomes, measure).c_str(), stdout);
    std::printf("%s\n%s%swrote %s\n", totals_line(outcomes, seconds).c_str(), kept_in_float_lines(outcomes).c_str(),
                method_fallback_lines(outcomes, a.method).c_str(), a.out.c_str());
  }
  return 0;
}

inline int run_report(const QuantizeArgs& a) {
  if (!a.gguf.type.empty()) return run_report_gguf(a);
  const Stopwatch timer;
  const std::vector<TensorOutcome> outcomes = quantize_model(a, false, true);
  if (a.json) {
    std::printf("%s\n", report_json(a.in, outcomes).dump(2).c_str());
  } else {
    std::fputs(summary_table(outcomes, true).c_str(), stdout);
    TensorOutcome all;
    for (const auto& t : outcomes) {
      if (t.quantized) all.sums.add(t.sums);
    }
    const eigenq::ErrorMetrics m = all.sums.metrics();
    std::printf("%s\n%s%sall quantized elements: mse %.4e, sqnr %s dB, max abs %.4e, cosine %.6f\n",
                totals_line(outcomes, timer.seconds()).c_str(), kept_in_float_lines(outcomes).c_str(),
                method_fallback_lines(outcomes, a.method).c_str(), m.mse,
                eigenq::ErrorMetrics::format_db(m.sqnr_db).c_str(), m.max_abs, m.cosine);
  }
  return 0;
}

}  // namespace eigenq_cli
