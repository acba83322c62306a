// pricecast train: walk-forward training and evaluation of a model on the
// feature matrix, against the baselines on the same test blocks.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/label_flags.hpp"
#include "core/progress.hpp"
#include "models/dataset.hpp"
#include "models/lstm.hpp"
#include "registry/registry.hpp"
#include "training/retrain.hpp"
#include "training/trainer.hpp"

namespace pricecast::cli {
namespace {

struct TrainOptions {
    std::string features_file, news, sentiment_model, model = "gbdt", out = "model", register_as;
    bool volatility_baseline = false;
    std::vector<std::string> prices, members = {"gbdt", "rf"};
    int folds = 4, lags = 2, rounds = 400, steps = 60, epochs = 200, threads = 0;
    LabelFlags label;
    std::uint64_t seed = 1;
};

// Price files that gave no feature row: said here, before the trainer reports
// too few sample times. (A base timeframe other than the bars' interval is
// refused earlier, by the feature build.)
features::FeatureMatrix matrix_of_prices(CommonOptions& common, const std::vector<std::string>& prices,
                                         const std::string& news, const std::string& sentiment_model) {
    auto m = feature_matrix_from_files(common, prices, news, sentiment_model);
    if (m.rows() == 0) throw UsageError("--prices: no feature rows from these files");
    return m;
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
        m = matrix_of_prices(common, o.prices, o.news, o.sentiment_model);
    }
    const models::LabelConfig lc = label_config(o.label);
    training::WalkForwardConfig wf;
    wf.folds = o.folds;
    const auto make = training::model_factory(
        {.kind = o.model, .members = o.members, .lags = o.lags, .rounds = o.rounds, .steps = o.steps, .epochs = o.epochs,
         .threads = o.threads, .seed = o.seed},
        m.schema_hash);
    std::cerr << fmt::format("{} rows x {} features; {} walk-forward folds\n", m.rows(), m.columns.size(), o.folds);
    // Epochs (or boosting rounds) of the current fold, with an ETA, on a terminal only.
    std::unique_ptr<Progress> bar;
    models::ProgressFn progress = [&](const models::TrainingProgress& p) {
        if (p.step == 1) bar = std::make_unique<Progress>(o.model == "lstm" ? "epoch" : "round", p.total_steps);
        bar->update(p.step, fmt::format("train {:.4f} valid {:.4f} acc {:.3f} lr {:.1e}", p.train_loss, p.valid_loss,
                                        p.valid_accuracy, p.learning_rate));
    };
    training::WalkForwardResult r;
    try {
        r = training::walk_forward_train(
            m, lc, wf, make,
            [&](std::size_t k, std::size_t n, const training::FoldResult& f) {
                if (bar) bar->finish();
                bar.reset();
                std::cerr << fmt::format("fold {}/{} [{} .. {}): train {} ({}), valid {}, test {}\n", k + 1, n,
                                         format_iso8601(f.test_from), format_iso8601(f.test_to), f.train,
                                         class_balance(f.train_balance), f.valid, f.test);
                std::cerr << fmt::format("  {}: accuracy {:.4f} macro-F1 {:.4f} | majority {:.4f} | persistence {:.4f}\n",
                                         o.model, f.model.accuracy, f.model.macro_f1, f.majority.accuracy,
                                         f.persistence.accuracy);
            },
            progress);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string(e.what()) + " (need more complete rows, or fewer --walk-forward folds)");
    }
    std::cout << fmt::format("out of sample, {} test bars over {} folds (class balance {}):\n", r.model.n, r.folds.size(),
                             class_balance(r.test_balance));
    std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}  balanced {:.4f}  log loss {:.4f}  "
                             "sign accuracy {:.4f} on {} called moves\n",
                             o.model, r.model.accuracy, r.model.macro_f1, r.model.balanced_accuracy, r.model.log_loss,
                             r.model.sign_accuracy, r.model.sign_n);
    std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}\n", "majority", r.majority.accuracy, r.majority.macro_f1);
    std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}\n", "persistence", r.persistence.accuracy,
                             r.persistence.macro_f1);
    std::cerr << one_class_warning(r.test_balance, o.label);
    const auto& ci = r.intervals;
    std::cout << fmt::format("  95% block-bootstrap intervals: accuracy [{:.4f}, {:.4f}], macro-F1 [{:.4f}, {:.4f}],\n"
                             "  accuracy - majority [{:+.4f}, {:+.4f}], accuracy - persistence [{:+.4f}, {:+.4f}]\n",
                             ci.accuracy.low, ci.accuracy.high, ci.macro_f1.low, ci.macro_f1.high, ci.minus_majority.low,
                             ci.minus_majority.high, ci.minus_persistence.low, ci.minus_persistence.high);

    nlohmann::json vol_json;
    if (o.volatility_baseline) {
        // The same model kind, walk-forward, on sign-free inputs only: what it gains
        // over majority is "calm vs busy", not direction.
        const auto v = training::walk_forward_train(training::volatility_only(m), lc, wf, make);
        std::cout << fmt::format("  {:<12} accuracy {:.4f}  macro-F1 {:.4f}  95% [{:.4f}, {:.4f}]  (same model, sign-free "
                                 "inputs only)\n",
                                 "volatility", v.model.accuracy, v.model.macro_f1, v.intervals.accuracy.low,
                                 v.intervals.accuracy.high);
        vol_json = v.model.to_json();
        vol_json["accuracy_interval"] = {v.intervals.accuracy.low, v.intervals.accuracy.high};
    }

    // The model of the last fold (trained on the most data) is the one kept.
    const std::filesystem::path out(o.out);
    r.last_model->save(out);
    auto report = r.to_json();
    report["model"] = o.model;
    report["rows"] = m.rows();
    report["features"] = m.columns.size();
    report["schema_hash"] = fmt::format("{:016x}", m.schema_hash);
    if (!vol_json.is_null()) report["overall"]["volatility_only"] = vol_json;
    std::ofstream(out / "report.json") << report.dump(2) << "\n";
    std::cerr << fmt::format("wrote {} (model of the last fold) and {}\n", out.string(), (out / "report.json").string());

    if (!o.register_as.empty()) {
        registry::Registry reg(common.data_dir());
        const auto v = training::register_trained(reg, o.register_as, r, m,
                                                  common.config().duration("monitor.short_window"));
        std::cout << fmt::format("registered {} version {} (with its drift reference)\n", o.register_as, v.version);
    }
}

// Scores a saved model on other data with the labels (and fitted thresholds)
// it was trained with.
void evaluate(const std::string& model_dir, const std::string& features_file, const std::vector<std::string>& prices,
              const std::string& news, CommonOptions& common) {
    std::unique_ptr<models::Model> model;
    nlohmann::json report;
    try {
        model = models::load_model(model_dir);
        std::ifstream f(std::filesystem::path(model_dir) / "report.json");
        if (!f) throw std::runtime_error(model_dir + "/report.json: cannot open (written by `pricecast train`)");
        report = nlohmann::json::parse(f);
    } catch (const models::LstmModuleError&) {
        throw;  // the installation's problem (exit 1), not the folder given
    } catch (const std::exception& e) {
        throw UsageError(e.what());
    }
    if (features_file.empty() == prices.empty()) throw UsageError("give either --features FILE or --prices FILE");
    features::FeatureMatrix m;
    try {
        m = features_file.empty() ? matrix_of_prices(common, prices, news, "") : features::read_binary(features_file);
    } catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
    if (model->feature_schema_hash() != m.schema_hash)
        throw UsageError(fmt::format("the model was trained on feature schema {:016x}, these features are schema {:016x} "
                                     "(same timeframes, indicators and windows needed; see `pricecast features schema`)",
                                     model->feature_schema_hash(), m.schema_hash));
    const auto labeler = models::Labeler::from_json(report.at("labels"));
    const auto returns = models::row_returns(m, labeler.config());
    const auto windows = models::make_windows(m, model->steps());
    std::vector<std::size_t> all(windows.rows.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    const auto set = models::select(windows, all, labeler, returns);
    if (set.size() == 0) throw UsageError("no labeled samples in these data");
    const auto r = training::evaluate(set.labels, model->predict_proba(set));
    std::vector<models::ClassProbs> persistence(set.size(), models::ClassProbs{0, 0, 0});
    for (std::size_t i = 0; i < set.size(); ++i) persistence[i][static_cast<std::size_t>(set.last_realized[i])] = 1;
    const auto p = training::evaluate(set.labels, persistence);
    std::cout << fmt::format("{} ({}) on {} bars: accuracy {:.4f}  macro-F1 {:.4f}  log loss {:.4f}  sign accuracy {:.4f}\n",
                             model_dir, model->kind(), r.n, r.accuracy, r.macro_f1, r.log_loss, r.sign_accuracy);
    std::cout << fmt::format("persistence on the same bars: accuracy {:.4f}  macro-F1 {:.4f}\n", p.accuracy, p.macro_f1);
    std::cout << r.to_json().dump(2) << "\n";
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
    cmd->add_option("--news", o.news,
                    "news file for the sentiment features (with --prices): JSON lines or CSV, fields in README.md, "
                    "\"News and labeled sentences\"");
    cmd->add_option("--sentiment-model", o.sentiment_model, "classifier artifact that scores unscored news");
    cmd->add_option("--model", o.model,
                    "gbdt, rf (XGBoost), lstm (LSTM + attention, libtorch) or ensemble (of --members, weights fit on "
                    "the validation tail), or a baseline: majority (training class shares) or persistence (repeat the last "
                    "realized class)")
        ->check(CLI::IsMember([] {
            auto kinds = training::kLearntKinds;
            kinds.insert(kinds.end(), training::kBaselineKinds.begin(), training::kBaselineKinds.end());
            return kinds;
        }()))
        ->capture_default_str();
    cmd->add_option("--members", o.members, "ensemble members")
        ->delimiter(',')
        ->check(CLI::IsMember(training::kMemberKinds))
        ->capture_default_str();
    cmd->add_option("--steps", o.steps, "lstm: sequence length in bars")->check(CLI::Range(1, 1000))->capture_default_str();
    cmd->add_option("--epochs", o.epochs, "lstm: epochs at most (early stopping on the validation tail)")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    cmd->add_option("--threads", o.threads,
                    "CPU threads the model trains with, and the LSTM predicts a batch with (saved with it); 0 = the "
                    "kind's default (trees 2, lstm 1)")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
    add_label_options(*cmd, o.label, "bars ahead of the label", "the training split");
    cmd->add_option("--lags", o.lags, "earlier vectors a tree sees besides the last")->check(CLI::Range(0, 60))->capture_default_str();
    cmd->add_option("--walk-forward", o.folds, "test blocks")->check(CLI::Range(1, 50))->capture_default_str();
    cmd->add_option("--rounds", o.rounds, "boosting rounds at most (early stopping on the validation tail)")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    cmd->add_option("--seed", o.seed, "random seed")->capture_default_str();
    cmd->add_flag("--volatility-baseline", o.volatility_baseline,
                  "also train the same model on sign-free inputs only (volatility, ranges, volume ratio, |return|): "
                  "skill beyond it is directional");
    cmd->add_option("--out", o.out, "folder for the model and report.json")->capture_default_str();
    cmd->add_option("--register", o.register_as, "register the model under this name in the registry (--data-dir)");
    add_common_options(*cmd, common);
    cmd->callback([] { train(o, common); });

    auto* ev = app.add_subcommand(
        "evaluate", "score a model saved by `pricecast train` on other data, with the labels it was trained with; "
                    "refuses features of another schema");
    static std::string model_dir, ev_features, ev_news;
    static std::vector<std::string> ev_prices;
    static CommonOptions ev_common;
    ev->add_option("--model", model_dir, "model folder written by `pricecast train --out`")->required();
    ev->add_option("--features", ev_features, "feature matrix from `pricecast features build` (binary)");
    ev->add_option("--prices", ev_prices, "OHLCV files (the features are built on the fly)");
    ev->add_option("--news", ev_news,
                   "news file for the sentiment features (with --prices): JSON lines or CSV, fields in README.md, "
                   "\"News and labeled sentences\"");
    add_common_options(*ev, ev_common);
    ev->callback([] { evaluate(model_dir, ev_features, ev_prices, ev_news, ev_common); });
}

}  // namespace pricecast::cli
