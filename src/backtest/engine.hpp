#pragma once

// The walk-forward backtest (issue 7): history is cut into blocks of
// `retrain_every` bars; for each block a model is trained on the bars before it
// (purged by the label horizon) and predicts the block; the predictions are
// scored against the realized labels and traded next to buy-and-hold, the
// majority class and persistence.
//
// The engine knows nothing of models: the caller trains and predicts through
// a BlockModel callback (pricecast backtest supplies the same trainer and models
// as pricecast train), so this library stays free of libtorch and XGBoost.
//
//   backtest::EngineConfig cfg{.min_train = 300, .retrain_every = 60, .horizon = 1};
//   const auto result = backtest::run(bars_of_samples, cfg, [&](const backtest::BlockRows& b) {
//       return train_and_predict(b);  // one BlockOutput row per b.predict row
//   });
//   backtest::write_report("out", result);

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "backtest/backtest.hpp"
#include "core/time.hpp"

namespace pricecast::backtest {

using Probs = std::array<float, 3>;  // DOWN, STABLE, UP
inline constexpr int kUnknown = -1;   // a label whose horizon runs past the data

// Backtest rows of one block, each list in time order. A row is one sample:
// one bar of one symbol that has a complete feature window.
struct BlockRows {
    std::size_t index = 0;
    std::size_t count = 0;  // blocks in the whole run
    std::vector<std::size_t> train, valid, predict;
};

// One entry per `predict` row: the model's probabilities, the realized class
// (kUnknown when the horizon runs past the data) and the baselines' classes.
struct BlockOutput {
    std::vector<Probs> probs;
    std::vector<int> actual, majority, persistence;
};
using BlockModel = std::function<BlockOutput(const BlockRows&)>;

struct EngineConfig {
    std::size_t min_train = 300;     // bars of history before the first block
    std::size_t retrain_every = 60;  // bars per block
    std::size_t horizon = 1;         // label horizon in bars: the purge before each block and its validation tail
    double valid_fraction = 0.2;     // tail of each training window used for early stopping
    TradingConfig trading;
};

struct RowPrediction {
    std::string symbol;
    Timestamp time = 0;
    std::size_t block = 0;
    Probs probs{};
    int cls = 0, actual = kUnknown, majority = 0, persistence = 0;
};

// Per block (period): the training it had and how it scored on its labeled rows.
struct BlockSummary {
    std::size_t index = 0, train = 0, valid = 0, predicted = 0, labeled = 0;
    Timestamp from = 0, to = 0;  // first and last predicted bar
    double accuracy = 0, majority_accuracy = 0, persistence_accuracy = 0;
};

struct ClassReport {
    std::array<double, 3> precision{}, recall{}, f1{};
    std::array<long, 3> support{};
    double accuracy = 0, macro_f1 = 0;
};
ClassReport class_report(const ConfusionMatrix& m);

struct SymbolTrading {
    std::string symbol;
    Timestamp from = 0, to = 0;  // first and last traded bar
    std::vector<NamedRun> runs;  // model, buy_and_hold, majority, persistence
};

struct CalibrationBin {
    double confidence = 0, accuracy = 0;  // mean top-class probability and share correct
    long count = 0;
};

struct Result {
    EngineConfig config;
    std::vector<RowPrediction> predictions;  // in time order
    std::vector<BlockSummary> blocks;
    ConfusionMatrix confusion{}, majority_confusion{}, persistence_confusion{};
    ClassReport report;
    std::vector<SymbolTrading> trading;
    std::vector<double> rolling_accuracy;  // over the last `rolling_window` labeled predictions
    std::size_t rolling_window = 0;
    std::vector<CalibrationBin> calibration;  // 10 bins of the top-class probability
};

// `bars[i]` is the bar of row i, rows in time order. Blocks are counted in bars
// of the time line (distinct close times). Throws BacktestError naming the
// parameter when there is too little history for one block, or when the
// callback's output does not match the rows it was given.
Result run(const std::vector<Bar>& bars, const EngineConfig& config, const BlockModel& model);

}  // namespace pricecast::backtest
