#!/usr/bin/python3
"""python3-torch side of bench/lstm_bench.cpp: the same architecture
(tests/oracles/lstm_oracle.py) with the weights the C++ model exported, timed on
the same shapes with one thread. Prints JSON: CPU seconds per call, best of N
(the statistic the C++ side reports too).

usage: /usr/bin/python3 bench/lstm_reference.py WEIGHTS_DIR
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracles"))
from lstm_oracle import Net  # noqa: E402


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main(d):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    index = json.load(open(f"{d}/index.json"))
    cfg = index["config"]
    flat = np.fromfile(f"{d}/weights.bin", dtype=np.float32)
    net = Net(cfg)
    net.load_state_dict({p["name"]: torch.from_numpy(flat[p["offset"]:p["offset"] + int(np.prod(p["shape"]))]
                                                     .reshape(p["shape"]).copy()) for p in index["parameters"]})
    steps, width = cfg["steps"], cfg["width"]
    x1, x256, x1000 = (torch.randn(b, steps, width) for b in (1, 256, 1000))
    net.eval()
    out = {}
    with torch.no_grad():
        out["forward_b1"] = best_of(lambda: net(x1), 50)
        out["forward_b256"] = best_of(lambda: net(x256), 5)
        out["forward_b1000"] = best_of(lambda: net(x1000), 3)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    xb, yb = torch.randn(640, steps, width), torch.randint(0, 3, (640,))

    def epoch():  # ten steps of batch 64, as the C++ side runs them
        for i in range(0, 640, 64):
            opt.zero_grad()
            loss = loss_fn(net(xb[i:i + 64]), yb[i:i + 64])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
    out["train_step_b64"] = best_of(epoch, 2) / 10
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
