// Reading ONNX files: the model through ONNX's protobuf classes, checked (protobuf parsing,
// supported opsets, ONNX's checker), and float initializers as Eigen matrices. Every problem is
// an eigenq::FormatError whose message names the file and the field or node.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/onnx/graph_builder.hpp"

namespace eigenq {
namespace onnx {

// The ai.onnx opsets the tool reads: from 13 (DequantizeLinear's axis, per-channel weights) to
// the newest ONNX 1.12's checker knows.
constexpr std::int64_t min_read_opset = 13;
constexpr std::int64_t max_read_opset = onnx_opset;

inline const char* element_type_name(int t) {
  switch (t) {
    case proto::TensorProto::FLOAT: return "float";
    case proto::TensorProto::UINT8: return "uint8";
    case proto::TensorProto::INT8: return "int8";
    case proto::TensorProto::UINT16: return "uint16";
    case proto::TensorProto::INT16: return "int16";
    case proto::TensorProto::INT32: return "int32";
    case proto::TensorProto::INT64: return "int64";
    case proto::TensorProto::STRING: return "string";
    case proto::TensorProto::BOOL: return "bool";
    case proto::TensorProto::FLOAT16: return "float16";
    case proto::TensorProto::DOUBLE: return "double";
    case proto::TensorProto::UINT32: return "uint32";
    case proto::TensorProto::UINT64: return "uint64";
    case proto::TensorProto::BFLOAT16: return "bfloat16";
    default: return "undefined";
  }
}

// The ai.onnx opset the model imports (0 if none).
inline std::int64_t onnx_opset_of(const proto::ModelProto& m) {
  for (const auto& o : m.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  }
  return 0;
}

// Parses and checks the bytes of an ONNX model; `what` names them in messages (the file).
inline proto::ModelProto parse_model(const std::string& bytes, const std::string& what) {
  proto::ModelProto m;
  if (bytes.empty() || !m.ParseFromString(bytes)) {
    raise<FormatError>(what, ": not an ONNX model: protobuf parsing failed (truncated or corrupt)");
  }
  if (!m.has_graph()) raise<FormatError>(what, ": the model has no graph");
  const std::int64_t opset = onnx_opset_of(m);
  if (opset < min_read_opset || opset > max_read_opset) {
    raise<FormatError>(what, ": opset_import ai.onnx version ", opset, " is not supported (", min_read_opset, "..",
                       max_read_opset, ")");
  }
  for (const auto& t : m.graph().initializer()) {
    if (t.data_location() == proto::TensorProto::EXTERNAL) {
      raise<FormatError>(what, ": initializer '", t.name(), "' keeps its data in an external file, which is not supported");
    }
  }
  try {
    proto::checker::check_model(m);
  } catch (const std::exception& e) {
    raise<FormatError>(what, ": fails ONNX's checker: ", e.what());
  }
  return m;
}

inline proto::ModelProto load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) raise<IoError>("cannot open ", path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) raise<IoError>("cannot read ", path);
  return parse_model(bytes, path);
}

// Element count of a tensor's dims.
inline std::int64_t element_count(const proto::TensorProto& t) {
  std::int64_t n = 1;
  for (const std::int64_t d : t.dims()) {
    if (d < 0) raise<FormatError>("initializer '", t.name(), "' has a negative dimension");
    n *= d;
  }
  return n;
}

// A float32 initializer of rank 2 as a row-major [dims(0), dims(1)] matrix (raw_data or
// float_data). Weights must be finite; other constants (a causal mask's -inf) need not.
inline Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> float_matrix(const proto::TensorProto& t,
                                                                                        bool require_finite = true) {
  if (t.data_type() != proto::TensorProto::FLOAT || t.dims_size() != 2) {
    raise<FormatError>("initializer '", t.name(), "' is ", element_type_name(t.data_type()), " of rank ", t.dims_size(),
                       ", expected float of rank 2");
  }
  const std::int64_t n = element_count(t);
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(t.dims(0), t.dims(1));
  if (t.has_raw_data()) {
    if (static_cast<std::int64_t>(t.raw_data().size()) != n * 4) {
      raise<FormatError>("initializer '", t.name(), "' has ", t.raw_data().size(), " bytes of raw_data for ", n,
                         " floats");
    }
    if (n > 0) std::memcpy(m.data(), t.raw_data().data(), static_cast<std::size_t>(n) * 4);
  } else {
    if (t.float_data_size() != n) {
      raise<FormatError>("initializer '", t.name(), "' has ", t.float_data_size(), " float_data values for ", n,
                         " elements");
    }
    for (std::int64_t i = 0; i < n; ++i) m.data()[i] = t.float_data(static_cast<int>(i));
  }
  if (require_finite && !m.allFinite()) raise<FormatError>("initializer '", t.name(), "' holds NaN or Inf");
  return m;
}

// Bytes of a tensor's values as stored.
inline std::uint64_t stored_bytes(const proto::TensorProto& t) {
  if (t.has_raw_data()) return t.raw_data().size();
  const std::int64_t n = element_count(t);
  switch (t.data_type()) {
    case proto::TensorProto::DOUBLE: case proto::TensorProto::INT64: case proto::TensorProto::UINT64:
      return static_cast<std::uint64_t>(n) * 8;
    case proto::TensorProto::FLOAT: case proto::TensorProto::INT32: case proto::TensorProto::UINT32:
      return static_cast<std::uint64_t>(n) * 4;
    case proto::TensorProto::FLOAT16: case proto::TensorProto::BFLOAT16: case proto::TensorProto::INT16:
    case proto::TensorProto::UINT16:
      return static_cast<std::uint64_t>(n) * 2;
    default: return static_cast<std::uint64_t>(n);
  }
}

}  // namespace onnx
}  // namespace eigenq
