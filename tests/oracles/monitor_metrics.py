#!/usr/bin/python3
"""Golden rolling metrics for tests/monitor_metrics_test.cpp, from scikit-learn and numpy.

Reads tests/data/monitor/stream.json, resolves outcomes on its own (the close `horizon`
bars of the symbol later, counted in bars across a gap, fixed threshold, as the trainer's
labels) and
scores each case's window.
Regenerate: /usr/bin/python3 tests/oracles/monitor_metrics.py > tests/data/monitor/metrics_golden.json
"""
import json
import math
import os

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_recall_fscore_support

HERE = os.path.dirname(os.path.abspath(__file__))
stream = json.load(open(os.path.join(HERE, "..", "data", "monitor", "stream.json")))
horizon, threshold = stream["rule"]["horizon"], stream["rule"]["threshold"]
closes = {(s, i): c for s, i, c in stream["bars"]}
MINUTES = {"24h": 24 * 60, "4m": 4}


def outcome(symbol, i, close):
    later = sorted(j for s, j in closes if s == symbol and j > i)
    if len(later) < horizon:
        return None
    ret = closes[(symbol, later[horizon - 1])] / close - 1
    return 2 if ret > threshold else 0 if ret < -threshold else 1


rows = []
for symbol, i, cls, probs in stream["predictions"]:
    p = np.array(probs, dtype=np.float32).astype(np.float64)  # the log stores float probabilities
    rows.append((symbol, i, cls, p, outcome(symbol, i, closes[(symbol, i)])))
end = max(i for _, i, _, _, _ in rows)


def score(case):
    lo = end - MINUTES[case["window"]]
    mine = [r for r in rows if lo < r[1] <= end and case["symbol"] in ("", r[0])]
    done = [r for r in mine if r[4] is not None]
    y = [r[4] for r in done]
    pred = [r[2] for r in done]
    probs = np.array([r[3] for r in done])
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    onehot = np.eye(3)[y]
    conf = probs.max(axis=1)
    bins = []
    for b in range(10):
        sel = [k for k in range(len(done)) if min(9, int(math.floor(conf[k] * 10))) == b]
        bins.append({"count": len(sel),
                     "mean_confidence": float(np.mean(conf[sel])) if sel else None,
                     "accuracy": float(np.mean([y[k] == pred[k] for k in sel])) if sel else None})
    ece = sum(b["count"] / len(done) * abs(b["accuracy"] - b["mean_confidence"]) for b in bins if b["count"])
    mix = [sum(r[2] == k for r in mine) / len(mine) for k in range(3)]
    return {**case, "predictions": len(mine), "resolved": len(done),
            "accuracy": accuracy_score(y, pred),
            "macro_f1": f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0),
            "log_loss": log_loss(y, probs, labels=[0, 1, 2]),
            "brier": float(np.mean(np.sum((probs - onehot) ** 2, axis=1))),
            "ece": ece,
            "precision": prec.tolist(), "recall": rec.tolist(), "f1": f1.tolist(),
            "support": support.tolist(), "class_mix": mix, "reliability": bins}


print(json.dumps({"oracle": "scikit-learn " + __import__("sklearn").__version__ + ", numpy",
                  "cases": [score(c) for c in stream["cases"]]}, indent=1))
