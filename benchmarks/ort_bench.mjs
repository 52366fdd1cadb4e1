#!/usr/bin/env node
// ONNX Runtime (the onnxruntime-node package, CPU execution provider) as a benchmark peer of
// eigenq_bench, single-threaded, on the shapes of bench_gemm.cpp and bench_nn.cpp:
//
//   gemm_u8s8s32/onnxruntime/<M>x<N>x<K>   MatMulInteger u8 x s8 -> s32, cubes 256, 512, 1024
//   gemv_u8s8s32/onnxruntime/1x4096x4096   the same at M = 1
//     A and its zero point are graph inputs (as DynamicQuantizeLinear produces them), B and its
//     zero point (0) initializers, so ORT prepacks B once at session creation.
//   linear_dynamic/onnxruntime/<batch>x4096x4096
//     com.microsoft DynamicQuantizeMatMul(X, W int8, per-column scale, zero point 0, bias): what
//     ORT runs for the graph its quantize_dynamic tool emits for a MatMul (its optimizer fuses
//     that graph into this op). Falls back to the unfused graph if the op is not in the build.
//   linear_dynamic/onnxruntime-unfused/<batch>x4096x4096
//     the graph as quantize_dynamic writes it: DynamicQuantizeLinear(X) -> MatMulInteger(x_q, W
//     int8, x_zp, w_zp) -> Cast(float) -> Mul(x_scale * w_scale) -> Add(bias); the notes
//     printed at the end say which ops ORT's optimizer made of it.
//   linear_f32/onnxruntime/<batch>x4096x4096   float MatMul + Add (W an initializer; ORT fuses
//                                               them into Gemm)
//   overhead/onnxruntime/identity_1             Identity on one float: the fixed cost of a Run
//
// Linear shapes are <batch>x<in>x<out>, int8 weights are symmetric per output channel and
// activations affine uint8 per tensor, like eigenq's DynamicLinear default and
// benchmarks/torch_linear_bench.py. Sessions: intraOpNumThreads 1, interOpNumThreads 1,
// executionMode sequential, graphOptimizationLevel all.
//
// Two timings per model, each after 3 warm-up runs, for --min-time seconds (at least 10 runs),
// each the median per run:
//   <op>/onnxruntime/<shape>       ORT's own time for one Run, from its profiler (the model_run
//                                  event: InferenceSession::Run inside the library, what the C or
//                                  C++ API costs); `kernels` is the summed node kernel time.
//   <op>/onnxruntime-node/<shape>  wall time of `await session.run()` from JavaScript, in a second
//                                  session without the profiler: adds the Node binding (about
//                                  10 us a call, and a fresh zero-filled ArrayBuffer plus a copy
//                                  for every output).
// GOPS = 2 * M * N * K / median time.
//
// With --eigenq, the matching eigenq_bench benchmark and ORT's profiled session alternate in
// --rounds windows of --min-time / --rounds seconds each (eigenq, ORT, eigenq, ORT, ...), so both
// see the same load on a shared machine; the ratio printed is the median of the per-round ratios
// (ORT's own time / eigenq's wall time), the rounds listed beside it. eigenq_bench's time is a
// mean over its window, ORT's a median per run, which drops ORT's slow tail: if anything that
// favours ORT.
//
// The models are ModelProto messages written with the small protobuf encoder in
// tests/golden/onnx_model.mjs (shared with the golden-file generator), so neither the Python
// onnx package nor onnxruntime's C headers are needed.
//
// Usage:
//   node benchmarks/ort_bench.mjs --ort /work/ortgen/node_modules/onnxruntime-node
//   NODE_PATH=/work/ortgen/node_modules node benchmarks/ort_bench.mjs
//   node benchmarks/ort_bench.mjs --ort DIR --eigenq build/bench/benchmarks/eigenq_bench
// Options:
//   --ort DIR        the onnxruntime-node package directory, or a directory with node_modules/
//                    holding it (default: resolve 'onnxruntime-node' through NODE_PATH)
//   --eigenq BENCH   pair each ORT case with eigenq_bench's benchmark of the same shape
//                    (gemm_u8s8s32/eigenq, gemv_u8s8s32/eigenq, linear_dynamic/eigenq,
//                    linear_f32/eigen) and print the ratios
//   --rounds N       paired rounds with --eigenq (default 3)
//   --min-time S     timed seconds per case and timing (default 1; about 80 s in all with
//                    --eigenq)
//   --filter REGEX   only cases whose name matches
//   --json           print one JSON object instead of the table
// Install ORT outside the repository:
//   mkdir -p /work/ortgen && cd /work/ortgen && npm init -y \
//     && npm install --ignore-scripts onnxruntime-node@1.30.0

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

import { ELEM, model, node } from "../tests/golden/onnx_model.mjs";

// ---------------------------------------------------------------------------
// Command line and loading ORT
// ---------------------------------------------------------------------------

function usage(code) {
  console.log("usage: node benchmarks/ort_bench.mjs [--ort DIR] [--eigenq BENCH] [--rounds N] " +
              "[--min-time S] [--filter REGEX] [--json]");
  process.exit(code);
}

function parseArgs(argv) {
  const args = { ort: null, eigenq: null, minTime: 1.0, rounds: 3, filter: null, json: false };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) { console.error(`${a} needs a value`); usage(2); }
      return argv[++i];
    };
    if (a === "--ort") args.ort = value();
    else if (a === "--eigenq") args.eigenq = value();
    else if (a === "--min-time") args.minTime = Number(value());
    else if (a === "--rounds") args.rounds = Number(value());
    else if (a === "--filter") args.filter = new RegExp(value());
    else if (a === "--json") args.json = true;
    else if (a === "-h" || a === "--help") usage(0);
    else { console.error(`unknown argument '${a}'`); usage(2); }
  }
  if (!(args.minTime > 0)) { console.error("--min-time must be a positive number of seconds"); usage(2); }
  if (!(Number.isInteger(args.rounds) && args.rounds >= 1)) { console.error("--rounds must be a positive integer"); usage(2); }
  return args;
}

const ARGS = parseArgs(process.argv.slice(2));

function loadOrt(dir) {
  // A CommonJS require honours NODE_PATH (an ESM import does not).
  const here = createRequire(import.meta.url);
  const candidates = [];
  if (dir === null) candidates.push(() => here("onnxruntime-node"));
  else {
    const abs = path.resolve(dir);
    if (fs.existsSync(path.join(abs, "package.json"))) candidates.push(() => here(abs));
    candidates.push(() => createRequire(path.join(abs, "noop.js"))("onnxruntime-node"));
  }
  let error = null;
  for (const c of candidates) {
    try { return c(); } catch (e) { error = e; }
  }
  console.error(`cannot load onnxruntime-node${dir === null ? " (NODE_PATH)" : ` from ${dir}`}: ${error.message}\n` +
                "pass --ort <dir>/node_modules/onnxruntime-node or set NODE_PATH=<dir>/node_modules");
  process.exit(2);
}

const ort = loadOrt(ARGS.ort);

function ortVersion() {
  try {
    return ort.env.versions?.node ?? ort.env.versions?.common ?? "unknown";
  } catch { return "unknown"; }
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

class Rng {  // mulberry32
  constructor(seed) { this.a = seed | 0; }
  u32() {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }
  // Roughly normal (sum of 4 uniforms), mean 0, standard deviation sigma.
  normal(sigma) {
    const s = (this.u32() + this.u32() + this.u32() + this.u32()) / 4294967296 - 2;
    return s * sigma * Math.sqrt(3);
  }
}

function randomBytes(Type, n, seed) {
  const rng = new Rng(seed);
  const u = new Uint32Array(Math.ceil(n / 4));
  for (let i = 0; i < u.length; ++i) u[i] = rng.u32();
  return new Type(u.buffer, 0, n);
}

function randomNormal(n, sigma, seed) {
  const rng = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; ++i) v[i] = rng.normal(sigma);
  return v;
}

// W [in, out] (ONNX MatMul's B) -> int8 codes symmetric per output column, scale amax / 127
// (quantize_dynamic's symmetric int8 weights), zero points 0.
function quantizePerColumn(w, k, n) {
  const amax = new Float32Array(n);
  for (let r = 0; r < k; ++r) for (let c = 0; c < n; ++c) amax[c] = Math.max(amax[c], Math.abs(w[r * n + c]));
  const scale = amax.map((a) => (a > 0 ? a / 127 : 1));
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; ++r) {
    for (let c = 0; c < n; ++c) q[r * n + c] = Math.max(-127, Math.min(127, Math.round(w[r * n + c] / scale[c])));
  }
  return { q, scale, zp: new Int8Array(n) };
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

function matmulIntegerModel(m, k, n) {
  return model({
    nodes: [node("MatMulInteger", ["A", "B", "a_zero_point", "b_zero_point"], ["Y"])],
    inputs: [["A", "uint8", [m, k]], ["a_zero_point", "uint8", []]],
    outputs: [["Y", "int32", [m, n]]],
    initializers: [["B", "int8", [k, n], randomBytes(Int8Array, k * n, 2)], ["b_zero_point", "int8", [], new Int8Array(1)]],
  });
}

// The float Linear's weights, shared by the three Linear models of one shape.
function linearWeights(k, n) {
  const w = randomNormal(k * n, 0.02, 1);
  const bias = randomNormal(n, 0.1, 3);
  return { w, bias, ...quantizePerColumn(w, k, n) };
}

function dynamicUnfusedModel(m, k, n, W) {
  return model({
    nodes: [
      node("DynamicQuantizeLinear", ["X"], ["x_q", "x_scale", "x_zero_point"]),
      node("MatMulInteger", ["x_q", "W_q", "x_zero_point", "W_zero_point"], ["acc"]),
      node("Cast", ["acc"], ["acc_f"], { attrs: { to: ELEM.float32 } }),
      node("Mul", ["x_scale", "W_scale"], ["scale"]),
      node("Mul", ["acc_f", "scale"], ["xw"]),
      node("Add", ["xw", "bias"], ["Y"]),
    ],
    inputs: [["X", "float32", [m, k]]],
    outputs: [["Y", "float32", [m, n]]],
    initializers: [["W_q", "int8", [k, n], W.q], ["W_scale", "float32", [n], W.scale],
                   ["W_zero_point", "int8", [n], W.zp], ["bias", "float32", [n], W.bias]],
  });
}

function dynamicFusedModel(m, k, n, W) {
  return model({
    nodes: [node("DynamicQuantizeMatMul", ["X", "W_q", "W_scale", "W_zero_point", "bias"], ["Y"], { domain: "com.microsoft" })],
    inputs: [["X", "float32", [m, k]]],
    outputs: [["Y", "float32", [m, n]]],
    initializers: [["W_q", "int8", [k, n], W.q], ["W_scale", "float32", [n], W.scale],
                   ["W_zero_point", "int8", [n], W.zp], ["bias", "float32", [n], W.bias]],
    msDomain: true,
  });
}

function floatLinearModel(m, k, n, W) {
  return model({
    nodes: [node("MatMul", ["X", "W"], ["xw"]), node("Add", ["xw", "bias"], ["Y"])],
    inputs: [["X", "float32", [m, k]]],
    outputs: [["Y", "float32", [m, n]]],
    initializers: [["W", "float32", [k, n], W.w], ["bias", "float32", [n], W.bias]],
  });
}

function identityModel() {
  return model({ nodes: [node("Identity", ["X"], ["Y"])], inputs: [["X", "float32", [1]]], outputs: [["Y", "float32", [1]]] });
}

// ---------------------------------------------------------------------------
// Sessions and timing
// ---------------------------------------------------------------------------

const SESSION_OPTIONS = {
  executionProviders: ["cpu"],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
  logSeverityLevel: 3,  // errors only (dumping an optimized model warns that it is hardware specific)
};

// Op types in a serialized model (the optimizer's output), found as NodeProto.op_type fields:
// key 0x22 (field 4, wire type 2), the length, the name.
function opTypesIn(file) {
  const text = fs.readFileSync(file).toString("latin1");
  const known = ["DynamicQuantizeMatMul", "MatMulIntegerToFloat", "DynamicQuantizeLinear", "MatMulInteger",
                 "QGemm", "FusedGemm", "FusedMatMul", "Gemm", "MatMul", "Cast", "Mul", "Add", "Identity"];
  const found = [];
  for (const op of known) {
    const count = text.split(`\x22${String.fromCharCode(op.length)}${op}`).length - 1;
    if (count) found.push(count > 1 ? `${op} x${count}` : op);
  }
  return found.join(" + ") || "(no known op)";
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "ort_bench_"));
process.on("exit", () => fs.rmSync(TMP, { recursive: true, force: true }));
let tmpCount = 0;

// profile: record ORT's own profile (a JSON trace) and return its dir; dumpOps: report the op
// types of the optimized graph.
async function createSession(bytes, { profile = false, dumpOps = false } = {}) {
  const opts = { ...SESSION_OPTIONS };
  const dir = path.join(TMP, String(++tmpCount));
  fs.mkdirSync(dir);
  if (profile) Object.assign(opts, { enableProfiling: true, profileFilePrefix: path.join(dir, "profile") });
  if (dumpOps) opts.optimizedModelFilePath = path.join(dir, "optimized.onnx");
  const session = await ort.InferenceSession.create(bytes, opts);
  const ops = dumpOps ? opTypesIn(opts.optimizedModelFilePath) : null;
  return { session, ops, dir };
}

function median(sorted) {
  const h = sorted.length >> 1;
  return sorted.length % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

function stats(samplesUs) {
  const s = Float64Array.from(samplesUs).sort();
  return {
    iterations: s.length,
    time_us: median(s),
    mean_us: s.reduce((a, b) => a + b, 0) / s.length,
    p10_us: s[Math.floor(s.length * 0.1)],
    p90_us: s[Math.floor(s.length * 0.9)],
  };
}

const WARMUP = 3;

// Wall time of each `await session.run()` after WARMUP runs, for `seconds` (at least minRuns runs).
async function timeRuns(session, feeds, { seconds = ARGS.minTime, minRuns = 10, maxRuns = 100000 } = {}) {
  for (let i = 0; i < WARMUP; ++i) await session.run(feeds);
  const times = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (times.length < minRuns || (performance.now() - t0 < seconds * 1000 && times.length < maxRuns)) {
    const t = performance.now();
    await session.run(feeds);
    times.push((performance.now() - t) * 1e3);
  }
  const cpu = process.cpuUsage(c0);
  return { ...stats(times), cpu_us: (cpu.user + cpu.system) / times.length };
}

// ORT's own time for each Run (the profiler's model_run events: InferenceSession::Run inside the
// library, without the Node binding), and the summed kernel time of its nodes. The timed runs are
// split into `rounds` windows; beforeRound(i) runs first in each (eigenq_bench, for paired ratios).
async function profiledRuns(bytes, feeds, rounds = 1, beforeRound = null) {
  const { session, dir } = await createSession(bytes, { profile: true });
  const counts = [];
  for (let i = 0; i < rounds; ++i) {
    if (beforeRound !== null) beforeRound(i);
    const r = await timeRuns(session, feeds, { seconds: ARGS.minTime / rounds, minRuns: Math.ceil(10 / rounds),
                                               maxRuns: Math.ceil(20000 / rounds) });
    counts.push(r.iterations);
  }
  session.endProfiling();
  await session.release();
  const file = fs.readdirSync(dir).find((f) => f.startsWith("profile") && f.endsWith(".json"));
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
  fs.rmSync(dir, { recursive: true, force: true });
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run").sort((a, b) => a.ts - b.ts);
  if (runs.length !== counts.reduce((a, n) => a + WARMUP + n, 0)) throw new Error("unexpected profile: model_run count");
  const kernels = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time")).sort((a, b) => a.ts - b.ts);
  const kernelPerRun = new Float64Array(runs.length);
  let r = 0;
  for (const k of kernels) {
    while (r + 1 < runs.length && k.ts >= runs[r + 1].ts) ++r;
    kernelPerRun[r] += k.dur;
  }
  const timed = [], kernel = [], roundMedians = [];
  let at = 0;
  for (const n of counts) {
    at += WARMUP;
    const t = runs.slice(at, at + n).map((e) => e.dur);
    timed.push(...t);
    kernel.push(...kernelPerRun.slice(at, at + n));
    roundMedians.push(stats(t).time_us);
    at += n;
  }
  return { ...stats(timed), kernel_us: stats(kernel).time_us, round_us: roundMedians };
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

const results = [];
const notes = [];
let headerPrinted = false;

function wanted(name) { return ARGS.filter === null || ARGS.filter.test(name); }

function printRow(r) {
  if (ARGS.json) return;
  if (!headerPrinted) {
    console.log("-".repeat(124));
    console.log(`${"Benchmark".padEnd(54)} ${"Time".padStart(13)} ${"Mean".padStart(13)} ${"Iterations".padStart(11)} UserCounters...`);
    console.log("-".repeat(124));
    headerPrinted = true;
  }
  const us = (v) => `${v.toFixed(v < 100 ? 2 : v < 10000 ? 1 : 0)} us`.padStart(13);
  const c = [];
  if (r.gops !== undefined) c.push(`GOPS=${r.gops.toFixed(1)}G/s`);
  if (r.kernel_us !== undefined) c.push(`kernels=${r.kernel_us.toFixed(0)}us`);
  if (r.cpu_us !== undefined) c.push(`cpu=${r.cpu_us.toFixed(r.cpu_us < 100 ? 1 : 0)}us`);
  c.push(`p10=${r.p10_us.toFixed(1)}us`, `p90=${r.p90_us.toFixed(1)}us`);
  console.log(`${r.name.padEnd(54)} ${us(r.time_us)} ${us(r.mean_us)} ${String(r.iterations).padStart(11)} ${c.join(" ")}`);
}

function addResult(name, r, macs, eigenqName = null) {
  const row = { name, ...r };
  if (macs !== null) row.gops = (2 * macs) / (r.time_us * 1e3);
  if (eigenqName !== null) row.eigenq = eigenqName;
  results.push(row);
  printRow(row);
}

// One ORT model: <op>/<impl>/<shape> is ORT's own Run time (profiler), <op>/<impl>-node/<shape>
// the wall time of `await session.run()` in this process. Returns the plain session's output.
async function runCase({ op, impl, shape, macs, bytes, feeds, eigenqName = null, dumpOps = false }) {
  const name = `${op}/${impl}/${shape}`;
  const nodeName = `${op}/${impl}-node/${shape}`;
  if (!wanted(name) && !wanted(nodeName)) return null;
  if (wanted(name)) {
    if (eigenqName !== null && EIGENQ !== null) {
      const eq = [];
      const r = await profiledRuns(bytes, feeds, ARGS.rounds, () => eq.push(runEigenq(eigenqName)));
      eigenqTimes[eigenqName] = eq;
      addResult(name, r, macs, eigenqName);
    } else {
      addResult(name, await profiledRuns(bytes, feeds), macs);
    }
  }
  let output = null;
  if (wanted(nodeName) || dumpOps) {
    const { session, ops } = await createSession(bytes, { dumpOps });
    if (ops !== null) notes.push(`${name}: ORT's optimized graph runs ${ops}`);
    if (wanted(nodeName)) addResult(nodeName, await timeRuns(session, feeds), macs);
    output = (await session.run(feeds)).Y.data;
    await session.release();
  }
  return output;
}

async function gemmCase(op, m, n, k) {
  const shape = `${m}x${n}x${k}`;
  const A = randomBytes(Uint8Array, m * k, 1);
  const za = 128;
  const y = await runCase({
    op, impl: "onnxruntime", shape, macs: m * n * k, eigenqName: `${op}/eigenq/${shape}`,
    bytes: matmulIntegerModel(m, k, n),
    feeds: { A: new ort.Tensor("uint8", A, [m, k]), a_zero_point: new ort.Tensor("uint8", Uint8Array.of(za), []) },
  });
  if (y === null) return;
  // Spot check: a few entries of (A - za) B, computed here.
  const B = randomBytes(Int8Array, k * n, 2);  // the initializer of matmulIntegerModel
  let bad = 0;
  for (const [r, c] of [[0, 0], [0, n - 1], [m - 1, 0], [m - 1, n - 1], [m >> 1, n >> 1]]) {
    let acc = 0;
    for (let i = 0; i < k; ++i) acc += (A[r * k + i] - za) * B[i * n + c];
    if (y[r * n + c] !== acc) ++bad;
  }
  if (bad) notes.push(`${op}/onnxruntime/${shape}: ${bad} of 5 checked outputs differ from (A - a_zero_point) B`);
}

function maxRelDiff(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; ++i) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / den;
}

let dqmmAvailable = null;

async function linearCases(batch, k, n) {
  const shape = `${batch}x${k}x${n}`;
  const all = [`linear_dynamic/onnxruntime/${shape}`, `linear_dynamic/onnxruntime-unfused/${shape}`,
               `linear_f32/onnxruntime/${shape}`];
  if (!all.some((name) => wanted(name) || wanted(name.replace("/" + shape, "-node/" + shape)))) return;
  const W = linearWeights(k, n);
  const feeds = { X: new ort.Tensor("float32", randomNormal(batch * k, 1.0, 4), [batch, k]) };
  const common = { shape, macs: batch * k * n, feeds };

  if (dqmmAvailable === null) {
    try {
      const { session } = await createSession(dynamicFusedModel(1, 16, 16, linearWeights(16, 16)));
      await session.release();
      dqmmAvailable = true;
    } catch (e) {
      dqmmAvailable = false;
      notes.push(`com.microsoft DynamicQuantizeMatMul is not available (${e.message.split("\n")[0]}): ` +
                 "linear_dynamic/onnxruntime runs the unfused graph");
    }
  }
  const out = {};
  out.fused = await runCase({
    ...common, op: "linear_dynamic", impl: "onnxruntime", eigenqName: `linear_dynamic/eigenq/${shape}`,
    bytes: dqmmAvailable ? dynamicFusedModel(batch, k, n, W) : dynamicUnfusedModel(batch, k, n, W),
  });
  out.unfused = await runCase({
    ...common, op: "linear_dynamic", impl: "onnxruntime-unfused", dumpOps: true,
    bytes: dynamicUnfusedModel(batch, k, n, W),
  });
  out.f32 = await runCase({
    ...common, op: "linear_f32", impl: "onnxruntime", eigenqName: `linear_f32/eigen/${shape}`, dumpOps: true,
    bytes: floatLinearModel(batch, k, n, W),
  });
  const checks = [];
  if (out.fused && out.unfused) checks.push(`fused vs unfused ${maxRelDiff(out.fused, out.unfused).toExponential(1)}`);
  if (out.fused && out.f32) checks.push(`int8 vs float ${maxRelDiff(out.fused, out.f32).toExponential(1)}`);
  if (checks.length) notes.push(`${shape} outputs, max |difference| / max |output|: ${checks.join(", ")}`);
}

async function overheadCase() {
  await runCase({
    op: "overhead", impl: "onnxruntime", shape: "identity_1", macs: null, bytes: identityModel(),
    feeds: { X: new ort.Tensor("float32", Float32Array.of(1), [1]) },
  });
}

// ---------------------------------------------------------------------------
// eigenq_bench on the same shapes (--eigenq), each run just before the matching ORT case
// ---------------------------------------------------------------------------

const EIGENQ = ARGS.eigenq;
const ROUND_SECONDS = Number((ARGS.minTime / ARGS.rounds).toPrecision(3));
const eigenqTimes = {};  // name -> wall time (us) of each round

// One eigenq_bench run of one benchmark for --min-time / --rounds seconds; its wall time (us).
function runEigenq(name) {
  const re = `^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(/real_time)?$`;
  const out = execFileSync(EIGENQ, [`--benchmark_filter=${re}`, "--benchmark_format=json",
                                    `--benchmark_min_time=${ROUND_SECONDS}`],
                           { encoding: "utf8", maxBuffer: 1 << 26 });
  const b = JSON.parse(out).benchmarks.find((x) => x.run_name.replace(/\/real_time$/, "") === name);
  if (!b) throw new Error(`eigenq_bench has no benchmark ${name}`);
  return b.real_time * { ns: 1e-3, us: 1, ms: 1e3, s: 1e6 }[b.time_unit];
}

function printRatios(print = true) {
  const rows = results.filter((r) => r.eigenq && eigenqTimes[r.eigenq]);
  if (!rows.length) return;
  const log = print ? console.log : () => {};
  log(`\neigenq_bench vs ORT in ${ARGS.rounds} paired rounds: each round runs eigenq_bench ` +
              `(--benchmark_min_time=${ROUND_SECONDS}, wall time) and then ORT for the same time`);
  log("ratio = ORT's median Run time / eigenq's time, per round (> 1: eigenq faster); " +
              "figures: median over rounds (eigenq), over all runs (ORT)");
  log(`${"eigenq".padEnd(36)} ${"us".padStart(9)} ${"GOPS".padStart(6)}   ${"onnxruntime".padEnd(40)} ` +
              `${"us".padStart(9)} ${"GOPS".padStart(6)} ${"ratio".padStart(6)}  rounds`);
  for (const r of rows) {
    const eq = eigenqTimes[r.eigenq];
    const te = stats(eq).time_us;
    const ratios = r.round_us.map((t, i) => t / eq[i]);
    const gops = (t) => (r.gops === undefined ? "" : ((r.gops * r.time_us) / t).toFixed(0));
    r.ratio = stats(ratios).time_us;
    r.ratio_rounds = ratios;
    log(`${r.eigenq.padEnd(36)} ${te.toFixed(1).padStart(9)} ${gops(te).padStart(6)}   ${r.name.padEnd(40)} ` +
                `${r.time_us.toFixed(1).padStart(9)} ${gops(r.time_us).padStart(6)} ${r.ratio.toFixed(2).padStart(6)}  ` +
                ratios.map((x) => x.toFixed(2)).join(" "));
  }
}

// ---------------------------------------------------------------------------

async function main() {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const header = `onnxruntime-node ${ortVersion()} (CPU EP, 1 intra-op thread, sequential, optimization all), ` +
                 `node ${process.version}, ${cpu}, ${ARGS.minTime} s per case and timing`;
  if (!ARGS.json) {
    console.log(header);
    console.log("<name>/onnxruntime/<shape>: ORT's own Run time (profiler, model_run), median per run; " +
                "<name>/onnxruntime-node/<shape>: wall time of `await session.run()` from JavaScript");
  }
  await overheadCase();
  for (const s of [256, 512, 1024]) await gemmCase("gemm_u8s8s32", s, s, s);
  await gemmCase("gemv_u8s8s32", 1, 4096, 4096);
  for (const batch of [1, 256]) await linearCases(batch, 4096, 4096);
  if (dqmmAvailable === true) notes.unshift("com.microsoft DynamicQuantizeMatMul: available, used for linear_dynamic/onnxruntime");
  if (ARGS.json) {
    printRatios(false);
    console.log(JSON.stringify({ context: header, benchmarks: results, notes, eigenq: eigenqTimes }, null, 1));
    return;
  }
  for (const n of notes) console.log(`# ${n}`);
  printRatios();
}

await main();
