// `eigenq quantize IN.onnx OUT.onnx --format qdq|dynamic|matmulnbits` and `eigenq inspect
// FILE.onnx`: ONNX models through ONNX's own library (eigenq::onnx, docs/onnx.md). Every MatMul
// and Gemm whose weight is a constant float initializer (those --include/--exclude select, by
// node or weight name) is rewritten, its codes by --method (statistics named after the weight
// initializers); everything else in the model stays. The summary and
// --report give each rewritten node's weight error as for the other formats. Bad input (not a
// protobuf, a graph ONNX's checker rejects, an opset outside 13..17, a selected weight of
// another type or rank) exits with 2 and one line, and no output file.
#pragma once

#include <cstdio>
#include <map>
#include <set>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/io/atomic_file.hpp>
#include <eigenq/io/npy.hpp>
#include <eigenq/io/safetensors.hpp>
#include <eigenq/onnx/evaluate.hpp>
#include <eigenq/onnx/model_file.hpp>
#include <eigenq/onnx/rewrite.hpp>

#include "cli_util.hpp"
#include "input_model.hpp"
#include "method.hpp"
#include "quantize_command.hpp"

namespace eigenq_cli {

namespace detail {

inline eigenq::onnx::RewriteOptions onnx_rewrite_options(const QuantizeArgs& a) {
  const SchemeOptions& s = a.scheme;
  for (const std::string& f : a.scheme_flags_given) {
    if (f != "--scheme" && f != "--bits" && f != "--granularity" && f != "--group-size") {
      throw UsageError(f + " does not apply to ONNX output; ONNX takes --format, --scheme linear-symmetric|linear-affine, "
                           "--bits, --granularity, --group-size");
    }
  }
  if (!s.is_linear()) throw UsageError("--scheme " + s.scheme + ": ONNX output takes linear-symmetric or linear-affine");
  a.method.validate(s);
  if (a.quantize_vectors) throw UsageError("--quantize-vectors does not apply to ONNX output (only MatMul and Gemm weights)");
  eigenq::onnx::RewriteOptions o;
  o.bits = s.bits;
  o.symmetric = s.scheme == "linear-symmetric";
  o.block_size = s.group_size;
  const std::string& f = a.onnx_format;
  if (f.empty()) {
    o.format = s.granularity == "group" || s.bits < 8 ? eigenq::onnx::Format::matmulnbits : eigenq::onnx::Format::qdq;
  } else if (f == "qdq") {
    o.format = eigenq::onnx::Format::qdq;
  } else if (f == "dynamic") {
    o.format = eigenq::onnx::Format::dynamic;
  } else if (f == "matmulnbits") {
    o.format = eigenq::onnx::Format::matmulnbits;
  } else {
    throw UsageError("--format '" + f + "' is not one of qdq, dynamic, matmulnbits");
  }
  if (o.format == eigenq::onnx::Format::matmulnbits) {
    if (!s.granularity.empty() && s.granularity != "group") {
      throw UsageError("--format matmulnbits has one scale per block: --granularity group (or none), not " + s.granularity);
    }
    if (o.bits != 2 && o.bits != 4 && o.bits != 8) {
      throw UsageError("--format matmulnbits takes --bits 2, 4 or 8, not " + std::to_string(o.bits));
    }
    if (o.block_size < 16 || o.block_size > 256 || (o.block_size & (o.block_size - 1)) != 0) {
      throw UsageError("--group-size " + std::to_string(o.block_size) + ": MatMulNBits blocks are 16, 32, 64, 128 or 256");
    }
  } else {
    if (s.granularity == "group") {
      throw UsageError(std::string("--granularity group needs --format matmulnbits (") + eigenq::onnx::to_string(o.format) +
                       " has one scale per output channel or per tensor)");
    }
    o.per_channel = s.granularity != "tensor";
    if (o.format == eigenq::onnx::Format::dynamic && o.bits != 8) {
      throw UsageError("--format dynamic takes --bits 8 (MatMulInteger), not " + std::to_string(o.bits));
    }
    if (o.format == eigenq::onnx::Format::qdq && o.bits > 8) {
      throw UsageError("--format qdq stores int8 codes: --bits 2..8, not " + std::to_string(o.bits));
    }
  }
  const bool has_include = !a.include.empty();
  const bool has_exclude = !a.exclude.empty();
  const std::regex include = has_include ? compile_regex(a.include, "--include") : std::regex();
  const std::regex exclude = has_exclude ? compile_regex(a.exclude, "--exclude") : std::regex();
  o.select = [=](const eigenq::onnx::WeightedNode& n) {
    auto matches = [&](const std::regex& re) { return std::regex_search(n.node, re) || std::regex_search(n.weight, re); };
    if (has_include && !matches(include)) return false;
    return !(has_exclude && matches(exclude));
  };
  return o;
}

inline TensorOutcome onnx_outcome(const eigenq::onnx::RewrittenNode& r, const eigenq::onnx::RewriteOptions& o,
                                  const std::string& method, const std::set<std::string>& fell_back) {
  TensorOutcome t;
  t.name = r.site.node;
  t.shape = eigenq::Shape{r.site.out, r.site.in};
  t.dtype_name = "F32";
  t.quantized = true;
  t.scheme = std::string(eigenq::onnx::to_string(o.format)) + (o.symmetric ? " symmetric" : " affine") +
             (r.has_activation ? " +activations" : "");
  t.bits = o.bits;
  t.granularity = r.granularity;
  t.method = fell_back.count(r.site.weight) != 0 ? "rtn" : method;
  if (fell_back.count(r.site.weight) != 0) t.method_fallback = "no statistics";
  t.bytes_before = r.bytes_before;
  t.bytes_after = r.bytes_after;
  t.has_metrics = true;
  add_error_sums(t.sums, r.reference.data(), r.dequantized.data(), r.reference.size());
  return t;
}

// The graph's inputs from --calibration-data: a .npy for a graph of one input, or a
// .safetensors with one tensor per input name; each [rows, features] (a vector is one row).
inline std::map<std::string, eigenq::onnx::ValueMatrix> calibration_inputs(const eigenq::onnx::proto::ModelProto& m,
                                                                          const std::string& path) {
  std::set<std::string> initializers;
  for (const auto& t : m.graph().initializer()) initializers.insert(t.name());
  std::vector<std::string> names;
  for (const auto& v : m.graph().input()) {
    if (initializers.count(v.name()) == 0) names.push_back(v.name());
  }
  auto as_matrix = [&](const std::string& name, const eigenq::Shape& shape, std::vector<float> values) {
    if (shape.size() > 2 || values.empty()) {
      throw eigenq::FormatError(path + ": tensor '" + name + "' of shape " + eigenq::to_string(shape) +
                                " is not a batch [rows, features]");
    }
    const eigenq::Index rows = shape.size() == 2 ? shape[0] : 1;
    const eigenq::Index cols = shape.empty() ? 1 : shape.back();
    return eigenq::onnx::ValueMatrix(Eigen::Map<eigenq::onnx::ValueMatrix>(values.data(), rows, cols));
  };
  std::map<std::string, eigenq::onnx::ValueMatrix> out;
  if (ends_with(path, ".npy")) {
    if (names.size() != 1) {
      throw UsageError("--calibration-data " + path + ": one .npy array for a graph of " + std::to_string(names.size()) +
                       " inputs; give a .safetensors with a tensor per input name");
    }
    const eigenq::io::NpyArray a = eigenq::io::read_npy(path);
    out[names[0]] = as_matrix(names[0], a.shape, a.values<float>());
    return out;
  }
  if (!ends_with(path, ".safetensors")) throw UsageError("--calibration-data " + path + ": expected .npy or .safetensors");
  const eigenq::io::SafetensorsFile f(path);
  for (const std::string& n : names) {
    if (!f.contains(n)) throw eigenq::FormatError(path + ": no tensor '" + n + "' for the graph input of that name");
    const auto t = f.tensor(n);
    std::vector<float> v(static_cast<std::size_t>(t.size()));
    t.convert_to(v.data());
    out[n] = as_matrix(n, t.shape(), std::move(v));
  }
  return out;
}

}  // namespace detail

// quantize IN.onnx OUT.onnx
inline int run_quantize_onnx(const QuantizeArgs& a) {
  if (!is_onnx_path(a.in) || !is_onnx_path(a.out)) {
    throw UsageError("IN '" + a.in + "' and OUT '" + a.out + "': an ONNX model is rewritten into an ONNX model (both .onnx)");
  }
  eigenq::onnx::RewriteOptions options = detail::onnx_rewrite_options(a);
  const Stopwatch timer;
  eigenq::onnx::proto::ModelProto model = eigenq::onnx::load_model(a.in);
  // --method gptq|awq|weighted: the statistics are named after the weight initializers.
  eigenq::io::CalibrationStatsMap stats;
  std::set<std::string> fell_back;
  if (!a.method.is_rtn()) {
    std::map<std::string, eigenq::Index> matrices;
    for (const auto& n : eigenq::onnx::weighted_nodes(model)) {
      if (n.unsupported.empty()) matrices[n.weight] = n.in;
    }
    stats = load_method_stats(a.method, matrices);
    options.quantize = [&](const eigenq::onnx::WeightedNode& n, const Eigen::MatrixXf& w,
                           const eigenq::Linear<std::int8_t>& policy,
                           const eigenq::Granularity& g) -> eigenq::onnx::WeightChoice {
      const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::Granularity> quantizer(policy, g);
      const auto it = stats.find(n.weight);
      if (it == stats.end() || !has_method_fields(a.method.method, it->second)) {
        if (!a.method.allow_missing_stats) {
          throw eigenq::FormatError("node '" + n.node + "': weight '" + n.weight + "' has no " +
                                    method_fields(a.method.method) + " in " + a.method.stats_path() +
                                    " (--allow-missing-stats rounds it to nearest)");
        }
        fell_back.insert(n.weight);
        return {quantizer.quantize(w), {}};
      }
      if (a.method.method == "gptq") return {eigenq::gptq(w, it->second, quantizer).weights, {}};
      if (a.method.method == "weighted") return {eigenq::weighted_rounding(w, it->second, quantizer).weights, {}};
      auto r = eigenq::awq(w, it->second, quantizer);
      return {std::move(r.weights), std::move(r.input_scales)};
    };
  }
  // A selected node (all of them unless --include/--exclude say otherwise) whose weight or
  // attributes the tool cannot take is an error; --exclude leaves it as it is.
  for (const auto& n : eigenq::onnx::weighted_nodes(model)) {
    if (!n.unsupported.empty() && options.select(n)) {
      throw eigenq::FormatError(a.in + ": node '" + n.node + "': " + n.unsupported + " (--exclude keeps it as it is)");
    }
  }
  if (a.onnx_activations != !a.calibration_data.empty()) {
    throw UsageError(a.onnx_activations ? "--activations needs --calibration-data FILE (the graph's inputs)"
                                        : "--calibration-data needs --activations");
  }
  if (a.onnx_activations) {
    if (options.format != eigenq::onnx::Format::qdq) {
      throw UsageError(std::string("--activations needs --format qdq, not ") + eigenq::onnx::to_string(options.format));
    }
    std::set<std::string> wanted;
    for (const auto& n : eigenq::onnx::weighted_nodes(model)) {
      if (n.unsupported.empty() && options.select(n)) wanted.insert(model.graph().node(n.index).input(0));
    }
    std::map<std::string, eigenq::onnx::ValueRange> ranges;
    try {
      eigenq::onnx::observe_ranges(model, detail::calibration_inputs(model, a.calibration_data), ranges, wanted);
    } catch (const eigenq::Error& e) {
      throw eigenq::FormatError(a.in + ": " + e.what());
    }
    for (const auto& w : wanted) options.activation_ranges[w] = {ranges.at(w).min, ranges.at(w).max};
  }
  eigenq::onnx::RewriteResult result;
  try {
    result = eigenq::onnx::rewrite(model, options);
  } catch (const eigenq::Error& e) {
    throw eigenq::FormatError(a.in + ": " + e.what());
  }
  std::vector<TensorOutcome> outcomes;
  for (const auto& r : result.rewritten) outcomes.push_back(detail::onnx_outcome(r, options, a.method.method, fell_back));
  const std::string bytes = eigenq::onnx::serialize(model);
  const std::string report = a.report_path.empty() ? "" : report_json(a.in, outcomes).dump(2) + "\n";
  eigenq::onnx::write_file(a.out, bytes);
  if (!report.empty()) {
    eigenq::io::AtomicFile out(a.report_path);
    out.write(report.data(), report.size());
    out.commit();
  }
  if (!a.quiet) {
    std::fputs(summary_table(outcomes, true).c_str(), stdout);
    std::printf("%s\n%s", totals_line(outcomes, timer.seconds()).c_str(), method_fallback_lines(outcomes, a.method).c_str());
    for (const auto& s : result.skipped) {
      std::printf("kept: node '%s' (%s): %s\n", s.site.node.c_str(), s.site.op_type.c_str(), s.reason.c_str());
    }
    std::printf("wrote %s (%s)\n", a.out.c_str(), human_bytes(static_cast<double>(bytes.size())).c_str());
  }
  return 0;
}

// inspect FILE.onnx
inline int run_inspect_onnx(const std::string& path, bool json) {
  namespace ox = eigenq::onnx;
  const ox::proto::ModelProto m = ox::load_model(path);
  const ox::proto::GraphProto& g = m.graph();
  std::map<std::string, int> ops;
  for (const auto& n : g.node()) ops[(n.domain().empty() ? "" : n.domain() + ".") + n.op_type()] += 1;
  std::uint64_t init_bytes = 0;
  std::map<std::string, int> init_types;
  for (const auto& t : g.initializer()) {
    init_bytes += ox::stored_bytes(t);
    init_types[ox::element_type_name(t.data_type())] += 1;
  }
  auto value_json = [](const ox::proto::ValueInfoProto& v) {
    nlohmann::ordered_json j;
    j["name"] = v.name();
    const auto& t = v.type().tensor_type();
    j["dtype"] = ox::element_type_name(t.elem_type());
    nlohmann::ordered_json dims = nlohmann::ordered_json::array();
    for (const auto& d : t.shape().dim()) {
      if (d.has_dim_value()) dims.push_back(d.dim_value());
      else dims.push_back(d.dim_param());
    }
    j["shape"] = dims;
    return j;
  };
  nlohmann::ordered_json j;
  j["file"] = path;
  j["format"] = "onnx";
  j["ir_version"] = m.ir_version();
  j["producer"] = m.producer_name();
  nlohmann::ordered_json opsets = nlohmann::ordered_json::object();
  for (const auto& o : m.opset_import()) opsets[o.domain().empty() ? "ai.onnx" : o.domain()] = o.version();
  j["opset_import"] = opsets;
  nlohmann::ordered_json inputs = nlohmann::ordered_json::array();
  for (const auto& v : g.input()) inputs.push_back(value_json(v));
  nlohmann::ordered_json outputs = nlohmann::ordered_json::array();
  for (const auto& v : g.output()) outputs.push_back(value_json(v));
  j["inputs"] = inputs;
  j["outputs"] = outputs;
  j["nodes"] = g.node_size();
  j["operators"] = ops;
  j["initializers"] = g.initializer_size();
  j["initializer_types"] = init_types;
  j["initializer_bytes"] = init_bytes;
  nlohmann::ordered_json weighted = nlohmann::ordered_json::array();
  for (const auto& n : ox::weighted_nodes(m)) {
    nlohmann::ordered_json w;
    w["node"] = n.node;
    w["op_type"] = n.op_type;
    w["weight"] = n.weight;
    w["in"] = n.in;
    w["out"] = n.out;
    if (!n.unsupported.empty()) w["unsupported"] = n.unsupported;
    weighted.push_back(w);
  }
  j["weighted_nodes"] = weighted;
  if (json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s: ONNX model, IR version %lld, producer '%s'\n", path.c_str(), static_cast<long long>(m.ir_version()),
              m.producer_name().c_str());
  std::string line;
  for (const auto& o : m.opset_import()) line += (line.empty() ? "" : ", ") + (o.domain().empty() ? std::string("ai.onnx") : o.domain()) + " " + std::to_string(o.version());
  std::printf("opset imports: %s\n", line.c_str());
  for (const auto& [label, list] : {std::pair<const char*, const nlohmann::ordered_json*>{"input", &inputs}, {"output", &outputs}}) {
    for (const auto& v : *list) std::printf("%s: %s %s %s\n", label, v["name"].get<std::string>().c_str(),
                                            v["dtype"].get<std::string>().c_str(), v["shape"].dump().c_str());
  }
  line.clear();
  for (const auto& [op, count] : ops) line += (line.empty() ? "" : ", ") + op + " " + std::to_string(count);
  std::printf("nodes: %d (%s)\n", g.node_size(), line.c_str());
  line.clear();
  for (const auto& [type, count] : init_types) line += (line.empty() ? "" : ", ") + type + " " + std::to_string(count);
  std::printf("initializers: %d, %s (%s)\n", g.initializer_size(), human_bytes(static_cast<double>(init_bytes)).c_str(), line.c_str());
  Table table({"node", "op", "weight", "in", "out", "note"}, {false, false, false, true, true, false});
  for (const auto& n : ox::weighted_nodes(m)) {
    table.add({n.node, n.op_type, n.weight, std::to_string(n.in), std::to_string(n.out), n.unsupported});
  }
  std::printf("MatMul/Gemm nodes with a constant weight: %zu\n%s", ox::weighted_nodes(m).size(), table.str().c_str());
  return 0;
}

}  // namespace eigenq_cli
