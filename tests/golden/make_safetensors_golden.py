#!/usr/bin/python3
# A safetensors file written by an implementation independent of tapeloop's, for
# tests/test_safetensors.cpp: the layout the format allows but tapeloop's writer does not
# produce (entries in the data section in reverse name order, the header neither sorted nor
# padded, JSON with spaces), and values that need care (signed zero, subnormal, infinity, NaN,
# 64-bit integers, a zero-size tensor, a scalar).
#
# Regenerate (plain Python 3, no third-party module):
#     /usr/bin/python3 tests/golden/make_safetensors_golden.py tests/golden/reference.safetensors
#
# Debian 12 packages no `safetensors` Python module, so this writer follows the format's
# specification (https://github.com/huggingface/safetensors, "Format") with struct and json.
import json
import math
import struct
import sys

# name -> (dtype, shape, values); the C++ test spells out the same values.
TENSORS = {
    "embedding.weight": ("F32", [3, 4], [(i - 6) / 4 for i in range(12)]),
    "bias": ("F64", [5], [-0.0, 1e300, 5e-324, -2.5, math.inf]),
    "scale": ("F64", [], [math.pi]),
    "tokens": ("I64", [2, 3], [-1, 0, 1, 2**40, -2**62, 2**63 - 1]),
    "nan": ("F32", [1], [math.nan]),
    "empty": ("F32", [0, 3], []),
}
METADATA = {"format": "pt", "written_by": "make_safetensors_golden.py"}
PACK = {"F32": "<f", "F64": "<d", "I64": "<q"}


def main(path):
    header = {"__metadata__": METADATA}
    data = b""
    for name in sorted(TENSORS, reverse=True):
        dtype, shape, values = TENSORS[name]
        assert math.prod(shape) == len(values)
        raw = b"".join(struct.pack(PACK[dtype], v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
