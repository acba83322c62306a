#!/usr/bin/python3
"""The LSTM + multi-head attention architecture in python3-torch, for the parity
test in tests/models_lstm_test.cpp: loads the parameters the C++ model exported
(index.json + weights.bin, PyTorch's parameter names), runs input.bin and prints
the class probabilities as JSON.

usage: /usr/bin/python3 tests/oracles/lstm_oracle.py DIR
"""
import json
import sys

import numpy as np
import torch


class Net(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lstm = torch.nn.LSTM(c["width"], c["hidden"], num_layers=c["layers"], dropout=c["dropout"],
                                  batch_first=True)
        self.attn = torch.nn.MultiheadAttention(c["hidden"], c["heads"])  # [L, B, E], as in the C++ model
        self.fc1 = torch.nn.Linear(c["hidden"], c["head_hidden"])
        self.drop = torch.nn.Dropout(c["head_dropout"])
        self.fc2 = torch.nn.Linear(c["head_hidden"], 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        seq = out.transpose(0, 1)
        attended, _ = self.attn(seq, seq, seq)
        return self.fc2(self.drop(torch.relu(self.fc1(attended[-1]))))


def main(d):
    index = json.load(open(f"{d}/index.json"))
    cfg = index["config"]
    flat = np.fromfile(f"{d}/weights.bin", dtype=np.float32)
    state = {}
    for p in index["parameters"]:
        n = int(np.prod(p["shape"]))
        state[p["name"]] = torch.from_numpy(flat[p["offset"]:p["offset"] + n].reshape(p["shape"]).copy())
    net = Net(cfg)
    net.load_state_dict(state, strict=True)  # every name and shape must match
    net.eval()
    x = np.fromfile(f"{d}/input.bin", dtype=np.float32).reshape(-1, cfg["steps"], cfg["width"])
    with torch.no_grad():
        probs = torch.softmax(net(torch.from_numpy(x)), dim=1)
    print(json.dumps(probs.tolist()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1])
