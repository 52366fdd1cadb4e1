// eigenq: quantize model files and see what it costs.
//
//   eigenq quantize IN OUT.safetensors [scheme options] [method options] [--include RE] [--exclude RE]
//                   [--quantize-vectors] [--jobs N] [--report FILE.json] [--quiet]
//   eigenq quantize IN OUT.gguf --type TYPE [--type-for REGEX=TYPE]... [--imatrix FILE] [--metadata FILE.json]
//                   [--include RE] [--exclude RE] [--quantize-vectors] [--jobs N] [--report FILE.json] [--quiet]
//   eigenq dequantize IN OUT [--jobs N] [--quiet]
//   eigenq report IN [scheme options [method options] | --type TYPE [--type-for REGEX=TYPE]... [--imatrix FILE]]
//                 [--include RE] [--exclude RE] [--quantize-vectors] [--jobs N] [--json] [--quiet]
//   eigenq quantize IN.onnx OUT.onnx [--format qdq|dynamic|matmulnbits] [--scheme linear-symmetric|linear-affine]
//                   [--bits B] [--granularity channel|tensor|group] [--group-size G] [--include RE] [--exclude RE]
//                   [method options] [--activations --calibration-data FILE] [--report FILE.json] [--quiet]
//                   (needs eigenq::onnx; docs/onnx.md)
//   eigenq inspect FILE [--json]
// method options: --method rtn|gptq|awq|weighted, --calibration-stats FILE, --imatrix FILE
//                 (for weighted), --allow-missing-stats
//
// IN is .safetensors, .npy, .gguf or .onnx; the output format follows OUT's extension (.gguf: ggml's
// types, --type; otherwise eigenq's quantized safetensors, the scheme options).
//
// Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the
// file, the tensor and the problem); 1 anything unexpected.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <eigenq/core/error.hpp>
#include <eigenq/version.hpp>

#include "cli_util.hpp"
#include "dequantize_command.hpp"
#include "inspect_command.hpp"
#if defined(EIGENQ_CLI_ONNX)
#include "onnx_command.hpp"
#endif
#include "quantize_command.hpp"
#include "scheme.hpp"

namespace {

using eigenq_cli::SchemeOptions;

// Options whose presence matters (defaults differ by scheme or are checked; none of them
// applies to a GGUF output).
struct SchemeFlags {
  CLI::Option* scheme = nullptr;
  CLI::Option* bits = nullptr;
  CLI::Option* granularity = nullptr;
  CLI::Option* axis = nullptr;
  CLI::Option* group_size = nullptr;
  CLI::Option* calibration = nullptr;
  CLI::Option* convention = nullptr;
  CLI::Option* double_quant = nullptr;
  CLI::Option* profile = nullptr;
  int axis_value = 0;

  // "--scheme", "--bits", ... as given on the command line.
  std::vector<std::string> given() const {
    std::vector<std::string> out;
    for (const CLI::Option* o : {scheme, bits, granularity, axis, group_size, calibration, convention, double_quant, profile}) {
      if (o != nullptr && o->count() > 0) out.push_back(o->get_name());
    }
    return out;
  }
};

void add_scheme_options(CLI::App* cmd, SchemeOptions& s, SchemeFlags& f) {
  f.scheme = cmd->add_option("--scheme", s.scheme,
                             "linear-affine, linear-symmetric, log, log-signed, log2, exp or codebook (eigenq's "
                             "safetensors format)")
                 ->default_val("linear-symmetric");
  f.bits = cmd->add_option("--bits", s.bits, "bits per code, 2..16 (log2: 2..8); 2..4-bit codes are packed")->default_val(8);
  f.granularity = cmd->add_option("--granularity", s.granularity,
                  "tensor, channel or group (default: channel on axis 0 for tensors of rank >= 2, tensor for rank "
                  "0 and 1 with --quantize-vectors; channel always falls back to tensor below rank 2)");
  f.axis = cmd->add_option("--axis", f.axis_value, "axis of channels or groups (default 0 for channel, -1 for group)");
  f.group_size = cmd->add_option("--group-size", s.group_size, "elements per group (with --granularity group)")
                     ->default_val(32);
  f.calibration = cmd->add_option("--calibration", s.calibration, "minmax, percentile:P (e.g. percentile:99.9), mse or kl")
                      ->default_val("minmax");
  f.convention = cmd->add_option("--convention", s.convention,
                                 "inference (r = scale (q - zero_point)) or real-offset (q = q_min + s (r - r_min), the seed document's form); linear "
                                 "schemes")
                     ->default_val("inference");
  f.double_quant = cmd->add_option("--double-quant", s.double_quant,
                  "S: store per-group linear scales as 8-bit codes with one float per S groups (k-quants style)");
  f.profile = cmd->add_option("--profile", s.profile,
                              "pytorch, onnx or tflite: whose parameter choice and rounding (linear, inference)")
                  ->default_val("pytorch");
}

void add_ggml_options(CLI::App* cmd, eigenq_cli::GgufOptions& g, bool writes) {
  cmd->add_option("--type", g.type,
                  "a ggml type as ggml_type_name spells it, any letter case: q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, "
                  "q4_K, q5_K, q6_K, iq4_nl, iq4_xs, tq1_0, tq2_0, mxfp4, nvfp4, q1_0, q2_0, f16, bf16, f32" +
                      std::string(writes ? " (OUT must be .gguf)" : ""));
  cmd->add_option("--type-for", g.type_for,
                  "REGEX=TYPE: tensors whose name matches REGEX get TYPE instead (repeatable; the first match wins)")
      ->allow_extra_args(false)
      ->take_all();
  // One --imatrix for both paths: check_output_mode hands it to --method weighted outside GGUF.
  cmd->add_option("--imatrix", g.imatrix,
                  "llama.cpp importance matrix (GGUF imatrix or legacy .dat): with ggml types each tensor's entry is "
                  "passed to the quantizer as llama-quantize passes it; with eigenq's schemes it is the statistics of "
                  "--method weighted");
  if (writes) {
    cmd->add_option("--metadata", g.metadata,
                    "JSON object of GGUF keys to add or override (null removes one); see docs/gguf.md for the types");
  }
}

// The GGUF path (a .gguf OUT, or report --type) and the scheme options exclude each other.
void check_output_mode(eigenq_cli::QuantizeArgs& a, const SchemeFlags& f, bool writes) {
  using eigenq_cli::UsageError;
  a.scheme_flags_given = f.given();
  const bool ggml_options = !a.gguf.type.empty() || !a.gguf.type_for.empty() || !a.gguf.metadata.empty();
  const bool gguf_out = writes && eigenq_cli::is_gguf_path(a.out);
  if (gguf_out || (!writes && !a.gguf.type.empty())) {
    if (!a.scheme_flags_given.empty()) {
      throw UsageError(eigenq_cli::joined(a.scheme_flags_given) + (writes ? " with OUT '" + a.out + "'" : " with --type") +
                       ": eigenq's schemes are written to safetensors; a GGUF file holds ggml types: choose one with "
                       "--type (e.g. --type q4_K)" + (writes ? ", or name OUT .safetensors" : ""));
    }
    if (a.gguf.type.empty()) {
      throw UsageError("OUT '" + a.out + "' is a GGUF file: give its ggml type with --type (e.g. --type q8_0, --type q4_K)");
    }
    if (!a.method.is_rtn() || !a.method.calibration_stats.empty() || a.method.allow_missing_stats) {
      throw UsageError(std::string("--method, --calibration-stats and --allow-missing-stats apply to eigenq's schemes ") +
                       (writes ? "(a .safetensors OUT)" : "(without --type)") +
                       "; for ggml types, --imatrix gives llama.cpp's importance-weighted quantization");
    }
    return;
  }
  // Outside GGUF an importance matrix is the statistics of --method weighted.
  a.method.imatrix = std::move(a.gguf.imatrix);
  a.gguf.imatrix.clear();
  if (ggml_options) {
    const char* which = !a.gguf.type.empty() ? "--type" : !a.gguf.type_for.empty() ? "--type-for"
                        : !a.gguf.imatrix.empty() ? "--imatrix" : "--metadata";
    if (writes) {
      throw UsageError(std::string(which) + " with OUT '" + a.out + "': ggml types are written to GGUF files: name OUT "
                       "with .gguf, or use --scheme for eigenq's safetensors format");
    }
    throw UsageError(std::string(which) + " needs --type TYPE (the ggml type to report on)");
  }
}

void add_method_options(CLI::App* cmd, eigenq_cli::MethodOptions& m) {
  cmd->add_option("--method", m.method,
                  "how the codes of each matrix [out, in] are chosen: rtn (round to nearest), gptq, awq or weighted "
                  "(importance-weighted rounding); all but rtn read calibration statistics")
      ->default_val("rtn");
  cmd->add_option("--calibration-stats", m.calibration_stats,
                  "statistics of every matrix's input (docs/calibration_stats.md; examples/python/collect_stats.py "
                  "writes them): gptq needs the Hessian, awq the Hessian, in_abs_sum and count, weighted in_sum2");
  cmd->add_flag("--allow-missing-stats", m.allow_missing_stats,
                "round to nearest the matrices the statistics do not cover (the summary lists them) instead of "
                "failing");
}

constexpr const char* quantize_vectors_help =
    "also quantize tensors of rank 0 and 1 (biases, norm weights, scalars); by default they are kept in float, "
    "as llama.cpp's quantize keeps them";

void finish_scheme_options(SchemeOptions& s, const SchemeFlags& f) {
  if (f.axis->count() > 0) s.axis = f.axis_value;
  s.group_size_given = f.group_size->count() > 0;
  s.convention_given = f.convention->count() > 0;
  s.profile_given = f.profile->count() > 0;
  s.validate();
}

// Every tensor allocates code and parameter buffers of tens of MiB. By default glibc maps such
// blocks fresh and returns them on free, so each tensor faults and zeroes its buffers again
// (half of the tool's kernel time on a 4 GiB model). Keep freed memory for the next tensor.
void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks up to 32 MiB come from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // and the heap is not shrunk between tensors
#endif
}

int default_jobs() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(std::min(cores, 4u));
}

void check_jobs(int jobs) {
  if (jobs < 1 || jobs > 256) throw eigenq_cli::UsageError("--jobs " + std::to_string(jobs) + " is out of range (1..256)");
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  CLI::App app{"eigenq " + std::string(eigenq::version_string()) +
               ": quantize model files (safetensors, npy, GGUF), measure the error, read the result back"};
  app.set_version_flag("--version", std::string(eigenq::version_string()));
  app.require_subcommand(1);

  eigenq_cli::QuantizeArgs quantize;
  eigenq_cli::QuantizeArgs report;
  eigenq_cli::DequantizeArgs dequantize;
  eigenq_cli::InspectArgs inspect;
  SchemeFlags quantize_flags;
  SchemeFlags report_flags;
  quantize.jobs = report.jobs = dequantize.jobs = default_jobs();

  CLI::App* q = app.add_subcommand(
      "quantize",
      "quantize every float tensor of rank >= 2 of IN into OUT (eigenq format in .safetensors, ggml types in .gguf), "
      "copy the others");
  q->add_option("IN", quantize.in, "input .safetensors, .gguf (F32/F16/BF16 tensors), or .npy (one tensor named after the file)")
      ->required();
  q->add_option("OUT", quantize.out,
                "output .safetensors (eigenq's schemes) or .gguf (ggml's types, --type); written to a temporary file, "
                "renamed on success")
      ->required();
  add_scheme_options(q, quantize.scheme, quantize_flags);
  add_ggml_options(q, quantize.gguf, true);
  add_method_options(q, quantize.method);
  q->add_option("--include", quantize.include, "quantize only tensors whose name matches this regex");
  q->add_option("--exclude", quantize.exclude, "never quantize tensors whose name matches this regex (copied as they are)");
  q->add_flag("--quantize-vectors", quantize.quantize_vectors, quantize_vectors_help);
  q->add_option("--jobs", quantize.jobs, "threads over tensors (memory grows with it)")->default_val(quantize.jobs);
  q->add_option("--report", quantize.report_path, "also measure the error and write the report JSON here");
  q->add_flag("--quiet", quantize.quiet, "no progress, no summary");
  q->add_option("--format", quantize.onnx_format,
                "ONNX IN and OUT: qdq (int8 weights + DequantizeLinear; the default for 8 bits), dynamic "
                "(DynamicQuantizeLinear + MatMulInteger) or matmulnbits (com.microsoft.MatMulNBits; the default below 8 "
                "bits and with --granularity group)");
  q->add_flag("--activations", quantize.onnx_activations,
              "ONNX, --format qdq: also QuantizeLinear/DequantizeLinear on each rewritten node's input, int8 with "
              "ranges from --calibration-data");
  q->add_option("--calibration-data", quantize.calibration_data,
                "ONNX --activations: the graph's inputs, [rows, features] float: one .npy for a graph of one input, "
                "or a .safetensors with a tensor per input name");

  CLI::App* d = app.add_subcommand("dequantize", "turn an eigenq file back into F32 tensors (names and shapes as before)");
  d->add_option("IN", dequantize.in, "eigenq-quantized .safetensors, or a .gguf file")->required();
  d->add_option("OUT", dequantize.out, "output .safetensors (or .npy when IN holds one tensor)")->required();
  d->add_option("--jobs", dequantize.jobs, "threads over tensors")->default_val(dequantize.jobs);
  d->add_flag("--quiet", dequantize.quiet, "no progress, no summary");

  CLI::App* r = app.add_subcommand("report", "the error every tensor would get, without writing anything");
  r->add_option("IN", report.in, "input .safetensors, .gguf or .npy")->required();
  add_scheme_options(r, report.scheme, report_flags);
  add_ggml_options(r, report.gguf, false);
  add_method_options(r, report.method);
  r->add_option("--include", report.include, "only tensors whose name matches this regex");
  r->add_option("--exclude", report.exclude, "leave out tensors whose name matches this regex");
  r->add_flag("--quantize-vectors", report.quantize_vectors, quantize_vectors_help);
  r->add_option("--jobs", report.jobs, "threads over tensors")->default_val(report.jobs);
  r->add_flag("--json", report.json, "print one JSON object (tensors, totals) instead of the table");
  r->add_flag("--quiet", report.quiet, "no progress");

  CLI::App* i = app.add_subcommand("inspect", "names, dtypes, shapes, sizes and quantization metadata of a file");
  i->add_option("FILE", inspect.file, ".safetensors, .npy, .gguf, .onnx, or a llama.cpp importance matrix (.dat or GGUF)")->required();
  i->add_flag("--json", inspect.json, "print one JSON object");

  const char* command = "eigenq";
  if (argc > 1 && argv[1][0] != '-') {
    const std::string first = argv[1];
    if (first != "quantize" && first != "dequantize" && first != "report" && first != "inspect") {
      std::fprintf(stderr, "eigenq: unknown command '%s' (expected quantize, dequantize, report or inspect)\n",
                   eigenq_cli::one_line(first).c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "eigenq: %s (see eigenq --help)\n", eigenq_cli::one_line(e.what()).c_str());
    return 2;
  }

  try {
    if (q->parsed()) {
      command = "eigenq quantize";
      if (eigenq_cli::is_onnx_path(quantize.in) || eigenq_cli::is_onnx_path(quantize.out)) {
#if defined(EIGENQ_CLI_ONNX)
        quantize.scheme_flags_given = quantize_flags.given();
        if (!quantize.gguf.type.empty() || !quantize.gguf.type_for.empty() || !quantize.gguf.metadata.empty() ||
            !quantize.gguf.imatrix.empty()) {
          throw eigenq_cli::UsageError("--type, --type-for, --imatrix and --metadata are for GGUF files, not ONNX");
        }
        finish_scheme_options(quantize.scheme, quantize_flags);
        return eigenq_cli::run_quantize_onnx(quantize);
#else
        throw eigenq_cli::UsageError("this eigenq was built without ONNX support (libonnx-dev, libprotobuf-dev)");
#endif
      }
      if (!quantize.onnx_format.empty() || quantize.onnx_activations || !quantize.calibration_data.empty()) {
        throw eigenq_cli::UsageError("--format, --activations and --calibration-data apply to ONNX models (IN.onnx OUT.onnx)");
      }
      check_output_mode(quantize, quantize_flags, true);
      finish_scheme_options(quantize.scheme, quantize_flags);
      quantize.method.validate(quantize.scheme);
      check_jobs(quantize.jobs);
      return eigenq_cli::run_quantize(quantize);
    }
    if (d->parsed()) {
      command = "eigenq dequantize";
      check_jobs(dequantize.jobs);
      return eigenq_cli::run_dequantize(dequantize);
    }
    if (r->parsed()) {
      command = "eigenq report";
      check_output_mode(report, report_flags, false);
      finish_scheme_options(report.scheme, report_flags);
      report.method.validate(report.scheme);
      check_jobs(report.jobs);
      return eigenq_cli::run_report(report);
    }
    command = "eigenq inspect";
    if (eigenq_cli::is_onnx_path(inspect.file)) {
#if defined(EIGENQ_CLI_ONNX)
      return eigenq_cli::run_inspect_onnx(inspect.file, inspect.json);
#else
      throw eigenq_cli::UsageError("this eigenq was built without ONNX support (libonnx-dev, libprotobuf-dev)");
#endif
    }
    return eigenq_cli::run_inspect(inspect);
  } catch (const eigenq_cli::UsageError& e) {
    std::fprintf(stderr, "%s: %s\n", command, eigenq_cli::one_line(e.what()).c_str());
    return 2;
  } catch (const eigenq::Error& e) {
    std::fprintf(stderr, "%s: %s\n", command, eigenq_cli::one_line(e.what()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", command, eigenq_cli::one_line(e.what()).c_str());
    return 1;
  }
}
