#!/usr/bin/env node
// Golden file for eigenq's `onnx` profile, computed by the real ONNX Runtime
// (the onnxruntime-node package, CPU execution provider).
//
// Runs, one single-node opset-13 model per operator variant:
//   QuantizeLinear    per tensor and per axis (the `axis` attribute), int8 and uint8 zero points
//   DequantizeLinear  on ORT's own codes and on chosen codes (all 256, extreme scales)
//   DynamicQuantizeLinear  uint8 scale, zero point and codes chosen from the data
// and writes linear_onnxruntime.txt next to this script, in the format of
// linear_pytorch.txt (tests/golden/README.md). CI never runs ONNX Runtime; the C++
// test tests/golden/golden_onnx_test.cpp only reads the committed file.
//
// No Python `onnx` package is needed: the models are ModelProto messages written
// with the small protobuf encoder below (varints and length-delimited fields).
//
// Usage (onnxruntime-node installed in a directory outside the repository):
//   mkdir -p /tmp/ortgen && cd /tmp/ortgen && npm init -y \
//     && npm install --ignore-scripts onnxruntime-node@1.30.0
//   cd /tmp/ortgen && node <repo>/tests/golden/make_onnx_golden.mjs
// Options: --ort-dir DIR   where node_modules/onnxruntime-node is (default: current directory)
//          --outdir DIR    where to write the file (default: next to this script)
//
// The output is deterministic: each case seeds its own generator with crc32(case name),
// so adding a case does not change the others.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import { IR_VERSION, OPSET, model, node } from "./onnx_model.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT_NAME = "linear_onnxruntime.txt";

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { ortDir: process.cwd(), outDir: HERE };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--ort-dir") args.ortDir = argv[++i];
    else if (a === "--outdir") args.outDir = argv[++i];
    else if (a === "-h" || a === "--help") {
      console.log("usage: node make_onnx_golden.mjs [--ort-dir DIR] [--outdir DIR]");
      process.exit(0);
    } else {
      console.error(`unknown argument '${a}'`);
      process.exit(2);
    }
  }
  return args;
}

const ARGS = parseArgs(process.argv.slice(2));
const requireFromOrt = createRequire(path.join(path.resolve(ARGS.ortDir), "noop.js"));
let ort;
try {
  ort = requireFromOrt("onnxruntime-node");
} catch (e) {
  console.error(`cannot load onnxruntime-node from ${path.resolve(ARGS.ortDir)}: ${e.message}\n` +
                "install it there with: npm init -y && npm install --ignore-scripts onnxruntime-node");
  process.exit(2);
}
const ORT_PACKAGE_JSON = path.join(path.dirname(requireFromOrt.resolve("onnxruntime-node")), "..", "package.json");
const ORT_VERSION = JSON.parse(fs.readFileSync(ORT_PACKAGE_JSON, "utf8")).version;

// One-node models (scale and zero point fed as inputs; no shapes, so one model serves every
// rank and size), built with onnx_model.mjs.
function singleNodeModel(opType, inputs, outputs, attrs = {}) {
  return model({
    nodes: [node(opType, inputs.map(([name]) => name), outputs.map(([name]) => name), { attrs })],
    inputs,
    outputs,
    producer: "eigenq make_onnx_golden.mjs",
  });
}

const SESSION_OPTIONS = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1 };
const sessions = new Map();

async function sessionFor(key, build) {
  if (!sessions.has(key)) sessions.set(key, await ort.InferenceSession.create(build(), SESSION_OPTIONS));
  return sessions.get(key);
}

function qlModel(dtype, axis) {
  const attrs = axis === null ? {} : { axis };
  return singleNodeModel("QuantizeLinear", [["x", "float32"], ["s", "float32"], ["z", dtype]], [["y", dtype]], attrs);
}
function dqModel(dtype, axis) {
  const attrs = axis === null ? {} : { axis };
  return singleNodeModel("DequantizeLinear", [["q", dtype], ["s", "float32"], ["z", dtype]], [["y", "float32"]], attrs);
}
function dqlModel() {
  return singleNodeModel("DynamicQuantizeLinear", [["x", "float32"]],
                         [["y", "uint8"], ["y_scale", "float32"], ["y_zero_point", "uint8"]]);
}

const TypedCodes = { int8: Int8Array, uint8: Uint8Array };

function paramTensors(dtype, scales, zps, perAxis) {
  const dims = perAxis ? [scales.length] : [];
  return {
    s: new ort.Tensor("float32", Float32Array.from(scales), dims),
    z: new ort.Tensor(dtype, TypedCodes[dtype].from(zps), dims),
  };
}

// onnxAxis: null for per tensor, else the attribute value (may be negative).
async function runQuantizeLinear(dtype, onnxAxis, xBits, shape, scales, zps) {
  const sess = await sessionFor(`QL ${dtype} ${onnxAxis}`, () => qlModel(dtype, onnxAxis));
  const x = new Float32Array(Uint32Array.from(xBits).buffer);
  const feeds = { x: new ort.Tensor("float32", x, shape), ...paramTensors(dtype, scales, zps, onnxAxis !== null) };
  const out = await sess.run(feeds);
  return Array.from(out.y.data, Number);
}

async function runDequantizeLinear(dtype, onnxAxis, codes, shape, scales, zps) {
  const sess = await sessionFor(`DQ ${dtype} ${onnxAxis}`, () => dqModel(dtype, onnxAxis));
  const feeds = { q: new ort.Tensor(dtype, TypedCodes[dtype].from(codes), shape),
                  ...paramTensors(dtype, scales, zps, onnxAxis !== null) };
  const out = await sess.run(feeds);
  const y = out.y.data;
  return Array.from(new Uint32Array(y.buffer, y.byteOffset, y.length));  // bits, NaN payloads kept
}

async function runDynamicQuantizeLinear(xBits) {
  const sess = await sessionFor("DQL", dqlModel);
  const x = new Float32Array(Uint32Array.from(xBits).buffer);
  const out = await sess.run({ x: new ort.Tensor("float32", x, [x.length]) });
  const s = out.y_scale.data;
  return {
    codes: Array.from(out.y.data, Number),
    scaleBits: new Uint32Array(s.buffer, s.byteOffset, 1)[0],
    zeroPoint: Number(out.y_zero_point.data[0]),
  };
}

// ---------------------------------------------------------------------------
// binary32 helpers (values are carried as uint32 bit patterns)
// ---------------------------------------------------------------------------

const f32view = new Float32Array(1);
const u32view = new Uint32Array(f32view.buffer);
const fr = Math.fround;
function bitsOf(x) { f32view[0] = x; return u32view[0]; }
function valOf(b) { u32view[0] = b >>> 0; return f32view[0]; }
function hex(b) { return (b >>> 0).toString(16).padStart(8, "0"); }

const NAN_BITS = 0x7fc00000;
const INF = Infinity;
const FLT_MAX = valOf(0x7f7fffff);
const FLT_MIN = valOf(0x00800000);
const DENORM_MIN = valOf(0x00000001);

// Round half to even of a double that holds a float32 value (exact for those).
function rintEven(v) {
  if (!Number.isFinite(v)) return v;
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const RANGE = { int8: [-128, 127], uint8: [0, 255] };

// ---------------------------------------------------------------------------
// Deterministic random numbers: mulberry32 seeded with crc32(case name)
// ---------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; ++n) {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(s) {
  let c = 0xffffffff;
  for (const b of new TextEncoder().encode(s)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class Rng {
  constructor(name) { this.a = crc32(name) | 0; }
  u32() {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(lo, hi) { return lo + (this.u32() % (hi - lo + 1)); }  // inclusive; tiny modulo bias is fine
  // A float32 uniform in [lo, hi) with a random 24-bit fraction.
  uniform(lo, hi) { return fr(lo + (hi - lo) * ((this.u32() >>> 8) / 16777216)); }
  // A float32 with a full random mantissa, |x| in [2^e0, 2^(e1+1)), random sign.
  wide(e0, e1, signed = true) {
    const e = this.int(e0, e1);
    const sign = signed && this.u32() & 1 ? 0x80000000 : 0;
    return valOf(sign | ((e + 127) << 23) | (this.u32() & 0x7fffff));
  }
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

const cases = [];
const tally = new Map();  // formula checks, printed at the end
function count(key, ok, total = 1) {
  const t = tally.get(key) || [0, 0];
  t[0] += ok; t[1] += total;
  tally.set(key, t);
}

function product(shape) { return shape.reduce((a, b) => a * b, 1); }

// Channel index of each element for a normalised axis (or 0 per tensor).
function channelOf(shape, axis) {
  const n = product(shape);
  if (axis < 0) return new Array(n).fill(0);
  const inner = product(shape.slice(axis + 1));
  return Array.from({ length: n }, (_, i) => Math.floor(i / inner) % shape[axis]);
}

// Candidate formulas for QuantizeLinear's codes, checked against ORT's output.
function checkQuantizeFormulas(dtype, xs, ch, scales, zps, codes) {
  const [lo, hi] = RANGE[dtype];
  const clamp = (v) => Math.min(Math.max(v, lo), hi);
  for (let i = 0; i < xs.length; ++i) {
    const x = xs[i], s = scales[ch[i]], z = zps[ch[i]];
    if (Number.isNaN(x)) continue;
    const div = fr(x / s);
    const mul = fr(x * fr(1 / s));
    const nanSafe = (v) => (Number.isNaN(v) ? null : v);
    const cDiv = nanSafe(div) === null ? null : clamp(rintEven(div) + z);
    const cMul = nanSafe(mul) === null ? null : clamp(rintEven(mul) + z);
    const cAdd = nanSafe(div) === null ? null : clamp(rintEven(div + z));
    const cAway = nanSafe(div) === null ? null : clamp(Math.sign(div) * Math.floor(Math.abs(div) + 0.5) + z);
    count("QuantizeLinear: clamp(rint_even(f32(x / scale)) + zp)", cDiv === codes[i] ? 1 : 0);
    count("QuantizeLinear: clamp(rint_even(f32(x * f32(1/scale))) + zp)", cMul === codes[i] ? 1 : 0);
    count("QuantizeLinear: clamp(rint_even(f32(x / scale) + zp))  (add first)", cAdd === codes[i] ? 1 : 0);
    count("QuantizeLinear: clamp(round_half_away(f32(x / scale)) + zp)", cAway === codes[i] ? 1 : 0);
  }
}

function checkDequantizeFormulas(codes, ch, scales, zps, deqBits) {
  for (let i = 0; i < codes.length; ++i) {
    const s = scales[ch[i]], z = zps[ch[i]];
    const one = bitsOf(fr((codes[i] - z) * s));
    const two = bitsOf(fr(fr(codes[i] * s) - fr(z * s)));
    const same = (a, b) => a === b || (Number.isNaN(valOf(a)) && Number.isNaN(valOf(b)));
    count("DequantizeLinear: f32((q - zp) * scale)", same(one, deqBits[i]) ? 1 : 0);
    count("DequantizeLinear: f32(q * scale) - f32(zp * scale)", same(two, deqBits[i]) ? 1 : 0);
  }
}

function fieldsVector(key, tokens) { return [key, String(tokens.length), ...tokens]; }

// A QuantizeLinear case: ORT's codes, then DequantizeLinear of those codes.
//   axis: normalised channel axis (-1 per tensor); onnxAxis: the attribute written to the model
//   symmetric: eigenq's symmetric int8 weights ([-127, 127]); adds dequant_narrow
async function quantizeCase(name, { dtype, shape, xs, scales, zps, axis = -1, onnxAxis = undefined,
                                    symmetric = false, note = null, scaleSource = null }) {
  const perAxis = axis >= 0;
  const attr = perAxis ? (onnxAxis === undefined ? axis : onnxAxis) : null;
  const n = product(shape);
  if (xs.length !== n) throw new Error(`${name}: ${xs.length} inputs for shape ${shape}`);
  if (perAxis && scales.length !== shape[axis]) throw new Error(`${name}: channel count`);
  const xBits = xs.map((x) => (Number.isNaN(x) ? NAN_BITS : bitsOf(x)));
  const xf = xBits.map(valOf);
  const sBits = scales.map(bitsOf);
  const codes = await runQuantizeLinear(dtype, attr, xBits, shape, scales, zps);
  const deq = await runDequantizeLinear(dtype, attr, codes, shape, scales, zps);
  const ch = channelOf(shape, axis);
  checkQuantizeFormulas(dtype, xf, ch, sBits.map(valOf), zps, codes);
  checkDequantizeFormulas(codes, ch, sBits.map(valOf), zps, deq);
  const f = [
    ["kind", "quantize"],
    ["op", "QuantizeLinear"],
    ["dtype", dtype],
    ["axis", String(axis)],
  ];
  if (perAxis && attr !== axis) f.push(["onnx_axis", String(attr)]);
  if (symmetric) f.push(["scheme", "symmetric"]);
  if (scaleSource) f.push(["scale_source", scaleSource]);
  f.push(fieldsVector("shape", shape.map(String)));
  f.push(fieldsVector("input", xBits.map(hex)));
  f.push(fieldsVector("scale", sBits.map(hex)));
  f.push(fieldsVector("zero_point", zps.map(String)));
  f.push(fieldsVector("codes", codes.map(String)));
  f.push(fieldsVector("dequant", deq.map(hex)));
  if (symmetric) {
    // eigenq's symmetric int8 range is [-127, 127]: ORT's DequantizeLinear of the narrowed codes.
    const narrow = codes.map((q) => Math.max(q, -127));
    f.push(fieldsVector("dequant_narrow", (await runDequantizeLinear(dtype, attr, narrow, shape, scales, zps)).map(hex)));
  }
  if (xf.some(Number.isNaN)) {
    const idx = [];
    xf.forEach((v, i) => { if (Number.isNaN(v)) idx.push(`${i}:${codes[i]}`); });
    f.push(["nan_codes", ...idx]);  // informational: ORT's code for each NaN input (index:code)
  }
  if (note) f.push(["note", note]);
  cases.push({ name, fields: f, elements: n });
}

async function dequantizeCase(name, { dtype, shape, codes, scales, zps, axis = -1, note = null }) {
  const perAxis = axis >= 0;
  const deq = await runDequantizeLinear(dtype, perAxis ? axis : null, codes, shape, scales, zps);
  const sBits = scales.map(bitsOf);
  checkDequantizeFormulas(codes, channelOf(shape, axis), sBits.map(valOf), zps, deq);
  const f = [
    ["kind", "dequantize"],
    ["op", "DequantizeLinear"],
    ["dtype", dtype],
    ["axis", String(axis)],
    fieldsVector("shape", shape.map(String)),
    fieldsVector("scale", sBits.map(hex)),
    fieldsVector("zero_point", zps.map(String)),
    fieldsVector("codes", codes.map(String)),
    fieldsVector("dequant", deq.map(hex)),
  ];
  if (note) f.push(["note", note]);
  cases.push({ name, fields: f, elements: codes.length });
}

// DynamicQuantizeLinear's parameters, two ways: float32 as in the ONNX spec's formula and
// onnxruntime's kernel, and float64 as in onnxruntime's Python compute_scale_zp
// (what eigenq's Linear<uint8_t>::affine(Profile::onnx).fit does).
function dqlFloat32(mn, mx) {
  mn = Math.min(mn, 0); mx = Math.max(mx, 0);
  const s = mx === mn ? 1 : fr(fr(mx - mn) / 255);
  const izp = fr(0 - fr(mn / s));
  const c = Number.isNaN(izp) ? 255 : Math.max(0, Math.min(255, izp));  // std::min(255.f, NaN) is 255
  return { scale: s, zp: rintEven(c) };
}
function computeScaleZpFloat64(mn, mx) {
  mn = Math.min(mn, 0); mx = Math.max(mx, 0);
  const dr = fr(mx - mn);
  const s = dr / 255;
  if (s < FLT_MIN) return { scale: 1, zp: 0 };
  return { scale: fr(s), zp: rintEven(0 - mn / s) };
}

function checkDynamicFormulas(mn, mx, scaleBits, zp) {
  const a = dqlFloat32(mn, mx), b = computeScaleZpFloat64(mn, mx);
  const same = (x, bits) => bitsOf(x) === bits || (Number.isNaN(x) && Number.isNaN(valOf(bits)));
  count("DynamicQuantizeLinear params: float32 (ONNX spec formula)", same(a.scale, scaleBits) && a.zp === zp ? 1 : 0);
  count("DynamicQuantizeLinear params: float64 (Python compute_scale_zp)", same(b.scale, scaleBits) && b.zp === zp ? 1 : 0);
}

async function dynamicCase(name, xs, note = null) {
  const xBits = xs.map((x) => (Number.isNaN(x) ? NAN_BITS : bitsOf(x)));
  const xf = xBits.map(valOf);
  const r = await runDynamicQuantizeLinear(xBits);
  const deq = await runDequantizeLinear("uint8", null, r.codes, [xs.length], [valOf(r.scaleBits)], [r.zeroPoint]);
  if (xf.every(Number.isFinite)) {
    let mn = Infinity, mx = -Infinity;
    for (const v of xf) { mn = Math.min(mn, v); mx = Math.max(mx, v); }
    checkDynamicFormulas(mn, mx, r.scaleBits, r.zeroPoint);
    const s = valOf(r.scaleBits);
    if (Number.isFinite(s) && s > 0) {
      checkQuantizeFormulas("uint8", xf, new Array(xf.length).fill(0), [s], [r.zeroPoint], r.codes);
    }
  }
  const f = [
    ["kind", "dynamic"],
    ["op", "DynamicQuantizeLinear"],
    ["dtype", "uint8"],
    ["axis", "-1"],
    fieldsVector("shape", [String(xs.length)]),
    fieldsVector("input", xBits.map(hex)),
    fieldsVector("scale", [hex(r.scaleBits)]),
    fieldsVector("zero_point", [String(r.zeroPoint)]),
    fieldsVector("codes", r.codes.map(String)),
    fieldsVector("dequant", deq.map(hex)),
  ];
  if (note) f.push(["note", note]);
  cases.push({ name, fields: f, elements: xs.length });
}

// One DynamicQuantizeLinear run per pair, on the 2-element tensor [min, max].
async function dynamicParamsCase(name, pairs) {
  const scales = [], zps = [];
  for (const [mn, mx] of pairs) {
    const r = await runDynamicQuantizeLinear([bitsOf(mn), bitsOf(mx)]);
    checkDynamicFormulas(mn, mx, r.scaleBits, r.zeroPoint);
    scales.push(hex(r.scaleBits));
    zps.push(String(r.zeroPoint));
  }
  cases.push({
    name,
    elements: pairs.length,
    fields: [
      ["kind", "dynamic_params"],
      ["op", "DynamicQuantizeLinear"],
      ["dtype", "uint8"],
      fieldsVector("observed_min", pairs.map(([a]) => hex(bitsOf(a)))),
      fieldsVector("observed_max", pairs.map(([, b]) => hex(bitsOf(b)))),
      fieldsVector("scale", scales),
      fieldsVector("zero_point", zps),
    ],
  });
}

// ---------------------------------------------------------------------------
// Input generators
// ---------------------------------------------------------------------------

// Inputs x with f32(x / s) exactly k + 0.5 (k over the code range and a little beyond).
function tieInputs(rng, s, zp, dtype, count) {
  const [lo, hi] = RANGE[dtype];
  const out = [];
  for (let tries = 0; out.length < count && tries < 100000; ++tries) {
    const k = rng.int(lo - zp - 3, hi - zp + 2);
    const x = fr((k + 0.5) * s);
    if (fr(x / s) === k + 0.5 && !out.includes(x)) out.push(x);
  }
  return out;
}

// Inputs whose code differs between x / s (ONNX) and x * (1/s) (PyTorch).
function divVsMulInputs(rng, s, zp, dtype, count) {
  const [lo, hi] = RANGE[dtype];
  const inv = fr(1 / s);
  const out = [];
  for (let tries = 0; out.length < count && tries < 2000000; ++tries) {
    const k = rng.int(lo - zp, hi - zp - 1);
    const x = fr((k + 0.5) * s + (rng.int(-8, 8) * s) / 4194304);
    if (rintEven(fr(x / s)) !== rintEven(fr(x * inv)) && !out.includes(x)) out.push(x);
  }
  return out;
}

function shuffle(rng, a) {
  for (let i = a.length - 1; i > 0; --i) {
    const j = rng.u32() % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function symmetricScale(xs) {
  // compute_scale_zp(symmetric=True) on int8 [-127, 127]: f32(f64(2 amax) / 254); scale 1 below FLT_MIN.
  let amax = 0;
  for (const v of xs) amax = Math.max(amax, Math.abs(v));
  const s = fr(amax + amax) / 254;
  return s < FLT_MIN ? 1 : fr(s);
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

async function quantizeCases() {
  // Random data, per tensor. 35 elements: two 16-float vectors and a 3-element tail.
  for (const [dtype, zp, s, lo, hi] of [
    ["uint8", 128, fr(0.0172), -2.5, 2.5],
    ["uint8", 0, fr(1 / 255), -0.1, 1.1],
    ["uint8", 255, fr(0.0123), -3.3, 0.2],
    ["uint8", 37, fr(0.3), -15, 70],
    ["int8", 0, fr(0.0311), -4.2, 4.2],
    ["int8", -7, fr(0.0311), -4.2, 4.2],
    ["int8", 100, fr(2.7e-5), -0.0065, 0.0012],
    ["int8", -128, fr(7.3), 0, 1900],
  ]) {
    const name = `ql_pt_${dtype}_zp${zp}_random`;
    const rng = new Rng(name);
    const xs = Array.from({ length: 35 }, () => rng.uniform(lo, hi));
    await quantizeCase(name, { dtype, shape: [35], xs, scales: [s], zps: [zp] });
  }

  // Exact .5 ties of x / scale, and inputs where x / s and x * (1/s) round apart.
  const tieScales = [1, 0.5, fr(0.1), fr(0.3), fr(2 / 255), fr(1 / 255), fr(0.00214854861), 3, fr(1e-3)];
  for (const dtype of ["int8", "uint8"]) {
    const zpsFor = dtype === "int8" ? [0, 3, -128] : [128, 3, 0];
    for (const [si, s] of tieScales.entries()) {
      const zp = zpsFor[si % 3];
      const name = `ties_pt_${dtype}_s${hex(bitsOf(s))}_zp${zp}`;
      const rng = new Rng(name);
      const xs = shuffle(rng, [...tieInputs(rng, s, zp, dtype, 20), ...divVsMulInputs(rng, s, zp, dtype, 4)]);
      await quantizeCase(name, { dtype, shape: [xs.length], xs, scales: [s], zps: [zp] });
    }
  }

  // Saturation far beyond the range, infinities, the edges of the range (ties at qmax + 0.5).
  for (const [dtype, zp] of [["int8", 3], ["uint8", 250], ["int8", -128], ["uint8", 0]]) {
    const s = fr(0.1);
    const [lo, hi] = RANGE[dtype];
    const xs = [1e3, -1e3, 12.8, -12.9, 25.55, -25.55, 1e10, -1e10, 3e38, -3e38, FLT_MAX, -FLT_MAX, INF, -INF,
                fr((hi - zp + 0.5) * 0.1), fr((lo - zp - 0.5) * 0.1), fr((hi - zp) * 0.1), fr((lo - zp) * 0.1),
                fr((hi - zp + 0.49) * 0.1), fr((lo - zp - 0.51) * 0.1), 0.05, -0.05, 1, -1].map(fr);
    await quantizeCase(`saturate_${dtype}_zp${zp}`, { dtype, shape: [xs.length], xs, scales: [s], zps: [zp] });
  }
  // x / scale overflows to inf with a tiny scale; huge scale makes everything round to zero.
  {
    const xs = [1, -1, 1e30, -1e30, FLT_MAX, -FLT_MAX, 1e-38, -1e-38, 0, 3.4e-39].map(fr);
    await quantizeCase("overflow_quotient_int8", { dtype: "int8", shape: [xs.length], xs, scales: [FLT_MIN], zps: [-1] });
    await quantizeCase("huge_scale_uint8", { dtype: "uint8", shape: [xs.length], xs, scales: [fr(3e37)], zps: [77] });
  }

  // Negative zero and values that round to -0.
  for (const [dtype, zp] of [["int8", 0], ["int8", 5], ["uint8", 128], ["uint8", 0]]) {
    const xs = [-0, 0, -DENORM_MIN, DENORM_MIN, fr(-0.04999), fr(-0.05), fr(0.05), fr(-1e-30), -0, fr(-0.15)];
    await quantizeCase(`neg_zero_${dtype}_zp${zp}`, { dtype, shape: [xs.length], xs, scales: [fr(0.1)], zps: [zp] });
  }

  // Denormal inputs (no flush to zero), and a denormal scale.
  {
    const d = [0x00000001, 0x00000002, 0x00000003, 0x00400000, 0x00400001, 0x003fffff, 0x007fffff, 0x00c00000,
               0x00800000, 0x00000280, 0x00000180, 0x00012345];
    const xs = [];
    for (const b of d) { xs.push(valOf(b), valOf(b | 0x80000000)); }
    xs.push(1, -1, fr(1e-30), fr(-1e-30));
    for (const [dtype, zp] of [["int8", 0], ["uint8", 128]]) {
      await quantizeCase(`denormal_inputs_scale_flt_min_${dtype}`, { dtype, shape: [xs.length], xs, scales: [FLT_MIN], zps: [zp] });
      await quantizeCase(`denormal_scale_${dtype}`, { dtype, shape: [xs.length], xs, scales: [valOf(0x00000100)], zps: [zp] });
      await quantizeCase(`denormal_inputs_scale_1e-3_${dtype}`, { dtype, shape: [xs.length], xs, scales: [fr(1e-3)], zps: [zp] });
    }
  }

  // NaN at positions in a SIMD body and in a tail (37 elements).
  for (const [dtype, zp] of [["int8", 0], ["int8", -5], ["uint8", 128], ["uint8", 7]]) {
    const name = `nan_${dtype}_zp${zp}`;
    const rng = new Rng(name);
    const xs = Array.from({ length: 37 }, () => rng.uniform(-3, 3));
    for (const i of [0, 5, 16, 31, 32, 36]) xs[i] = NaN;
    await quantizeCase(name, { dtype, shape: [37], xs, scales: [fr(0.05)], zps: [zp], note: "NaN_inputs:_see_README" });
  }

  // Larger tensors: 151 elements (two 64-float blocks, 16-float vectors and a 7-element tail).
  for (const [dtype, zp, s] of [["int8", -3, fr(0.0123)], ["uint8", 131, fr(0.0123)]]) {
    const name = `large_${dtype}`;
    const rng = new Rng(name);
    const xs = Array.from({ length: 151 }, () => (rng.u32() % 8 === 0 ? rng.wide(-12, 3) : rng.uniform(-1.7, 1.7)));
    await quantizeCase(name, { dtype, shape: [151], xs, scales: [s], zps: [zp] });
  }

  // Per axis (opset 13 `axis` attribute).
  const perAxis = [
    // name, dtype, shape, axis, onnxAxis, scales, zps
    ["ql_pa_int8_axis0_4x9", "int8", [4, 9], 0, 0, [fr(0.1), fr(0.0037), fr(1.7), 2 ** -10], [0, -5, 3, 127]],
    ["ql_pa_uint8_axis1_3x5", "uint8", [3, 5], 1, 1, [fr(0.02), fr(0.3), 1, fr(1 / 255), fr(0.007)], [128, 0, 255, 3, 77]],
    ["ql_pa_int8_axis_last_2x3x4", "int8", [2, 3, 4], 2, -1, [fr(0.05), fr(0.011), fr(0.5), fr(0.2)], [1, -128, 0, 60]],
    ["ql_pa_uint8_axis1_2x5x3", "uint8", [2, 5, 3], 1, 1, [fr(0.01), fr(0.02), fr(0.03), fr(0.04), fr(0.05)], [0, 50, 100, 150, 255]],
    ["ql_pa_int8_axis0_3x1x17", "int8", [3, 1, 17], 0, 0, [fr(0.013), fr(0.13), fr(1.3)], [-1, 0, 1]],
  ];
  for (const [name, dtype, shape, axis, onnxAxis, scales, zps] of perAxis) {
    const rng = new Rng(name);
    const ch = channelOf(shape, axis);
    const xs = ch.map((c) => {
      const [lo, hi] = RANGE[dtype];
      // mostly inside the channel's range, some beyond it
      return rng.uniform((lo - zps[c] - 20) * scales[c], (hi - zps[c] + 20) * scales[c]);
    });
    await quantizeCase(name, { dtype, shape, xs, scales, zps, axis, onnxAxis });
  }
  // Per-axis ties, channels of different scales.
  for (const dtype of ["int8", "uint8"]) {
    const name = `ties_pa_${dtype}_axis1`;
    const rng = new Rng(name);
    const scales = [1, 0.5, fr(0.1), fr(0.3)];
    const zps = dtype === "int8" ? [0, 3, -1, 10] : [128, 3, 0, 255];
    const rows = 12;
    const cols = scales.map((s, c) => tieInputs(rng, s, zps[c], dtype, rows));
    const xs = [];
    for (let r = 0; r < rows; ++r) for (let c = 0; c < 4; ++c) xs.push(cols[c][r]);
    await quantizeCase(name, { dtype, shape: [rows, 4], xs, scales, zps, axis: 1 });
  }
  // Per-axis NaN.
  {
    const name = "nan_pa_int8_axis0";
    const rng = new Rng(name);
    const xs = Array.from({ length: 21 }, () => rng.uniform(-2, 2));
    for (const i of [0, 8, 20]) xs[i] = NaN;
    await quantizeCase(name, { dtype: "int8", shape: [3, 7], xs, scales: [fr(0.02), fr(0.03), fr(0.04)], zps: [0, 9, -9], axis: 0,
                               note: "NaN_inputs:_see_README" });
  }

  // The onnx profile's symmetric int8 weights: scale = amax / 127 (compute_scale_zp's formula,
  // computed here, not by ORT), zero point 0, per tensor and per output channel.
  {
    const name = "sym_weights_int8_per_tensor_6x11";
    const rng = new Rng(name);
    const xs = Array.from({ length: 66 }, () => rng.uniform(-0.9, 0.7));
    await quantizeCase(name, { dtype: "int8", shape: [6, 11], xs, scales: [symmetricScale(xs)], zps: [0], symmetric: true,
                               scaleSource: "generator_amax/127" });
  }
  {
    const name = "sym_weights_int8_per_channel_8x16";
    const rng = new Rng(name);
    const shape = [8, 16];
    const mags = [1, 0.01, 30, 2 ** -20, 0, 0.5, 1e-3, 7];  // row 4 all zero: scale 1
    const xs = [];
    const scales = [];
    for (let r = 0; r < 8; ++r) {
      const row = Array.from({ length: 16 }, () => fr(rng.uniform(-1, 1) * mags[r]));
      if (r === 5) row[3] = -0.5;  // amax reached by a negative value: code -127
      xs.push(...row);
      scales.push(symmetricScale(row));
    }
    await quantizeCase(name, { dtype: "int8", shape, xs, scales, zps: new Array(8).fill(0), axis: 0, symmetric: true,
                               scaleSource: "generator_amax/127" });
  }
  {
    // Inputs beyond the calibrated amax: ORT saturates to -128, eigenq's symmetric range stops at -127.
    const name = "sym_outside_range_int8";
    const s = symmetricScale([1.0]);
    const xs = [-1, 1, -1.003, 1.003, fr(-1.004), -1.5, 1.5, -2, 2, -INF, INF, fr(-127.5 * s), fr(-128.5 * s), 0.5, -0.5];
    await quantizeCase(name, { dtype: "int8", shape: [xs.length], xs: xs.map(fr), scales: [s], zps: [0], symmetric: true,
                               scaleSource: "generator_amax/127_for_amax_1" });
  }
}

async function dequantizeCases() {
  const allS8 = Array.from({ length: 256 }, (_, i) => i - 128);
  const allU8 = Array.from({ length: 256 }, (_, i) => i);
  await dequantizeCase("dq_all_codes_int8", { dtype: "int8", shape: [256], codes: allS8, scales: [fr(0.0172)], zps: [-7] });
  await dequantizeCase("dq_all_codes_uint8", { dtype: "uint8", shape: [256], codes: allU8, scales: [fr(0.0172)], zps: [131] });
  // Extreme scales, one per channel: overflow to inf, FLT_MAX, the smallest denormal, FLT_MIN, 1/3.
  const extremeScales = [fr(3e36), FLT_MAX, DENORM_MIN, FLT_MIN, fr(1 / 3)];
  const pick = (all, rng) => [all[0], all[255], all[1], all[254], all[127], all[128], ...Array.from({ length: 4 }, () => all[rng.u32() % 256])];
  for (const [dtype, all, zps] of [["int8", allS8, [-128, 127, 0, 5, -1]], ["uint8", allU8, [0, 255, 128, 3, 254]]]) {
    const name = `dq_extreme_scales_${dtype}_axis0`;
    const rng = new Rng(name);
    const codes = [];
    for (let c = 0; c < 5; ++c) codes.push(...pick(all, rng));
    await dequantizeCase(name, { dtype, shape: [5, 10], codes, scales: extremeScales, zps, axis: 0 });
  }
  {
    const name = "dq_pa_int8_axis1_3x6";
    const rng = new Rng(name);
    const codes = Array.from({ length: 18 }, () => rng.int(-128, 127));
    await dequantizeCase(name, { dtype: "int8", shape: [3, 6], codes, axis: 1,
                                 scales: [fr(0.1), fr(0.2), fr(0.3), fr(1e-4), 8, fr(0.0172)], zps: [0, 1, -1, 127, -128, 64] });
  }
}

async function dynamicCases() {
  const named = (name, gen) => dynamicCase(name, gen(new Rng(name)));
  await named("dql_mixed_35", (r) => Array.from({ length: 35 }, () => r.uniform(-1.3, 2.9)));
  await named("dql_all_positive_33", (r) => Array.from({ length: 33 }, () => r.uniform(0.5, 3)));
  await named("dql_all_negative_33", (r) => Array.from({ length: 33 }, () => r.uniform(-7, -0.25)));
  await named("dql_large_151", (r) => Array.from({ length: 151 }, () => (r.u32() % 10 === 0 ? r.wide(-20, 4) : r.uniform(-0.6, 0.4))));
  await named("dql_wide_magnitudes_40", (r) => Array.from({ length: 40 }, () => r.wide(-30, 30)));
  await dynamicCase("dql_neg1_half_1", [-1, 0.5, 1]);
  await dynamicCase("dql_zp_tie_even_0", [-0.5, 254.5, 3, -0.25]);    // scale 1, zero point 0.5 -> 0
  await dynamicCase("dql_zp_tie_even_2", [-1.5, 253.5, 100.5, 0.5]);   // 1.5 -> 2
  await dynamicCase("dql_zp_tie_even_128", [-128.5, 126.5, 1.5, 2.5]); // 128.5 -> 128
  await dynamicCase("dql_all_zero", [0, 0, 0, 0, 0]);
  await dynamicCase("dql_neg_zero", [-0, -0, 0]);
  await dynamicCase("dql_single_positive", [fr(3.7)]);
  await dynamicCase("dql_single_negative", [fr(-3.7)]);
  await dynamicCase("dql_equal_values", [fr(0.3), fr(0.3), fr(0.3)]);
  await dynamicCase("dql_tiny_range", [fr(-1e-38), fr(1e-38), fr(3e-39), 0]);                    // denormal scale
  await dynamicCase("dql_denormal_only", [valOf(0x80000005), valOf(0x00000003), valOf(0x00000100)]);
  await dynamicCase("dql_scale_underflow_to_zero", [DENORM_MIN, 0]);                            // (max - min) / 255 = 0
  await dynamicCase("dql_huge_range", [fr(-3e38), fr(3e38), 1, -1]);                            // max - min = inf
  await dynamicCase("dql_flt_max", [-FLT_MAX, FLT_MAX, 0]);
  await dynamicCase("dql_with_pos_inf", [1, INF, -2, 0.5], "non-finite_input:_eigenq_rejects_it");
  await dynamicCase("dql_with_neg_inf", [1, -INF, -2, 0.5], "non-finite_input:_eigenq_rejects_it");
  await dynamicCase("dql_with_nan", [1, NaN, -2, 0.5], "non-finite_input:_eigenq_rejects_it");
  await dynamicCase("dql_nan_first", [NaN, 1, -2, 0.5], "non-finite_input:_eigenq_rejects_it");
}

// (min, max) pairs where the float32 (ONNX spec) and float64 (compute_scale_zp) zero points
// differ, and pairs where the float32 quotient is an exact .5.
function searchedPairs(rng) {
  const differ = [], ties = [];
  for (let t = 0; t < 2000000 && (differ.length < 24 || ties.length < 12); ++t) {
    const dr = rng.wide(-8, 8, false);
    const k = rng.int(0, 254);
    const mn = fr((-(k + 0.5) * dr) / 255);
    const mx = fr(mn + dr);
    if (!(mn < 0 && mx > 0)) continue;
    const a = dqlFloat32(mn, mx), b = computeScaleZpFloat64(mn, mx);
    if (a.zp !== b.zp && differ.length < 24) differ.push([mn, mx]);
    const q = fr(mn / a.scale);
    if (q - Math.trunc(q) === -0.5 && ties.length < 12) ties.push([mn, mx]);
  }
  return [...differ, ...ties];
}

async function dynamicParamsCases() {
  const name = "dql_params";
  const rng = new Rng(name);
  const pairs = [];
  for (let i = 0; i < 180; ++i) {
    const kind = i % 6;
    const a = rng.wide(-20, 20, false), b = rng.wide(-20, 20, false);
    if (kind < 3) pairs.push([-a, b]);                               // straddles zero
    else if (kind === 3) pairs.push([Math.min(a, b), Math.max(a, b)]);  // all positive
    else if (kind === 4) pairs.push([-Math.max(a, b), -Math.min(a, b)]);  // all negative
    else pairs.push([-a, fr(a * rng.uniform(0.9, 1.1))]);              // nearly symmetric
  }
  const special = [
    [0, 0], [-1, 1], [-1, 0.5], [-128, 127], [-0.5, 254.5], [-1.5, 253.5], [0, 1], [-1, 0], [-255, 0], [0, 255],
    [fr(-1e-38), fr(1e-38)], [-FLT_MIN, FLT_MIN], [-DENORM_MIN, 0], [0, DENORM_MIN], [-DENORM_MIN, DENORM_MIN],
    [valOf(0x80000100), valOf(0x00000100)], [fr(-1e-30), fr(1e-30)], [fr(-3e38), fr(3e38)], [-FLT_MAX, FLT_MAX],
    [fr(-3e38), 0], [0, fr(3e38)], [fr(2.5), fr(2.5)], [fr(-2.5), fr(-2.5)], [fr(-0.1), fr(0.2)],
    [fr(-0.2), fr(0.1)], [-0, 0], [fr(-1e-5), fr(1e5)], [fr(-1e5), fr(1e-5)],
  ];
  for (const p of special) pairs.push(p.map(fr));
  pairs.push(...searchedPairs(rng));
  await dynamicParamsCase(name, pairs);
}

// ---------------------------------------------------------------------------

function render() {
  const lines = [
    "# eigenq golden file: ONNX Runtime QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear",
    "# generator: tests/golden/make_onnx_golden.mjs (run with node; do not edit by hand)",
    `# reference: onnxruntime-node ${ORT_VERSION} (npm), CPU execution provider, intraOpNumThreads 1,`,
    `#            node ${process.version}, ${os.platform()} ${os.arch()}`,
    `# models: one node each, ai.onnx opset ${OPSET}, ir_version ${IR_VERSION}, scale and zero point fed as inputs`,
    "# floats are IEEE-754 binary32 bit patterns in hex; vectors are '<key> <count> <values...>'",
    `# cases: ${cases.length}`,
    "",
  ];
  for (const c of cases) {
    lines.push(`case ${c.name}`);
    for (const f of c.fields) lines.push(f.join(" "));
    lines.push("end", "");
  }
  return lines.join("\n");
}

async function main() {
  await quantizeCases();
  await dequantizeCases();
  await dynamicCases();
  await dynamicParamsCases();
  const names = new Set();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case ${c.name}`);
    names.add(c.name);
  }
  const text = render();
  fs.mkdirSync(ARGS.outDir, { recursive: true });
  const out = path.join(ARGS.outDir, OUT_NAME);
  fs.writeFileSync(out, text);
  const kinds = {};
  const elements = {};
  for (const c of cases) {
    const k = c.fields[0][1];
    kinds[k] = (kinds[k] || 0) + 1;
    elements[k] = (elements[k] || 0) + c.elements;
  }
  console.log(`onnxruntime-node ${ORT_VERSION} (node ${process.version}, ${os.platform()} ${os.arch()})`);
  console.log(`${out}: ${cases.length} cases, ${text.length} bytes`);
  console.log("cases per kind:", JSON.stringify(kinds), " elements (pairs for dynamic_params):", JSON.stringify(elements));
  const width = Math.max(...[...tally.keys()].map((k) => k.length));
  for (const [k, [ok, total]] of [...tally.entries()].sort()) {
    console.log(`${k.padEnd(width)}  ${String(ok).padStart(6)} / ${String(total).padStart(6)} ${ok === total ? "ALL" : ""}`);
  }
}

await main();
