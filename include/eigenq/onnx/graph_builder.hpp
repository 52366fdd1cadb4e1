// Building ONNX graphs with ONNX's own protobuf classes (libonnx-dev): initializers, constants,
// nodes with attributes, the model's opset imports; checking a model with ONNX's checker and
// writing it atomically. Everything in include/eigenq/onnx/ builds its graphs through this.
//
// ONNX's namespace is `onnx` (the ONNX_NAMESPACE macro of its CMake config); inside
// `eigenq::onnx` it is always spelled `::ONNX_NAMESPACE::`.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

// <sys/mman.h> defines MAP_TYPE, a name ONNX's parser.h uses in an enum: hide it meanwhile.
#if defined(MAP_TYPE)
#pragma push_macro("MAP_TYPE")
#undef MAP_TYPE
#define EIGENQ_ONNX_RESTORE_MAP_TYPE
#endif
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#if defined(EIGENQ_ONNX_RESTORE_MAP_TYPE)
#pragma pop_macro("MAP_TYPE")
#undef EIGENQ_ONNX_RESTORE_MAP_TYPE
#endif

#include "eigenq/core/error.hpp"
#include "eigenq/io/atomic_file.hpp"

namespace eigenq {
namespace onnx {

namespace proto = ::ONNX_NAMESPACE;

// The versions eigenq writes: ai.onnx opset 17 (the newest ONNX 1.12's checker knows; ONNX
// Runtime runs it), com.microsoft opset 1 (MatMulNBits), IR version 8.
constexpr std::int64_t onnx_opset = 17;
constexpr std::int64_t microsoft_opset = 1;
constexpr std::int64_t ir_version = 8;
constexpr const char* microsoft_domain = "com.microsoft";

// An element type's TensorProto::DataType and its C++ type.
template <class T>
struct ElementType;
template <>
struct ElementType<float> { static constexpr int value = proto::TensorProto::FLOAT; };
template <>
struct ElementType<double> { static constexpr int value = proto::TensorProto::DOUBLE; };
template <>
struct ElementType<std::int8_t> { static constexpr int value = proto::TensorProto::INT8; };
template <>
struct ElementType<std::uint8_t> { static constexpr int value = proto::TensorProto::UINT8; };
template <>
struct ElementType<std::int32_t> { static constexpr int value = proto::TensorProto::INT32; };
template <>
struct ElementType<std::int64_t> { static constexpr int value = proto::TensorProto::INT64; };

// An attribute of a node: int, float, ints or string.
struct Attribute {
  std::string name;
  proto::AttributeProto::AttributeType type = proto::AttributeProto::INT;
  std::int64_t i = 0;
  float f = 0.0f;
  std::vector<std::int64_t> ints;
  std::string s;

  static Attribute integer(std::string name, std::int64_t v) {
    Attribute a;
    a.name = std::move(name);
    a.i = v;
    return a;
  }
  static Attribute real(std::string name, float v) {
    Attribute a;
    a.name = std::move(name);
    a.type = proto::AttributeProto::FLOAT;
    a.f = v;
    return a;
  }
  static Attribute integers(std::string name, std::vector<std::int64_t> v) {
    Attribute a;
    a.name = std::move(name);
    a.type = proto::AttributeProto::INTS;
    a.ints = std::move(v);
    return a;
  }
};

// Appends nodes and initializers to a graph; names are "<prefix><name>", unique per graph as long
// as each prefix is.
class GraphBuilder {
 public:
  explicit GraphBuilder(proto::GraphProto* graph) : graph_(graph) {}

  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  std::string name(const std::string& n) const { return prefix_ + n; }

  // An initializer named prefix + n with the given dims (row-major data, raw little-endian bytes).
  template <class T>
  std::string tensor(const std::string& n, std::vector<std::int64_t> dims, const std::vector<T>& data) {
    std::int64_t count = 1;
    for (const std::int64_t d : dims) count *= d;
    if (count != static_cast<std::int64_t>(data.size())) {
      raise("onnx: initializer ", name(n), " has ", data.size(), " values for ", count, " elements");
    }
    proto::TensorProto* t = graph_->add_initializer();
    t->set_name(name(n));
    t->set_data_type(ElementType<T>::value);
    for (const std::int64_t d : dims) t->add_dims(d);
    std::string raw(data.size() * sizeof(T), '\0');
    if (!data.empty()) std::memcpy(&raw[0], data.data(), raw.size());
    t->set_raw_data(std::move(raw));
    return t->name();
  }
  // A scalar initializer (rank 0).
  template <class T>
  std::string scalar(const std::string& n, T v) {
    return tensor<T>(n, {}, std::vector<T>{v});
  }

  // One node; returns the name of its first output, prefix + outputs[0].
  std::string node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                   std::vector<Attribute> attributes = {}, const std::string& domain = "") {
    proto::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(name(outputs.at(0)));
    if (!domain.empty()) n->set_domain(domain);
    for (const std::string& i : inputs) n->add_input(i);
    for (const std::string& o : outputs) n->add_output(name(o));
    for (const Attribute& a : attributes) {
      proto::AttributeProto* p = n->add_attribute();
      p->set_name(a.name);
      p->set_type(a.type);
      switch (a.type) {
        case proto::AttributeProto::INT: p->set_i(a.i); break;
        case proto::AttributeProto::FLOAT: p->set_f(a.f); break;
        case proto::AttributeProto::INTS:
          for (const std::int64_t v : a.ints) p->add_ints(v);
          break;
        case proto::AttributeProto::STRING: p->set_s(a.s); break;
        default: raise("onnx: attribute ", a.name, " has an unsupported type");
      }
    }
    return name(outputs.at(0));
  }
  // A one-output node whose output is prefix + out.
  std::string op(const std::string& op_type, std::vector<std::string> inputs, const std::string& out,
                 std::vector<Attribute> attributes = {}) {
    return node(op_type, std::move(inputs), {out}, std::move(attributes));
  }
  // Cast to a TensorProto::DataType.
  std::string cast(const std::string& x, int to, const std::string& out) {
    return op("Cast", {x}, out, {Attribute::integer("to", to)});
  }

 private:
  proto::GraphProto* graph_;
  std::string prefix_;
};

// A tensor's value info: element type and dims; a dim < 0 is symbolic, named by `symbols`.
inline void set_value_info(proto::ValueInfoProto* v, const std::string& name, int elem_type,
                           const std::vector<std::int64_t>& dims, const std::string& symbol = "batch") {
  v->set_name(name);
  proto::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  proto::TensorShapeProto* shape = t->mutable_shape();
  for (const std::int64_t d : dims) {
    proto::TensorShapeProto_Dimension* dim = shape->add_dim();
    if (d < 0) dim->set_dim_param(symbol);
    else dim->set_dim_value(d);
  }
}

// Adds an opset import unless the model has one for that domain.
inline void require_opset(proto::ModelProto& model, const std::string& domain, std::int64_t version) {
  for (const auto& o : model.opset_import()) {
    if (o.domain() == domain) return;
  }
  proto::OperatorSetIdProto* o = model.add_opset_import();
  o->set_domain(domain);
  o->set_version(version);
}

// ONNX's checker (onnx::checker::check_model, full check of every node against its schema);
// throws eigenq::FormatError with the checker's message.
inline void check(const proto::ModelProto& model) {
  try {
    proto::checker::check_model(model);
  } catch (const std::exception& e) {
    raise<FormatError>("onnx: the model fails ONNX's checker: ", e.what());
  }
}

// The model's bytes (protobuf's serialization: the same model gives the same bytes).
inline std::string serialize(const proto::ModelProto& model) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) raise<FormatError>("onnx: the model could not be serialized");
  return bytes;
}

// Writes the bytes to path atomically: a reader sees the whole file or none.
inline void write_file(const std::string& path, const std::string& bytes) {
  io::AtomicFile out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace onnx
}  // namespace eigenq
