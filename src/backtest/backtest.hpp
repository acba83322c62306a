#pragma once

// Trading simulation of class signals (issue 7, backtester). Signals are in
// class order DOWN=0, STABLE=1, UP=2 like pricecast::Prediction::cls.

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace pricecast::backtest {

class BacktestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TradingConfig {
    bool short_on_down = false;  // false: DOWN goes flat
    double fee_bps = 0;
    double slippage_bps = 0;
    double bars_per_year = 525600;  // 1m bars
};

struct TradingResult {
    // equity[k] is marked at bar k's open; the last point at the last close.
    std::vector<double> equity;
    std::vector<double> positions;  // position held from bar k's open
    double total_return = 0;
    double sharpe = 0;
    double max_drawdown = 0;  // fraction of the running peak
    double hit_rate = 0;      // share of bars in the market that made money
    double turnover = 0;      // sum of |position change|
};

struct NamedRun {
    std::string name;  // "model", "buy_and_hold", "majority", "persistence"
    TradingResult result;
};

// The signal of bar i is acted on at bar i+1's open, never inside bar i;
// STABLE keeps the current position. Throws BacktestError naming the field
// when sizes or prices are invalid.
TradingResult simulate(const std::vector<Bar>& bars, const std::vector<int>& signals,
                       const TradingConfig& config);

// Always-UP signals: buy-and-hold through the same simulator.
std::vector<int> buy_and_hold_signals(std::size_t n);

// Persistence baseline: bar i predicts the direction of its own move.
std::vector<int> persistence_signals(const std::vector<Bar>& bars, double threshold);

// One retrain block of the walk-forward: a model fitted on rows
// [0, train_end) predicts rows [begin, end). The label of row i is known at
// row i + horizon, so train_end = begin - horizon (purge = horizon rows) and
// no label the model saw is from the future of any row it predicts.
struct Block {
    std::size_t train_end = 0, begin = 0, end = 0;
};

// Expanding-window blocks over `rows`, retraining every `retrain_every` rows
// once `min_train` labelled rows exist. Throws BacktestError naming the
// parameter when there is nothing to predict.
std::vector<Block> walk_forward_blocks(std::size_t rows, std::size_t min_train, std::size_t retrain_every,
                                       std::size_t horizon);

using ConfusionMatrix = std::array<std::array<long, 3>, 3>;  // [actual][predicted]

ConfusionMatrix confusion(const std::vector<int>& actual, const std::vector<int>& predicted);
double accuracy(const ConfusionMatrix& m);

}  // namespace pricecast::backtest
