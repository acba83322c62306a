#!/usr/bin/python3
"""The original design's per-bar pipeline, re-created for bench/live_bench.cpp:
on every bar, the last 100 bars go into a pandas DataFrame, the indicators are
recomputed over it (SMA 5/20, EMA 12/26, MACD 12/26/9, RSI 14, Bollinger 20/2),
and the last 60 rows go through the LSTM-attention network (python3-torch,
tests/oracles/lstm_oracle.py) with the weights the C++ model exported, one
thread. The network's input width is the C++ pipeline's: the indicator columns
are repeated to fill it (the values do not change the forward's cost).

Each symbol has its own window. Prints JSON: bars per second and per-bar
latency over each symbol's bars from its TIMED_FROM-th on; the bars before
only fill their symbol's window (their output would not be measured).

usage: /usr/bin/python3 bench/live_reference.py DIR TIMED_FROM
  DIR holds index.json + weights.bin (LstmAttentionModel::export_parameters) and
  bars.csv (symbol,close_time,open,high,low,close,volume), in close-time order
"""
import collections
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracles"))
from lstm_oracle import Net  # noqa: E402

WINDOW = 100


def indicators(df):
    close = df["close"]
    out = pd.DataFrame(index=df.index)
    out["close"] = close
    out["volume"] = df["volume"]
    out["returns"] = close.pct_change()
    out["sma_5"] = close.rolling(5).mean()
    out["sma_20"] = close.rolling(20).mean()
    out["ema_12"] = close.ewm(span=12, adjust=False).mean()
    out["ema_26"] = close.ewm(span=26, adjust=False).mean()
    out["macd"] = out["ema_12"] - out["ema_26"]
    out["macd_signal"] = out["macd"].ewm(span=9, adjust=False).mean()
    out["macd_hist"] = out["macd"] - out["macd_signal"]
    delta = close.diff()
    gain = delta.clip(lower=0).rolling(14).mean()
    loss = (-delta.clip(upper=0)).rolling(14).mean()
    out["rsi_14"] = 100 - 100 / (1 + gain / loss)
    mid = close.rolling(20).mean()
    std = close.rolling(20).std()
    out["bb_upper"] = mid + 2 * std
    out["bb_middle"] = mid
    out["bb_lower"] = mid - 2 * std
    return out


def load_net(d):
    index = json.load(open(f"{d}/index.json"))
    cfg = index["config"]
    flat = np.fromfile(f"{d}/weights.bin", dtype=np.float32)
    net = Net(cfg)
    net.load_state_dict({p["name"]: torch.from_numpy(flat[p["offset"]:p["offset"] + int(np.prod(p["shape"]))]
                                                     .reshape(p["shape"]).copy()) for p in index["parameters"]},
                        strict=True)
    net.eval()
    return net, cfg


def main(d, timed_from):
    torch.set_num_threads(1)
    net, cfg = load_net(d)
    steps, width = cfg["steps"], cfg["width"]
    bars = pd.read_csv(f"{d}/bars.csv").to_dict("records")
    windows = collections.defaultdict(lambda: collections.deque(maxlen=WINDOW))
    seen = collections.Counter()
    latencies, indicator_s, forward_s = [], 0.0, 0.0
    start = None
    with torch.no_grad():
        for bar in bars:
            symbol = bar.pop("symbol")
            window = windows[symbol]
            seen[symbol] += 1
            if seen[symbol] <= timed_from:
                window.append(bar)
                continue
            if start is None:
                start = time.perf_counter()
            t0 = time.perf_counter()
            window.append(bar)
            feats = indicators(pd.DataFrame(list(window))).dropna()
            t1 = time.perf_counter()
            if len(feats) >= steps:
                x = np.resize(feats.values[-steps:].astype(np.float32).T, (width, steps)).T
                torch.softmax(net(torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(0)), dim=1)
            t2 = time.perf_counter()
            latencies.append(t2 - t0)
            indicator_s += t1 - t0
            forward_s += t2 - t1
    seconds = time.perf_counter() - start
    n = len(latencies)
    ms = np.array(latencies) * 1e3
    print(json.dumps({
        "bars": n,
        "bars_per_second": n / seconds,
        "p50_ms": float(np.quantile(ms, 0.5)),
        "p99_ms": float(np.quantile(ms, 0.99)),
        "indicators_ms": indicator_s / n * 1e3,
        "forward_ms": forward_s / n * 1e3,
    }))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
