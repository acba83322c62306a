// pricecast train: walk-forward training and evaluation of a model on the
// feature matrix, against the baselines on the same test blocks.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "models/dataset.hpp"
#include "models/xgboost_model.hpp"
#include "registry/registry.hpp"
#include "training/metrics.hpp"
#include "training/splits.hpp"

namespace pricecast::cli {
namespace {

using models::ClassProbs;
using models::Trend;

struct TrainOptions {
    std::string features_file, news, sentiment_model, model = "gbdt", labels = "fixed", out = "model", register_as;
    std::vector<std::string> prices;
    int horizon = 1, folds = 4, lags = 2, rounds = 400;
    double threshold = 0.01, vol_k = 0.5, quantile = 1.0 / 3.0;
    std::uint64_t seed = 1;
};

std::vector<ClassProbs> one_hot(std::span<const Trend> classes) {
    std::vector<ClassProbs> p(classes.size(), ClassProbs{0, 0, 0});
    for (std::size_t i = 0; i < classes.size(); ++i) p[i][static_cast<std::size_t>(classes[i])] = 1;
    return p;
}

Trend majority(std::span<const Trend> labels) {
    std::array<std::size_t, models::kClasses> n{};
    for (auto l : labels) ++n[static_cast<std::size_t>(l)];
    return static_cast<Trend>(std::max_element(n.begin(), n.end()) - n.begin());
}

std::string balance(std::span<const Trend> labels) {
    std::array<std::size_t, models::kClasses> n{};
    for (auto l : labels) ++n[static_cast<std::size_t>(l)];
    const double total = std::max<double>(1, static_cast<double>(labels.size()));
    return fmt::format("DOWN {:.1f}%  STABLE {:.1f}%  UP {:.1f}%", 100 * n[0] / total, 100 * n[1] / total, 100 * n[2] / total);
}

// The bar interval: the most common gap between consecutive rows of a symbol.
Duration bar_interval(const features::FeatureMatrix& m) {
    std::map<std::string, Timestamp> last;
    std::map<Duration, std::size_t> gaps;
    for (std::size_t i = 0; i < m.rows(); ++i) {
        if (auto it = last.find(m.symbols[i]); it != last.end()) ++gaps[m.times[i] - it->second];
        last[m.symbols[i]] = m.times[i];
    }
    if (gaps.empty()) return 0;
    return std::max_element(gaps.begin(), gaps.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
}

models::XgboostConfig model_config(const TrainOptions& o, const features::FeatureMatrix& m) {
    models::XgboostConfig c;
    c.random_forest = o.model == "rf";
    c.rounds = o.rounds;
    c.seed = o.seed;
    c.steps = static_cast<std::size_t>(o.lags) + 1;
    c.feature_schema_hash = m.schema_hash;
    return c;
}

void train(TrainOptions& o, CommonOptions& common) {
    if (o.features_file.empty() == o.prices.empty()) throw UsageError("give either --features FILE or --prices FILE");
    features::FeatureMatrix m;
    if (!o.features_file.empty()) {
        try {
            m = features::read_binary(o.features_file);
        } catch (const std::runtime_error& e) {
            throw UsageError(e.what());
        }
    } else {
        m = feature_matrix_from_files(common, o.prices, o.news, o.sentiment_model);
    }
    models::LabelConfig lc;
    lc.horizon = o.horizon;
    lc.mode = *models::parse_threshold_mode(o.labels);
    lc.threshold = o.threshold;
    lc.vol_k = o.vol_k;
    lc.quantile = o.quantile;
    const auto returns = models::row_returns(m, lc);
    const auto windows = models::make_windows(m, static_cast<std::size_t>(o.lags) + 1);
    std::cerr << fmt::format("{} rows x {} features, {} complete windows of {} bars\n", m.rows(), m.columns.size(),
                             windows.rows.size(), o.lags + 1);

    training::WalkForwardConfig wf;
    wf.folds = o.folds;
    wf.purge = bar_interval(m) * o.horizon;
    std::vector<training::Split> splits;
    try {
        splits = training::walk_forward(windows.set.times, wf);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string(e.what()) + " (need more complete rows, or fewer --walk-forward folds)");
    }

    std::vector<Trend> truth, majority_pred, persistence_pred;
    std::vector<ClassProbs> model_probs;
    nlohmann::json folds = nlohmann::json::array();
    std::unique_ptr<models::XgboostModel> model;
    models::Labeler labeler(lc);
    for (std::size_t k = 0; k < splits.size(); ++k) {
        const auto& s = splits[k];
        std::vector<std::size_t> train_rows;
        for (auto i : s.train) train_rows.push_back(windows.rows[i]);
        labeler = models::Labeler(lc);
        labeler.fit(returns, train_rows);
        const auto train = models::select(windows, s.train, labeler, returns);
        const auto valid = models::select(windows, s.valid, labeler, returns);
        const auto test = models::select(windows, s.test, labeler, returns);
        if (train.size() == 0 || test.size() == 0) throw UsageError(fmt::format("fold {}: no labeled samples", k + 1));
        std::cerr << fmt::format("fold {}/{}: train {} ({}), valid {}, test {} [{} .. {})\n", k + 1, splits.size(),
                                 train.size(), balance(train.labels), valid.size(), test.size(),
                                 format_iso8601(s.test_from), format_iso8601(s.test_to));
        model = std::make_unique<models::XgboostModel>(model_config(o, m));
        model->fit(train, valid, {});
        const auto probs = model->predict_proba(test);
        const auto fold_metrics = training::evaluate(test.labels, probs);
        const Trend maj = majority(train.labels);
        const auto maj_metrics = training::evaluate(test.labels, one_hot(std::vector<Trend>(test.size(), maj)));
        const auto per_metrics = training::evaluate(test.labels, one_hot(test.last_realized));
        std::cerr << fmt::format("  {}: accuracy {:.4f} macro-F1 {:.4f} | majority {:.4f} | persistence {:.4f}\n",
                                 o.model, fold_metrics.accuracy, fold_metrics.macro_f1, maj_metrics.accuracy,
                                 per_metrics.accuracy);
        folds.push_back({{"fold", k + 1}, {"test_from", format_iso8601(s.test_from)}, {"test_to", format_iso8601(s.test_to)},
                         {"train", train.size()}, {"test", test.size()}, {"model", fold_metrics.to_json()},
                         {"majority", maj_metrics.to_json()}, {"persistence", per_metrics.to_json()}});
        truth.insert(truth.end(), test.labels.begin(), test.labels.end());
        model_probs.insert(model_probs.end(), probs.begin(), probs.end());
        majority_pred.insert(majority_pred.end(), test.size(), maj);
        persistence_pred.insert(persistence_pred.end(), test.last_realized.begin(), test.last_realized.end());
    }
    const auto overall = training::evaluate(truth, model_probs);
    const auto maj = training::evaluate(truth, one_hot(majority_pred));
    const auto per = training::evaluate(truth, one_hot(persistence_pred));
    std::cout << fmt::format("out of sample, {} test bars over {} folds (class balance {}):\n", truth.size(), splits.size(),
                             balance(truth));
    std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}  balanced {:.4f}  log loss {:.4f}\n", o.model,
                             overall.accuracy, overall.macro_f1, overall.balanced_accuracy, overall.log_loss);
    std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}\n", "majority", maj.accuracy, maj.macro_f1);
    std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}\n", "persistence", per.accuracy, per.macro_f1);

    // The model of the last fold (trained on the most data) is the one kept.
    const std::filesystem::path out(o.out);
    model->save(out);
    nlohmann::json report{{"model", o.model},         {"labels", labeler.to_json()},   {"walk_forward", {{"folds", o.folds}}},
                          {"rows", m.rows()},         {"features", m.columns.size()}, {"schema_hash", fmt::format("{:016x}", m.schema_hash)},
                          {"overall", {{"model", overall.to_json()}, {"majority", maj.to_json()}, {"persistence", per.to_json()}}},
                          {"folds", folds}};
    std::ofstream(out / "report.json") << report.dump(2) << "\n";
    std::cerr << fmt::format("wrote {} (model of the last fold) and {}\n", out.string(), (out / "report.json").string());

    if (!o.register_as.empty()) {
        registry::Registry reg(common.data_dir());
        registry::NewVersion meta;
        meta.metrics = {{"accuracy", overall.accuracy}, {"macro_f1", overall.macro_f1}, {"log_loss", overall.log_loss}};
        meta.params = report["labels"];
        meta.eval_window = fmt::format("{}..{}", format_iso8601(splits.front().test_from), format_iso8601(splits.back().test_to));
        meta.data_from = m.times.front();
        meta.data_to = m.times.back();
        const auto v = registry::register_model(reg, o.register_as, *model, meta);
        std::cout << fmt::format("registered {} version {}\n", o.register_as, v.version);
    }
}

}  // namespace

void add_train_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "train",
        "train a model walk-forward on the feature matrix and report it against the majority and persistence "
        "baselines on the same test blocks.\n"
        "Example: pricecast train --prices eth-5m.json --model gbdt --labels quantile --walk-forward 4 --out eth-gbdt");
    static TrainOptions o;
    static CommonOptions common;
    cmd->add_option("--features", o.features_file, "feature matrix from `pricecast features build` (binary)");
    cmd->add_option("--prices", o.prices, "OHLCV files (the features are built on the fly)");
    cmd->add_option("--news", o.news, "news file for the sentiment features (with --prices)");
    cmd->add_option("--sentiment-model", o.sentiment_model, "classifier artifact that scores unscored news");
    cmd->add_option("--model", o.model, "model kind")->check(CLI::IsMember({"gbdt", "rf"}))->capture_default_str();
    cmd->add_option("--horizon", o.horizon, "bars ahead of the label")->check(CLI::Range(1, 1000))->capture_default_str();
    cmd->add_option("--labels", o.labels, "threshold: fixed (--threshold), volatility (--vol-k x rolling std), quantile "
                                          "(balanced on the training split)")
        ->check(CLI::IsMember({"fixed", "volatility", "quantile"}))
        ->capture_default_str();
    cmd->add_option("--threshold", o.threshold, "fixed threshold on the return")->capture_default_str();
    cmd->add_option("--vol-k", o.vol_k, "volatility threshold multiple")->capture_default_str();
    cmd->add_option("--quantile", o.quantile, "quantile labels: share of DOWN (and of UP) in training")
        ->check(CLI::Range(0.01, 0.49))
        ->capture_default_str();
    cmd->add_option("--lags", o.lags, "earlier vectors a tree sees besides the last")->check(CLI::Range(0, 60))->capture_default_str();
    cmd->add_option("--walk-forward", o.folds, "test blocks")->check(CLI::Range(1, 50))->capture_default_str();
    cmd->add_option("--rounds", o.rounds, "boosting rounds at most (early stopping on the validation tail)")->capture_default_str();
    cmd->add_option("--seed", o.seed, "random seed")->capture_default_str();
    cmd->add_option("--out", o.out, "folder for the model and report.json")->capture_default_str();
    cmd->add_option("--register", o.register_as, "register the model under this name in the registry (--data-dir)");
    add_common_options(*cmd, common);
    cmd->callback([] { train(o, common); });
}

}  // namespace pricecast::cli
