#!/usr/bin/python3
"""Writes PyTorch reference results for tapeloop's RNN, LSTM and GRU layers.

Regenerate (Debian's python3-torch, not needed to run the tests):
    /usr/bin/python3 tests/golden/make_rnn_golden.py tests/golden

For every case, one safetensors file per dtype (F32, F64) holds the layer's parameters under
PyTorch's names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse), the input
and initial state, the lengths (as floats), the outputs, and the gradients of
    loss = sum(output * dout) + sum(h_n * dh_n) [+ sum(c_n * dc_n)]
with respect to the input, the initial state and every parameter ("grad.<name>"). Outputs past
a sequence's length are zero, as pad_packed_sequence leaves them; h_n/c_n are the states at
each sequence's own end. The safetensors writer is written out here (8-byte little-endian
header length, JSON header, raw little-endian data) so the files come from an implementation
independent of tapeloop's reader.
"""
import json
import os
import struct
import sys

import torch

CASES = [
    # name, mode, layers, bidirectional, batch_first, T, B, I, H, lengths
    ("rnn_tanh_2layer_bidir", "RNN_TANH", 2, True, False, 5, 3, 4, 6, [5, 2, 4]),
    ("rnn_relu_1layer", "RNN_RELU", 1, False, False, 4, 2, 3, 5, None),
    ("lstm_2layer_bidir", "LSTM", 2, True, False, 5, 3, 4, 6, [5, 2, 4]),
    ("lstm_odd_batch_first", "LSTM", 1, False, True, 7, 1, 1, 7, None),
    ("lstm_1layer_lengths", "LSTM", 1, False, False, 6, 4, 3, 5, [6, 1, 3, 6]),
    ("gru_2layer_bidir", "GRU", 2, True, False, 5, 3, 4, 6, [5, 2, 4]),
    ("gru_odd", "GRU", 1, True, True, 3, 2, 5, 3, None),
]


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = {torch.float32: "F32", torch.float64: "F64"}[t.dtype]
        fmt = "<%d%s" % (t.numel(), "f" if t.dtype == torch.float32 else "d")
        data = struct.pack(fmt, *t.flatten().tolist())
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def make_case(case, dtype, seed):
    name, mode, layers, bidir, batch_first, T, B, I, H, lengths = case
    torch.manual_seed(seed)
    cls = {"RNN_TANH": torch.nn.RNN, "RNN_RELU": torch.nn.RNN, "LSTM": torch.nn.LSTM,
           "GRU": torch.nn.GRU}[mode]
    kwargs = dict(num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    if mode.startswith("RNN"):
        kwargs["nonlinearity"] = "tanh" if mode == "RNN_TANH" else "relu"
    layer = cls(I, H, **kwargs).to(dtype)
    D = 2 if bidir else 1
    x = torch.randn(*( (B, T, I) if batch_first else (T, B, I) ), dtype=dtype, requires_grad=True)
    h0 = torch.randn(layers * D, B, H, dtype=dtype, requires_grad=True)
    c0 = torch.randn(layers * D, B, H, dtype=dtype, requires_grad=True)
    state = (h0, c0) if mode == "LSTM" else h0
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out_packed, final = layer(packed, state)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out_packed, batch_first=batch_first, total_length=T)
    else:
        out, final = layer(x, state)
    h_n, c_n = final if mode == "LSTM" else (final, None)
    dout = torch.randn_like(out)
    dh_n = torch.randn_like(h_n)
    loss = (out * dout).sum() + (h_n * dh_n).sum()
    tensors = {"input": x, "h0": h0, "output": out, "h_n": h_n, "dout": dout, "dh_n": dh_n}
    if mode == "LSTM":
        dc_n = torch.randn_like(c_n)
        loss = loss + (c_n * dc_n).sum()
        tensors.update({"c0": c0, "c_n": c_n, "dc_n": dc_n})
    loss.backward()
    tensors["grad.input"] = x.grad
    tensors["grad.h0"] = h0.grad
    if mode == "LSTM":
        tensors["grad.c0"] = c0.grad
    for pname, p in layer.named_parameters():
        tensors[pname] = p
        tensors["grad." + pname] = p.grad
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=dtype)
    metadata = {"mode": mode, "num_layers": str(layers), "bidirectional": str(int(bidir)),
                "batch_first": str(int(batch_first)), "input_size": str(I),
                "hidden_size": str(H), "torch": torch.__version__}
    return {k: v.detach() for k, v in tensors.items()}, metadata


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for index, case in enumerate(CASES):
        for dtype, suffix in ((torch.float32, "f32"), (torch.float64, "f64")):
            tensors, metadata = make_case(case, dtype, seed=1000 + index)
            path = os.path.join(out_dir, "%s.%s.safetensors" % (case[0], suffix))
            write_safetensors(path, tensors, metadata)
            print("wrote", path)


if __name__ == "__main__":
    main()
