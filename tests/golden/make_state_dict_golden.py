#!/usr/bin/python3
"""Writes a PyTorch model's state_dict as safetensors, for tapeloop to load with no renaming.

Regenerate (Debian's python3-torch, not needed to run the tests):
    /usr/bin/python3 tests/golden/make_state_dict_golden.py tests/golden

char_model_state_dict.safetensors: the state_dict() of a PyTorch character model built like
tapeloop's models::CharModel (attributes embedding, lstm, readout: nn.Embedding(11, 5),
nn.LSTM(5, 7, num_layers=2), nn.Linear(7, 11)), saved exactly as PyTorch names it
("embedding.weight", "lstm.weight_ih_l0", ..., "readout.bias"), F32.

char_model_logits.safetensors: the ids [T=6, B=3] (I64) fed to that model and its logits
[T*B, 11] (F32), the reference the test compares tapeloop's forward pass with.

The safetensors writer is written out here, independent of tapeloop's reader (8-byte
little-endian header length, JSON header, raw little-endian data).
"""
import json
import os
import struct
import sys

import torch
from torch import nn

VOCABULARY, EMBEDDING, HIDDEN, LAYERS, STEPS, BATCH = 11, 5, 7, 2, 6, 3


class CharModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, EMBEDDING)
        self.lstm = nn.LSTM(EMBEDDING, HIDDEN, num_layers=LAYERS)
        self.readout = nn.Linear(HIDDEN, VOCABULARY)

    def forward(self, ids):  # ids [T, B], time-major
        output, _ = self.lstm(self.embedding(ids))
        return self.readout(output).reshape(STEPS * BATCH, VOCABULARY)


def write_safetensors(path, tensors):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        dtype, code = {torch.float32: ("F32", "f"), torch.int64: ("I64", "q")}[t.dtype]
        data = struct.pack("<%d%s" % (t.numel(), code), *t.flatten().tolist())
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(11)
    model = CharModel()
    ids = torch.randint(0, VOCABULARY, (STEPS, BATCH))
    with torch.no_grad():
        logits = model(ids)
    write_safetensors(os.path.join(out, "char_model_state_dict.safetensors"), model.state_dict())
    write_safetensors(os.path.join(out, "char_model_logits.safetensors"),
                      {"ids": ids, "logits": logits})
    print("state_dict keys:", list(model.state_dict()))


if __name__ == "__main__":
    main()
