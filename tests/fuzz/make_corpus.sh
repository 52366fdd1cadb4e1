#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/ (small valid and near-valid inputs the
# fuzzers mutate from). Needs the eigenq tool and /usr/bin/python3 with numpy.
#   tests/fuzz/make_corpus.sh build/default/examples/cli/eigenq
set -euo pipefail
eigenq=${1:?usage: make_corpus.sh path/to/eigenq}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
npy=${here}/corpus/npy
st=${here}/corpus/safetensors
rm -rf "${npy}" "${st}"
mkdir -p "${npy}" "${st}"
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

/usr/bin/python3 - "${npy}" "${work}" <<'PY'
import json, os, struct, sys
import numpy as np
npy, work = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(1)
def save(name, a, version=(1, 0)):
    with open(os.path.join(npy, name), "wb") as f:
        np.lib.format.write_array(f, a, version=version)
save("f4_c.npy", rng.standard_normal((3, 4)).astype("<f4"))
save("f4_f.npy", np.asfortranarray(rng.standard_normal((3, 4, 2)).astype("<f4")))
save("f2_v2.npy", rng.standard_normal(5).astype("<f2"), (2, 0))
save("i1_v3.npy", np.arange(-3, 3, dtype="<i1").reshape(2, 3), (3, 0))
save("u1.npy", np.arange(7, dtype="<u1"))
save("i2_f.npy", np.asfortranarray(np.arange(12, dtype="<i2").reshape(3, 4)))
save("i4.npy", np.arange(4, dtype="<i4"))
save("f8_scalar.npy", np.array(2.5, dtype="<f8"))
save("empty.npy", np.zeros((0, 3), dtype="<f4"))

def st(path, tensors, meta=None):
    header = {"__metadata__": meta} if meta else {}
    off, blobs = 0, []
    for name, dtype, a in tensors:
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    text = json.dumps(header).encode(); text += b" " * ((8 - len(text) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
st(os.path.join(work, "model.safetensors"),
   [("w", "F32", rng.standard_normal((4, 6)).astype("<f4")), ("b", "F32", rng.standard_normal(4).astype("<f4")),
    ("h", "F16", rng.standard_normal((2, 3)).astype("<f2")), ("ids", "I64", np.arange(3, dtype="<i8"))],
   {"format": "pt"})
st(os.path.join(work, "positive.safetensors"), [("p", "F32", (np.abs(rng.standard_normal((3, 8))) + 0.1).astype("<f4"))])
PY

cp "${work}/model.safetensors" "${st}/plain.safetensors"
q() { "${eigenq}" quantize "$1" "${st}/$2" --quiet "${@:3}"; }
q "${work}/model.safetensors" q_default.safetensors
q "${work}/model.safetensors" q_affine4_group.safetensors --scheme linear-affine --bits 4 --granularity group --group-size 4
q "${work}/model.safetensors" q_sym2.safetensors --bits 2
q "${work}/model.safetensors" q_int16.safetensors --bits 12
q "${work}/model.safetensors" q_seed.safetensors --scheme linear-affine --convention seed
q "${work}/positive.safetensors" q_log.safetensors --scheme log --bits 4
q "${work}/model.safetensors" q_exp.safetensors --scheme exp --bits 5
q "${work}/model.safetensors" q_logsigned.safetensors --scheme log-signed --bits 4
q "${work}/model.safetensors" q_log2.safetensors --scheme log2 --bits 3
q "${work}/model.safetensors" q_codebook.safetensors --scheme codebook --bits 3
ls -l "${npy}" "${st}" | awk '{s += $5} END {print s " bytes of seeds"}'
