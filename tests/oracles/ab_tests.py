#!/usr/bin/python3
"""Golden A/B test results for tests/monitor_ab_test.cpp, from scipy and scikit-learn.

Builds logged prediction cases (seeded, so the file is reproducible), and for each
the per-arm metrics on resolved predictions, the paired McNemar test (shadow: the
same bars; exact binomial below 25 discordant pairs, else chi-square with continuity
correction) or the pooled two-proportion z-test (split), and the verdict.
Also bare test statistics for (b, c) and (x1, n1, x2, n2) inputs.
Regenerate: /usr/bin/python3 tests/oracles/ab_tests.py > tests/data/monitor/ab_golden.json
"""
import json
import math
import random

import numpy as np
from scipy.stats import binomtest, chi2, norm
from sklearn.metrics import f1_score, log_loss

EXACT_BELOW = 25


def mcnemar(b, c):
    n = b + c
    if n == 0:
        return {"b": b, "c": c, "exact": True, "statistic": None, "p_value": 1.0}
    if n < EXACT_BELOW:
        return {"b": b, "c": c, "exact": True, "statistic": None,
                "p_value": binomtest(min(b, c), n, 0.5, alternative="two-sided").pvalue}
    stat = (abs(b - c) - 1) ** 2 / n
    return {"b": b, "c": c, "exact": False, "statistic": stat, "p_value": chi2.sf(stat, 1)}


def ztest(x1, n1, x2, n2):
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return {"z": 0.0, "p_value": 1.0}
    z = (x2 / n2 - x1 / n1) / se
    return {"z": z, "p_value": 2 * norm.sf(abs(z))}


def probs_for(rng, cls):
    p = [rng.uniform(0.05, 0.3) for _ in range(3)]
    p[cls] = rng.uniform(0.45, 0.9)
    s = sum(p)
    return [round(x / s, 6) for x in p]


def arm_metrics(rows):
    y = [r["outcome"] for r in rows]
    pred = [r["cls"] for r in rows]
    probs = np.array([r["probs"] for r in rows], dtype=np.float32).astype(np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return {"n": len(rows),
            "accuracy": sum(a == b for a, b in zip(y, pred)) / len(rows),
            "macro_f1": f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0),
            "log_loss": log_loss(y, probs, labels=[0, 1, 2])}


def verdict(p, better, alpha):
    if p >= alpha:
        return "no_significant_difference"
    return "challenger_better" if better else "challenger_worse"


def prediction(rng, slot, version, symbol, bar, cls, outcome):
    return {"slot": slot, "version": version, "symbol": symbol, "bar": bar, "cls": cls,
            "probs": probs_for(rng, cls), "outcome": outcome}


def compact(case):
    """One prediction a line: [slot, version, symbol, bar, class, p_down, p_stable, p_up, outcome or null]."""
    case["predictions"] = [[p["slot"], p["version"], p["symbol"], p["bar"], p["cls"], *p["probs"], p["outcome"]]
                           for p in case["predictions"]]
    return case


def wrong(rng, outcome):
    return rng.choice([k for k in range(3) if k != outcome])


def shadow_case(name, seed, bars, p_champion, p_challenger, alpha=0.05, identical=False):
    rng = random.Random(seed)
    preds = []
    for i in range(bars):
        symbol = ["AAA", "BBB"][i % 2]
        outcome = rng.randrange(3)
        champ = outcome if rng.random() < p_champion else wrong(rng, outcome)
        chall = champ if identical else (outcome if rng.random() < p_challenger else wrong(rng, outcome))
        a = prediction(rng, "champion", 1, symbol, i // 2, champ, outcome)
        b = dict(a, slot="challenger", version=2) if identical else \
            prediction(rng, "challenger", 2, symbol, i // 2, chall, outcome)
        preds += [a, b]
    # A pending pair and a challenger bar the champion did not predict: neither is paired.
    preds.append(prediction(rng, "champion", 1, "AAA", bars, 1, None))
    preds.append(prediction(rng, "challenger", 2, "AAA", bars, 1, None))
    preds.append(prediction(rng, "challenger", 2, "CCC", 0, 2, 2))
    champ_rows = [p for p in preds if p["slot"] == "champion" and p["outcome"] is not None]
    chall_rows = [p for p in preds if p["slot"] == "challenger" and p["outcome"] is not None
                  and p["symbol"] != "CCC"]
    b = sum(1 for x, y in zip(champ_rows, chall_rows) if x["cls"] == x["outcome"] and y["cls"] != y["outcome"])
    c = sum(1 for x, y in zip(champ_rows, chall_rows) if x["cls"] != x["outcome"] and y["cls"] == y["outcome"])
    test = mcnemar(b, c)
    return {"name": name, "alpha": alpha, "predictions": preds,
            "expected": {"mode": "shadow", "pairs": len(champ_rows),
                         "champion": arm_metrics(champ_rows), "challenger": arm_metrics(chall_rows),
                         "mcnemar": test, "p_value": test["p_value"],
                         "verdict": verdict(test["p_value"], c > b, alpha)}}


def split_case(name, seed, champion_bars, challenger_bars, p_champion, p_challenger, alpha=0.05):
    rng = random.Random(seed)
    preds = []
    for slot, version, bars, p_right, symbols in (("champion", 3, champion_bars, p_champion, ["AAA", "BBB", "CCC"]),
                                                  ("challenger", 4, challenger_bars, p_challenger, ["XXX", "YYY"])):
        for i in range(bars):
            outcome = rng.randrange(3)
            cls = outcome if rng.random() < p_right else wrong(rng, outcome)
            preds.append(prediction(rng, slot, version, symbols[i % len(symbols)], i // len(symbols), cls, outcome))
    champ = [p for p in preds if p["slot"] == "champion"]
    chall = [p for p in preds if p["slot"] == "challenger"]
    x1 = sum(p["cls"] == p["outcome"] for p in champ)
    x2 = sum(p["cls"] == p["outcome"] for p in chall)
    test = ztest(x1, len(champ), x2, len(chall))
    return {"name": name, "alpha": alpha, "predictions": preds,
            "expected": {"mode": "split", "pairs": 0,
                         "champion": arm_metrics(champ), "challenger": arm_metrics(chall),
                         "z_test": test, "p_value": test["p_value"],
                         "verdict": verdict(test["p_value"], x2 / len(chall) > x1 / len(champ), alpha)}}


golden = {
    "generated_by": "tests/oracles/ab_tests.py (scipy binomtest, chi2.sf, norm.sf; sklearn f1_score, log_loss)",
    "mcnemar": [mcnemar(b, c) for b, c in [(0, 0), (0, 1), (2, 9), (9, 2), (5, 5), (3, 21), (12, 13),
                                           (30, 60), (60, 30), (100, 100), (400, 460), (0, 40)]],
    "z_test": [dict(ztest(*x), x1=x[0], n1=x[1], x2=x[2], n2=x[3])
               for x in [(45, 100, 60, 100), (60, 100, 45, 100), (500, 1000, 520, 1000), (1, 1, 0, 1),
                         (0, 10, 0, 20), (10, 10, 20, 20), (130, 300, 110, 200)]],
    "cases": [compact(c) for c in [
        shadow_case("shadow_better", 1, 400, 0.45, 0.60),
        shadow_case("shadow_small_exact", 2, 24, 0.40, 0.70),
        shadow_case("shadow_worse", 3, 300, 0.60, 0.42),
        shadow_case("shadow_same_quality", 4, 200, 0.50, 0.50),
        shadow_case("shadow_identical", 5, 100, 0.50, 0.50, identical=True),
        split_case("split_better", 6, 400, 300, 0.35, 0.50),
        split_case("split_no_difference", 7, 300, 200, 0.45, 0.47),
        split_case("split_strict_alpha", 11, 400, 300, 0.40, 0.50, alpha=0.001)]],
}
# Indented, but one prediction a line.
text = json.dumps(golden, indent=1)
for case in golden["cases"]:
    for p in case["predictions"]:
        text = text.replace(json.dumps(p, indent=1).replace("\n", "\n" + " " * 4), json.dumps(p), 1)
print(text)
