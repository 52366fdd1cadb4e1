#!/usr/bin/python3
"""Writes COUNT float32 tensors of ROWS x COLS, Gaussian * SCALE (seed 0), as a safetensors file
named PATH, the tensors named NAME with {i} the tensor's index. Used by the throughput scripts;
it streams the tensors, so files larger than memory are fine.

  write_f32_safetensors.py PATH COUNT ROWS COLS NAME SCALE
"""
import json
import struct
import sys

import numpy as np

path, count, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
name, scale = sys.argv[5], float(sys.argv[6])
nbytes = rows * cols * 4
header = {"__metadata__": {"format": "pt"}}
for i in range(count):
    header[name.format(i=i)] = {"dtype": "F32", "shape": [rows, cols],
                                "data_offsets": [i * nbytes, (i + 1) * nbytes]}
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
rng = np.random.default_rng(0)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for i in range(count):
        values = rng.standard_normal(rows * cols, dtype=np.float32)
        if scale != 1.0:
            values *= np.float32(scale)
        values.tofile(f)
