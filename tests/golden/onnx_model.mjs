// Building ONNX models without the onnx Python package: a minimal protobuf writer and the few
// ONNX messages eigenq's scripts need (field numbers from onnx/onnx.proto3). Shared by
// tests/golden/make_onnx_golden.mjs (golden files) and benchmarks/ort_bench.mjs (ORT as a peer).
// Models are ai.onnx opset 13, ir_version 7 (ONNX 1.8).

export const OPSET = 13;
export const IR_VERSION = 7;

// Protobuf writer, chunked: a 64 MiB initializer stays one Uint8Array, never a JS array of bytes.
export class Pb {
  constructor() { this.parts = []; this.small = []; this.length = 0; }
  flush() {
    if (this.small.length) { this.parts.push(Uint8Array.from(this.small)); this.small = []; }
  }
  byte(b) { this.small.push(b); ++this.length; }
  varint(v) {
    let x = BigInt.asUintN(64, BigInt(v));  // int64 two's complement, as protobuf's int64
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.byte(b);
    } while (x !== 0n);
    return this;
  }
  key(field, wire) { return this.varint(field * 8 + wire); }
  int(field, v) { return this.key(field, 0).varint(v); }
  raw(field, u8) {
    this.key(field, 2).varint(u8.length);
    if (u8.length < 64) { for (const b of u8) this.byte(b); return this; }
    this.flush();
    this.parts.push(u8);
    this.length += u8.length;
    return this;
  }
  str(field, s) { return this.raw(field, new TextEncoder().encode(s)); }
  msg(field, pb) { return this.raw(field, pb.finish()); }
  finish() {
    this.flush();
    if (this.parts.length === 1) return this.parts[0];
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

export const ELEM = { float32: 1, uint8: 2, int8: 3, int32: 6 };  // TensorProto.DataType

// ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: Tensor{elem_type=1, shape=2:
// TensorShapeProto{dim=1: Dimension{dim_value=1}}}}}. Without dims, no shape: the value
// takes any rank and size.
export function valueInfo(name, type, dims) {
  const tensor = new Pb().int(1, ELEM[type]);
  if (dims) {
    const shape = new Pb();
    for (const d of dims) shape.msg(1, new Pb().int(1, d));
    tensor.msg(2, shape);
  }
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensor));
}

// TensorProto{dims=1, data_type=2, name=8, raw_data=9}; typed array data, little-endian host.
export function tensorProto(name, type, dims, data) {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  t.int(2, ELEM[type]).str(8, name);
  return t.raw(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

// NodeProto{input=1, output=2, name=3, op_type=4, attribute=5, domain=7};
// AttributeProto{name=1, i=3, type=20 (INT=2)}.
export function node(opType, inputs, outputs, { attrs = {}, domain = "" } = {}) {
  const n = new Pb();
  for (const i of inputs) n.str(1, i);
  for (const o of outputs) n.str(2, o);
  n.str(3, `${opType}_${outputs[0]}`).str(4, opType);
  for (const [k, v] of Object.entries(attrs)) n.msg(5, new Pb().str(1, k).int(3, v).int(20, 2));
  if (domain) n.str(7, domain);
  return n;
}

// ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8: {domain=1, version=2}};
// GraphProto{node=1, name=2, initializer=5, input=11, output=12}.
// inputs/outputs: [name, type, dims?]; initializers: [name, type, dims, typed array].
export function model({ nodes, inputs, outputs, initializers = [], msDomain = false, producer = "eigenq" }) {
  const g = new Pb();
  for (const n of nodes) g.msg(1, n);
  g.str(2, "graph");
  for (const [name, type, dims, data] of initializers) g.msg(5, tensorProto(name, type, dims, data));
  for (const [name, type, dims] of inputs) g.msg(11, valueInfo(name, type, dims));
  for (const [name, type, dims] of outputs) g.msg(12, valueInfo(name, type, dims));
  const m = new Pb().int(1, IR_VERSION).str(2, producer).msg(7, g).msg(8, new Pb().str(1, "").int(2, OPSET));
  if (msDomain) m.msg(8, new Pb().str(1, "com.microsoft").int(2, 1));
  return m.finish();
}
