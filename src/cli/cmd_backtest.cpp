// pricecast backtest: the walk-forward backtest of a model kind over price
// files (and news), retrained every N bars with the trainer of `pricecast train`,
// traded next to buy-and-hold, majority and persistence.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "backtest/engine.hpp"
#include "backtest/report.hpp"
#include "cli/commands.hpp"
#include "cli/label_flags.hpp"
#include "core/progress.hpp"
#include "data/ohlcv.hpp"
#include "models/dataset.hpp"
#include "training/backtest_model.hpp"
#include "training/trainer.hpp"

namespace pricecast::cli {
namespace {

namespace fs = std::filesystem;

struct BacktestOptions {
    std::vector<std::string> prices;
    std::string news, sentiment_model, mode = "long-flat", out, export_models;
    training::ModelSpec spec;
    int retrain_every = 60, min_train = 300;
    double fee_bps = 0, slippage_bps = 0;
    LabelFlags label;
};

void check_inputs(const BacktestOptions& o) {
    for (const auto& p : o.prices)
        if (!fs::is_regular_file(p)) throw UsageError(fmt::format("--prices: {}: no such file", p));
    if (!o.news.empty() && !fs::is_regular_file(o.news))
        throw UsageError(fmt::format("--news: {}: no such file", o.news));
    // Fail before hours of training, not after.
    std::error_code ec;
    fs::create_directories(o.out, ec);
    const auto probe = fs::path(o.out) / ".pricecast-write-test";
    if (ec || !std::ofstream(probe)) throw UsageError(fmt::format("--out: {}: cannot write there", o.out));
    fs::remove(probe, ec);
}

std::vector<Bar> read_bars(const std::vector<std::string>& files) {
    std::vector<Bar> bars;
    for (const auto& f : files) {
        auto file = data::read_bar_file(f);
        bars.insert(bars.end(), file.bars.begin(), file.bars.end());
    }
    return bars;
}

// Saves each block's model under --export-models when asked; shows progress
// (on a terminal only, so a log or pipe gets no run-together lines).
training::BlockTrained on_trained(const BacktestOptions& o, std::unique_ptr<Progress>& progress) {
    return [&o, &progress](const backtest::BlockRows& b, const training::TrainedModel& t) {
        if (!o.export_models.empty()) {
            const auto dir = fs::path(o.export_models) / fmt::format("block-{}", b.index + 1);
            fs::create_directories(dir);
            t.model->save(dir);
        }
        if (!progress) progress = std::make_unique<Progress>("backtest", b.count, "blocks");
        progress->update(b.index + 1, fmt::format("trained on {} + {} validation samples", t.train.size(),
                                                  t.valid.size()));
    };
}

backtest::EngineConfig engine_config(const BacktestOptions& o, Duration interval) {
    backtest::EngineConfig c;
    c.min_train = static_cast<std::size_t>(o.min_train);
    c.retrain_every = static_cast<std::size_t>(o.retrain_every);
    c.horizon = static_cast<std::size_t>(o.label.horizon);
    c.trading.short_on_down = o.mode == "long-short";
    c.trading.fee_bps = o.fee_bps;
    c.trading.slippage_bps = o.slippage_bps;
    if (interval > 0) c.trading.bars_per_year = 365.25 * 24 * 3600 * 1e9 / static_cast<double>(interval);
    return c;
}

void print_summary(const backtest::Result& r, const std::string& model) {
    std::cout << fmt::format("{} predictions in {} blocks, {} labeled: accuracy {:.4f}  macro-F1 {:.4f} | majority "
                             "{:.4f} | persistence {:.4f}\n",
                             r.predictions.size(), r.blocks.size(),
                             r.report.support[0] + r.report.support[1] + r.report.support[2], r.report.accuracy,
                             r.report.macro_f1, backtest::accuracy(r.majority_confusion),
                             backtest::accuracy(r.persistence_confusion));
    for (const auto& s : r.trading)
        for (const auto& run : s.runs)
            std::cout << fmt::format("  {:<10} {:<12} return {:+.4f}  Sharpe {:6.2f}  max drawdown {:.4f}  hit rate "
                                     "{:.3f}  turnover {:.0f}\n",
                                     s.symbol, run.name == "model" ? model : run.name, run.result.total_return,
                                     run.result.sharpe, run.result.max_drawdown, run.result.hit_rate, run.result.turnover);
}

void run_backtest(const BacktestOptions& o, CommonOptions& common) {
    check_inputs(o);
    const auto m = feature_matrix_from_files(common, o.prices, o.news, o.sentiment_model);
    const auto windows = models::make_windows(m, training::model_factory(o.spec, m.schema_hash)()->steps());
    if (windows.rows.empty()) throw UsageError("--prices: no bar has a complete feature window (more history needed)");
    const auto bars = training::sample_bars(read_bars(o.prices), m, windows);
    const auto labels = label_config(o.label);
    const auto returns = models::row_returns(m, labels);
    std::unique_ptr<Progress> progress;
    const auto model = training::backtest_model(windows, returns, labels, training::model_factory(o.spec, m.schema_hash),
                                                on_trained(o, progress));
    backtest::Result r;
    try {
        r = backtest::run(bars, engine_config(o, training::bar_interval(m)), model);
    } catch (const backtest::BacktestError& e) {
        throw UsageError(fmt::format("--prices/--min-train/--retrain-every: {} ({} bars have complete features)",
                                     e.what(), bars.size()));
    } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("{} (more history: --min-train)", e.what()));
    }
    if (progress) progress->finish();
    try {
        backtest::write_report(o.out, r);
    } catch (const backtest::BacktestError& e) {
        throw UsageError(e.what());
    }
    print_summary(r, o.spec.kind);
    const double labeled = r.report.support[0] + r.report.support[1] + r.report.support[2];
    if (labeled > 0) {
        std::array<double, models::kClasses> share{};
        for (std::size_t c = 0; c < share.size(); ++c) share[c] = r.report.support[c] / labeled;
        std::cerr << one_class_warning(share, o.label);
    }
    std::cerr << fmt::format("wrote {}/report.json, report.html and predictions.csv\n", o.out);
}

}  // namespace

void add_backtest_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "backtest",
        "walk-forward backtest: retrain the model every N bars on the bars before them (purged by the label horizon, "
        "with the trainer of `pricecast train`), predict the next N, and trade the signals (fills at the next bar's "
        "open) against buy-and-hold, majority and persistence. Writes report.json, report.html and predictions.csv.\n"
        "Example: pricecast backtest --prices btc-1m.csv --model gbdt --retrain-every 60 --out bt");
    static BacktestOptions o;
    static CommonOptions common;
    cmd->add_option("--prices", o.prices, "OHLCV files of the base timeframe, one symbol each (repeatable)")->required();
    cmd->add_option("--news", o.news,
                    "news file for the sentiment features: JSON lines or CSV, fields in README.md, \"News and labeled "
                    "sentences\"");
    cmd->add_option("--sentiment-model", o.sentiment_model, "classifier artifact that scores unscored news");
    cmd->add_option("--model", o.spec.kind,
                    "gbdt, rf (XGBoost), lstm (LSTM + attention) or ensemble (of --members)")
        ->check(CLI::IsMember(training::kLearntKinds))
        ->capture_default_str();
    cmd->add_option("--members", o.spec.members, "ensemble members")
        ->delimiter(',')
        ->check(CLI::IsMember(training::kMemberKinds))
        ->capture_default_str();
    cmd->add_option("--retrain-every", o.retrain_every, "bars per block: a new model is trained before each block")
        ->check(CLI::Range(1, 100'000'000))
        ->capture_default_str();
    cmd->add_option("--min-train", o.min_train, "bars (with complete features) of history before the first block")
        ->check(CLI::Range(1, 100'000'000))
        ->capture_default_str();
    add_label_options(*cmd, o.label, "bars ahead of the label (also the purge before each block)",
                      "each block's training bars");
    cmd->add_option("--lags", o.spec.lags, "trees: earlier vectors seen besides the last")
        ->check(CLI::Range(0, 60))
        ->capture_default_str();
    cmd->add_option("--rounds", o.spec.rounds, "trees: boosting rounds at most (early stopping on the validation tail)")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    cmd->add_option("--steps", o.spec.steps, "lstm: sequence length in bars")->check(CLI::Range(1, 1000))->capture_default_str();
    cmd->add_option("--epochs", o.spec.epochs, "lstm: epochs at most")->check(CLI::Range(1, 100'000))->capture_default_str();
    cmd->add_option("--threads", o.spec.threads,
                    "CPU threads the model trains with, and the LSTM predicts a batch with; 0 = the kind's default "
                    "(trees 2, lstm 1)")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
    cmd->add_option("--seed", o.spec.seed, "random seed")->capture_default_str();
    cmd->add_option("--mode", o.mode, "long-flat: DOWN goes flat; long-short: DOWN goes short (UP is long, STABLE holds)")
        ->check(CLI::IsMember({"long-flat", "long-short"}))
        ->capture_default_str();
    cmd->add_option("--fee-bps", o.fee_bps, "fee per unit of position change, basis points")
        ->check(CLI::Range(0.0, 10000.0))
        ->capture_default_str();
    cmd->add_option("--slippage-bps", o.slippage_bps, "slippage per unit of position change, basis points")
        ->check(CLI::Range(0.0, 10000.0))
        ->capture_default_str();
    cmd->add_option("--out", o.out, "folder for report.json, report.html and predictions.csv")->required();
    cmd->add_option("--export-models", o.export_models, "also save each block's model as DIR/block-K (K from 1)");
    add_common_options(*cmd, common);
    cmd->callback([] { run_backtest(o, common); });
}

}  // namespace pricecast::cli
