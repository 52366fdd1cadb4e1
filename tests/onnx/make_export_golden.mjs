#!/usr/bin/env node
// Golden file for eigenq's ONNX export (tests/onnx/export_test.cpp, rewrite_test.cpp, lm_test.cpp): ONNX Runtime's outputs
// for the models eigenq exported.
//
// The models come from the C++ test itself, so ORT runs exactly the bytes eigenq writes:
//   EIGENQ_ONNX_EXPORT_DIR=/tmp/onnx_export build/<preset>/tests/onnx/onnx_tests \
//       --gtest_filter='*.WritesFilesForTheGoldenScript'
//   node tests/onnx/make_export_golden.mjs --models /tmp/onnx_export --ort-dir <dir with node_modules>
// writes tests/onnx/export_onnxruntime.txt: per model, the FNV-1a (64 bits) of the model's bytes
// and of the inputs, the output's shape and ORT's outputs as float32 bit patterns. The C++ test
// exports the models again, checks both fingerprints and compares eigenq's forward() with
// these outputs. CI runs neither node nor ORT; it reads the committed file.
//
// onnxruntime-node is installed outside the repository:
//   mkdir -p /tmp/ortgen && cd /tmp/ortgen && npm init -y \
//     && npm install --ignore-scripts onnxruntime-node@1.30.0

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT_NAME = "export_onnxruntime.txt";
const FEATURES = 64;

function parseArgs(argv) {
  const args = { ortDir: process.cwd(), outDir: HERE, models: null };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--ort-dir") args.ortDir = argv[++i];
    else if (a === "--outdir") args.outDir = argv[++i];
    else if (a === "--models") args.models = argv[++i];
    else {
      console.error("usage: node make_export_golden.mjs --models DIR [--ort-dir DIR] [--outdir DIR]");
      process.exit(2);
    }
  }
  if (!args.models) {
    console.error("--models DIR is required (the folder the C++ test wrote with EIGENQ_ONNX_EXPORT_DIR)");
    process.exit(2);
  }
  return args;
}

const ARGS = parseArgs(process.argv.slice(2));
const requireFromOrt = createRequire(path.join(path.resolve(ARGS.ortDir), "noop.js"));
let ort;
try {
  ort = requireFromOrt("onnxruntime-node");
} catch (e) {
  console.error(`cannot load onnxruntime-node from ${path.resolve(ARGS.ortDir)}: ${e.message}`);
  process.exit(2);
}
const ORT_VERSION = JSON.parse(
  fs.readFileSync(path.join(path.dirname(requireFromOrt.resolve("onnxruntime-node")), "..", "package.json"), "utf8"),
).version;

// FNV-1a, 64 bits, 16 hex digits (as onnx_models.hpp's fnv1a).
function fnv1a(u8) {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (const b of u8) {
    h ^= BigInt(b);
    h = (h * prime) & mask;
  }
  return h.toString(16).padStart(16, "0");
}

function hex(f32) {
  const u32 = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
  return Array.from(u32, (v) => v.toString(16).padStart(8, "0"));
}

async function main() {
  const inputBytes = fs.readFileSync(path.join(ARGS.models, "inputs.f32"));
  const input = new Float32Array(inputBytes.buffer.slice(inputBytes.byteOffset, inputBytes.byteOffset + inputBytes.length));
  const rows = input.length / FEATURES;
  const inputFnv = fnv1a(new Uint8Array(inputBytes));
  const names = fs.readdirSync(ARGS.models).filter((f) => f.endsWith(".onnx")).sort();
  const lines = [
    "# eigenq golden file: ONNX Runtime's outputs for the models eigenq exports (tests/onnx/export_test.cpp)",
    "# generator: tests/onnx/make_export_golden.mjs (run with node; do not edit by hand)",
    `# reference: onnxruntime-node ${ORT_VERSION} (npm), CPU execution provider, intraOpNumThreads 1,`,
    "#            session.qdq_matmulnbits_accuracy_level 1 (the rest ORT's defaults); default_session_difference:",
    "#            the largest |difference| ORT's plain defaults make, over the largest |output|",
    `#            node ${process.version}, ${os.platform()} ${os.arch()}`,
    "# model_fnv1a / input_fnv1a: FNV-1a (64 bits) of the exported model's bytes and of the float32 inputs",
    `# inputs: ${rows} rows of ${FEATURES} (16 digits images / 16, 8 uniform rows, zeros, tiny values, tiny values >= 0), row-major;`,
    "#         lm_* cases: the 40 bytes of lm_bytes.bin (examples/lm/data/heldout.txt's first), their logits' rows 'rows'",
    "# floats are IEEE-754 binary32 bit patterns in hex; vectors are '<key> <count> <values...>'",
    `# cases: ${names.length}`,
    "",
  ];
  // ORT's default optimizations (level "all") fuse a weight's DequantizeLinear and its MatMul
  // into MatMulNBits with accuracy_level 4 (int8 activations per block), which is not the
  // graph's arithmetic; session.qdq_matmulnbits_accuracy_level 1 keeps that fusion in float.
  // The difference ORT's plain defaults make is recorded per case (default_session_difference).
  const plain = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1 };
  const options = { ...plain, extra: { session: { qdq_matmulnbits_accuracy_level: "1" } } };
  // The language model's cases (lm_*.onnx): input "bytes" int64 [t] from lm_bytes.bin, output
  // "logits" [t, 256], of which the rows LM_ROWS are kept.
  const lmBytes = new Uint8Array(fs.readFileSync(path.join(ARGS.models, "lm_bytes.bin")));
  const lmInput = BigInt64Array.from(lmBytes, (b) => BigInt(b));
  const LM_ROWS = [0, 13, 26, 39];
  for (const file of names) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(ARGS.models, file)));
    const name = file.replace(/\.onnx$/, "");
    const lm = name.startsWith("lm_");
    const feeds = lm ? { bytes: new ort.Tensor("int64", lmInput, [lmInput.length]) }
                     : { input: new ort.Tensor("float32", input, [rows, FEATURES]) };
    const outName = lm ? "logits" : "output";
    const session = await ort.InferenceSession.create(bytes, options);
    const y = (await session.run(feeds))[outName];
    const defaults = (await (await ort.InferenceSession.create(bytes, plain)).run(feeds))[outName].data;
    let maxDiff = 0;
    let maxOut = 0;
    for (let i = 0; i < y.data.length; ++i) {
      maxDiff = Math.max(maxDiff, Math.abs(defaults[i] - y.data[i]));
      maxOut = Math.max(maxOut, Math.abs(y.data[i]));
    }
    const head = [`case ${name}`, "kind onnx_export", `model_fnv1a ${fnv1a(bytes)}`, `model_bytes ${bytes.length}`,
                  `input_fnv1a ${lm ? fnv1a(lmBytes) : inputFnv}`,
                  `default_session_difference ${(maxDiff / maxOut).toExponential(3)}`, `shape 2 ${y.dims.join(" ")}`];
    if (lm) {
      const cols = y.dims[1];
      const kept = new Float32Array(LM_ROWS.length * cols);
      LM_ROWS.forEach((r, i) => kept.set(y.data.subarray(r * cols, (r + 1) * cols), i * cols));
      lines.push(...head, `rows ${LM_ROWS.length} ${LM_ROWS.join(" ")}`, `output ${kept.length} ${hex(kept).join(" ")}`, "end", "");
    } else {
      lines.push(...head, `output ${y.data.length} ${hex(y.data).join(" ")}`, "end", "");
    }
    console.log(`${name}: ${bytes.length} bytes, output ${y.dims.join("x")}, default session differs by ${(maxDiff / maxOut).toExponential(3)}`);
  }
  const outPath = path.join(ARGS.outDir, OUT_NAME);
  fs.writeFileSync(outPath, lines.join("\n"));
  console.log(`onnxruntime-node ${ORT_VERSION}: wrote ${outPath}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
