// Backtest throughput (issue 7, must-show 6): bars per second of the
// walk-forward backtest (`pricecast backtest`'s engine and trainer, GBDT) on the
// largest OHLCV series in ../shared/data, retraining every N bars against one
// model for the whole test period. The feature build is timed on its own.
// Skips, saying so, when the shared data are absent.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "backtest/engine.hpp"
#include "data/ohlcv.hpp"
#include "features/features.hpp"
#include "support/paths.hpp"
#include "training/backtest_model.hpp"

namespace {

namespace fs = std::filesystem;
using namespace pricecast;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMinTrain = 4000;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The file with the most valid bars; files the readers do not take are passed over.
std::pair<fs::path, std::vector<Bar>> largest_series(const fs::path& dir) {
    std::pair<fs::path, std::vector<Bar>> best;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        try {
            auto bars = data::read_bar_file(e.path()).bars;
            if (bars.size() > best.second.size()) best = {e.path(), std::move(bars)};
        } catch (const std::exception&) {
        }
    }
    return best;
}

struct Row {
    const char* name;
    std::size_t blocks = 0, predicted = 0;
    double seconds = 0;
};

Row timed_backtest(const char* name, const std::vector<Bar>& bars, const models::Windows& w, const models::RowReturns& r,
                   const models::LabelConfig& labels, const training::ModelFactory& make, std::size_t retrain_every) {
    backtest::EngineConfig cfg;
    cfg.min_train = kMinTrain;
    cfg.retrain_every = retrain_every;
    const auto t0 = Clock::now();
    const auto result = backtest::run(bars, cfg, training::backtest_model(w, r, labels, make));
    return {name, result.blocks.size(), result.predictions.size(), seconds_since(t0)};
}

}  // namespace

int main() {
    const auto dir = test::shared_data() / "ohlcv";
    if (!fs::is_directory(dir)) {
        std::printf("skipped: %s absent (see ../shared/data)\n", dir.string().c_str());
        return 0;
    }
    const auto [file, bars] = largest_series(dir);
    if (bars.size() < 2 * kMinTrain) {
        std::printf("skipped: no series of %zu bars or more under %s\n", 2 * kMinTrain, dir.string().c_str());
        return 0;
    }
    features::FeatureConfig fc;
    if (bars.front().interval != kMinute) fc.timeframes = {format_duration(bars.front().interval)};
    auto t0 = Clock::now();
    const auto rows = features::build(fc, bars, {});
    const double build_s = seconds_since(t0);
    const auto m = features::to_matrix(features::Pipeline(fc).schema(), rows);

    models::LabelConfig labels;
    labels.mode = models::ThresholdMode::quantile;
    // Few rounds, no lags and 5 blocks keep the run near a minute on a busy 2-core machine
    // (XGBoost trains on 2 OpenMP threads, which stall when the cores are shared).
    training::ModelSpec spec;
    spec.lags = 0;
    spec.rounds = 20;
    const auto make = training::model_factory(spec, m.schema_hash);
    const auto w = models::make_windows(m, 1);
    const auto returns = models::row_returns(m, labels);
    const auto sample_bars = training::sample_bars(bars, m, w);

    const std::vector<Row> runs{
        timed_backtest("retrain every 5000 bars", sample_bars, w, returns, labels, make, 5000),
        timed_backtest("one model, no retraining", sample_bars, w, returns, labels, make, sample_bars.size())};
    std::printf("\nWalk-forward backtest of %s: %zu bars (%zu with complete features) x %zu columns, GBDT 20 rounds,\n"
                "first %zu bars of history only trained on; times include training, prediction and trading\n",
                file.filename().string().c_str(), bars.size(), w.rows.size(), m.columns.size(), kMinTrain);
    std::printf("  %-28s %7s %10s %9s %12s\n", "run", "blocks", "predicted", "seconds", "bars/s");
    std::printf("  %-28s %7s %10zu %9.2f %12.0f\n", "feature build (all bars)", "-", bars.size(), build_s,
                static_cast<double>(bars.size()) / build_s);
    for (const auto& r : runs)
        std::printf("  %-28s %7zu %10zu %9.2f %12.0f\n", r.name, r.blocks, r.predicted, r.seconds,
                    static_cast<double>(r.predicted) / r.seconds);
}
