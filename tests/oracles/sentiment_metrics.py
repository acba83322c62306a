#!/usr/bin/python3
"""Golden classification metrics for tests/sentiment_test.cpp, from scikit-learn.

Regenerate: /usr/bin/python3 tests/oracles/sentiment_metrics.py > tests/data/sentiment_metrics_golden.json
"""
import json
import random

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

random.seed(7)
labels = [0, 1, 2]  # negative, neutral, positive
cases = []
for n, bias in ((50, 0.6), (200, 0.8), (31, 0.3)):
    truth = [random.choice(labels) for _ in range(n)]
    pred = [t if random.random() < bias else random.choice(labels) for t in truth]
    cases.append((truth, pred))
# A class that is never predicted (zero division -> 0, as sklearn's zero_division=0).
cases.append(([0, 0, 1, 2, 2, 1], [1, 1, 1, 2, 2, 1]))

out = []
for truth, pred in cases:
    p, r, f, _ = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    out.append({
        "truth": truth, "pred": pred,
        "accuracy": accuracy_score(truth, pred),
        "macro_f1": f1_score(truth, pred, labels=labels, average="macro", zero_division=0),
        "precision": list(p), "recall": list(r), "f1": list(f),
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
    })
print(json.dumps(out, indent=1))
