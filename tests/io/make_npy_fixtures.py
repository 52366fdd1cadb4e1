#!/usr/bin/env python3
"""Writes the .npy fixtures in tests/io/data/ with numpy's own writer.

Run with Debian's python3 (numpy 1.24): /usr/bin/python3 tests/io/make_npy_fixtures.py
CI only reads the committed files. Every array holds, at C-order flat index k,

    value(k) = (k * 7) % 23 - 11        for integer dtypes (fits int8; uint8 adds 11)
    value(k) = ((k * 7) % 23 - 11) / 4  for float dtypes (exact in float16)

which io/npy_test.cpp recomputes, so the test checks numpy's bytes, header, order and
version handling against values nobody typed in. File names:
    <dtype>_<shape>_<order>_v<major>.npy     e.g. f4_3x4x5_F_v1.npy
"""
import os
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def values(shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    k = np.arange(n, dtype=np.int64)
    v = (k * 7) % 23 - 11
    if np.dtype(dtype).kind == "f":
        return (v.astype(np.float64) / 4).astype(dtype).reshape(shape)
    if np.dtype(dtype).kind == "u":
        v = v + 11
    return v.astype(dtype).reshape(shape)


def write(name, array, version):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def shape_name(shape):
    return "x".join(str(d) for d in shape) if shape else "scalar"


def main():
    os.makedirs(HERE, exist_ok=True)
    for old in os.listdir(HERE):
        if old.endswith(".npy"):
            os.remove(os.path.join(HERE, old))
    # Every dtype the reader must handle, C and Fortran order, format 1.0.
    for code in ["f2", "f4", "f8", "i1", "u1", "i2", "i4"]:
        for order in ["C", "F"]:
            a = values((3, 4, 5), "<" + code)
            a = np.asfortranarray(a) if order == "F" else np.ascontiguousarray(a)
            write(f"{code}_3x4x5_{order}_v1.npy", a, (1, 0))
    # Format versions 2.0 and 3.0 (numpy writes them on request).
    for version in [(2, 0), (3, 0)]:
        write(f"f4_2x3_C_v{version[0]}.npy", values((2, 3), "<f4"), version)
        write(f"i2_2x3_F_v{version[0]}.npy", np.asfortranarray(values((2, 3), "<i2")), version)
    # Rank 0, rank 1, an empty array, a matrix.
    write("f8_scalar_C_v1.npy", values((), "<f8"), (1, 0))
    write("i4_7_C_v1.npy", values((7,), "<i4"), (1, 0))
    write("f4_0x3_C_v1.npy", values((0, 3), "<f4"), (1, 0))
    write("f4_4x6_F_v1.npy", np.asfortranarray(values((4, 6), "<f4")), (1, 0))


if __name__ == "__main__":
    main()
