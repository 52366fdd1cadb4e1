// The tool's ggml types: --type and --type-for parsed, the type each tensor gets, and the two
// numbers llama.cpp attaches to them, both as llama.cpp's own code decides them:
//  - the fallback when a row is not a whole number of the type's blocks
//    (tensor_type_fallback in llama.cpp's src/llama-quant.cpp);
//  - general.file_type, llama.cpp's LLAMA_FTYPE_* numbering (include/llama.h), for the file
//    of one --type (the value llama.cpp's loader infers from the type most tensors have).
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <eigenq/core/error.hpp>
#include <eigenq/ggml/type.hpp>

#include "cli_util.hpp"

namespace eigenq_cli {

namespace gg = eigenq::ggml;

// "q8_0, q4_0, ..., nvfp4": the types eigenq quantizes to, for messages and --help.
inline std::string supported_type_list() {
  std::string s;
  for (const gg::Type t : gg::supported_types()) s += (s.empty() ? "" : ", ") + std::string(gg::type_name(t));
  return s;
}

// A --type or --type-for TYPE in any letter case. Names that are no quantization target
// (q8_1, q8_K, the integer types) are refused here; the lattice types (iq2_xxs, ...) parse,
// and are refused for the tensors that would get them (after the importance check ggml makes).
inline gg::Type parse_ggml_type(const std::string& name, const std::string& option) {
  gg::Type t;
  try {
    t = gg::type_from_name(name);
  } catch (const eigenq::InvalidArgument&) {
    throw UsageError(option + " '" + name + "' is not a ggml type (ggml_type_name, any letter case): " +
                     supported_type_list());
  }
  const gg::TypeTraits& tr = gg::type_traits(t);
  if (!tr.supported && tr.why_not != nullptr && std::string(tr.why_not).find("lattice") == std::string::npos) {
    throw UsageError(option + " '" + name + "': " + tr.name + " is not a type to quantize to (" + tr.why_not +
                     "); choose one of " + supported_type_list());
  }
  return t;
}

// One --type-for REGEX=TYPE (split at the last '=', so the regex may hold '=').
struct TypeRule {
  std::string pattern;
  std::regex regex;
  gg::Type type = gg::Type::f32;
};

inline TypeRule parse_type_rule(const std::string& text) {
  const std::size_t eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw UsageError("--type-for '" + text + "' is not REGEX=TYPE (e.g. --type-for 'attn_v\\.weight$=q6_K')");
  }
  TypeRule r;
  r.pattern = text.substr(0, eq);
  try {
    r.regex = std::regex(r.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError("--type-for '" + text + "': '" + r.pattern + "' is not a valid regular expression: " + e.what());
  }
  r.type = parse_ggml_type(text.substr(eq + 1), "--type-for '" + r.pattern + "=...'");
  return r;
}

// llama.cpp's tensor_type_fallback: the type it takes instead of `t` for rows that are not a
// whole number of t's blocks (F16 when the fallback does not fit either); none where llama.cpp
// defines no fallback (it then refuses the tensor).
inline std::optional<gg::Type> llama_fallback(gg::Type t) {
  using T = gg::Type;
  switch (t) {
    case T::iq1_s:
    case T::iq1_m:
    case T::iq2_xxs:
    case T::iq2_xs:
    case T::iq2_s:
    case T::iq3_xxs:
    case T::iq3_s:
    case T::iq4_xs: return T::iq4_nl;
    case T::q2_0:
    case T::q2_K:
    case T::q3_K:
    case T::tq1_0:
    case T::tq2_0: return T::q4_0;
    case T::q4_K: return T::q5_0;
    case T::q5_K: return T::q5_1;
    case T::q6_K: return T::q8_0;
    default: return std::nullopt;
  }
}

// The type a tensor with rows of ne0 elements gets for `wanted`: `wanted` when ne0 is a whole
// number of its blocks, else llama.cpp's fallback (or F16). Throws (naming the tensor) where
// llama.cpp defines no fallback.
inline gg::Type type_that_fits(gg::Type wanted, std::int64_t ne0, const std::string& file, const std::string& tensor,
                               const std::string& chosen_by) {
  if (ne0 % gg::block_size(wanted) == 0) return wanted;
  const std::optional<gg::Type> f = llama_fallback(wanted);
  if (!f) {
    throw eigenq::FormatError(file + ": tensor '" + tensor + "': rows of " + std::to_string(ne0) +
                              " elements are not a whole number of " + gg::type_name(wanted) + " blocks (" +
                              std::to_string(gg::block_size(wanted)) + "; " + chosen_by +
                              "), and llama.cpp's quantize defines no fallback for " + gg::type_name(wanted) +
                              "; give it another type with --type-for '" + tensor + "=f16' or leave it out with --exclude");
  }
  return ne0 % gg::block_size(*f) == 0 ? *f : gg::Type::f16;
}

// general.file_type for a file quantized to `t` (LLAMA_FTYPE_* of llama.h): the "mostly T" file
// type; for q3_K, q4_K and q5_K the _M variants, as llama.cpp's loader names a file whose
// tensors are mostly of that type.
inline std::optional<std::uint32_t> llama_file_type(gg::Type t) {
  using T = gg::Type;
  switch (t) {
    case T::f32: return 0;       // ALL_F32
    case T::f16: return 1;       // MOSTLY_F16
    case T::q4_0: return 2;      // MOSTLY_Q4_0
    case T::q4_1: return 3;      // MOSTLY_Q4_1
    case T::q8_0: return 7;      // MOSTLY_Q8_0
    case T::q5_0: return 8;      // MOSTLY_Q5_0
    case T::q5_1: return 9;      // MOSTLY_Q5_1
    case T::q2_K: return 10;     // MOSTLY_Q2_K
    case T::q3_K: return 12;     // MOSTLY_Q3_K_M
    case T::q4_K: return 15;     // MOSTLY_Q4_K_M
    case T::q5_K: return 17;     // MOSTLY_Q5_K_M
    case T::q6_K: return 18;     // MOSTLY_Q6_K
    case T::iq2_xxs: return 19;  // MOSTLY_IQ2_XXS
    case T::iq2_xs: return 20;   // MOSTLY_IQ2_XS
    case T::iq3_xxs: return 23;  // MOSTLY_IQ3_XXS
    case T::iq1_s: return 24;    // MOSTLY_IQ1_S
    case T::iq4_nl: return 25;   // MOSTLY_IQ4_NL
    case T::iq3_s: return 26;    // MOSTLY_IQ3_S
    case T::iq2_s: return 28;    // MOSTLY_IQ2_S
    case T::iq4_xs: return 30;   // MOSTLY_IQ4_XS
    case T::iq1_m: return 31;    // MOSTLY_IQ1_M
    case T::bf16: return 32;     // MOSTLY_BF16
    case T::tq1_0: return 36;    // MOSTLY_TQ1_0
    case T::tq2_0: return 37;    // MOSTLY_TQ2_0
    case T::mxfp4: return 38;    // MOSTLY_MXFP4_MOE
    case T::nvfp4: return 39;    // MOSTLY_NVFP4
    case T::q1_0: return 40;     // MOSTLY_Q1_0
    case T::q2_0: return 41;     // MOSTLY_Q2_0
    default: return std::nullopt;
  }
}

// The name llama.cpp prints for a file type ("Q4_K - Medium" style is llama's; this is the
// enum's own spelling, for inspect).
inline const char* llama_file_type_name(std::uint32_t v) {
  switch (v) {
    case 0: return "ALL_F32";
    case 1: return "MOSTLY_F16";
    case 2: return "MOSTLY_Q4_0";
    case 3: return "MOSTLY_Q4_1";
    case 7: return "MOSTLY_Q8_0";
    case 8: return "MOSTLY_Q5_0";
    case 9: return "MOSTLY_Q5_1";
    case 10: return "MOSTLY_Q2_K";
    case 11: return "MOSTLY_Q3_K_S";
    case 12: return "MOSTLY_Q3_K_M";
    case 13: return "MOSTLY_Q3_K_L";
    case 14: return "MOSTLY_Q4_K_S";
    case 15: return "MOSTLY_Q4_K_M";
    case 16: return "MOSTLY_Q5_K_S";
    case 17: return "MOSTLY_Q5_K_M";
    case 18: return "MOSTLY_Q6_K";
    case 19: return "MOSTLY_IQ2_XXS";
    case 20: return "MOSTLY_IQ2_XS";
    case 21: return "MOSTLY_Q2_K_S";
    case 22: return "MOSTLY_IQ3_XS";
    case 23: return "MOSTLY_IQ3_XXS";
    case 24: return "MOSTLY_IQ1_S";
    case 25: return "MOSTLY_IQ4_NL";
    case 26: return "MOSTLY_IQ3_S";
    case 27: return "MOSTLY_IQ3_M";
    case 28: return "MOSTLY_IQ2_S";
    case 29: return "MOSTLY_IQ2_M";
    case 30: return "MOSTLY_IQ4_XS";
    case 31: return "MOSTLY_IQ1_M";
    case 32: return "MOSTLY_BF16";
    case 36: return "MOSTLY_TQ1_0";
    case 37: return "MOSTLY_TQ2_0";
    case 38: return "MOSTLY_MXFP4_MOE";
    case 39: return "MOSTLY_NVFP4";
    case 40: return "MOSTLY_Q1_0";
    case 41: return "MOSTLY_Q2_0";
    default: return nullptr;
  }
}

// ggml's GGML_QNT_VERSION, which llama.cpp's quantize writes as general.quantization_version.
inline constexpr std::uint32_t ggml_quantization_version = 2;

// Bits per weight of a type, everything stored counted (q4_K: 4.5).
inline double bits_per_weight(gg::Type t) {
  return 8.0 * static_cast<double>(gg::type_size(t)) / static_cast<double>(gg::block_size(t));
}

}  // namespace eigenq_cli
