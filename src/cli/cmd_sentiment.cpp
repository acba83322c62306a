// pricecast sentiment score | train | eval
#include <algorithm>
#include <array>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "sentiment/sentiment.hpp"

namespace pricecast::cli {

std::unique_ptr<sentiment::SentimentScorer> make_sentiment_scorer(const std::string& model_flag, CommonOptions& common) {
    const auto model = model_flag.empty() ? common.config().string("sentiment.model") : model_flag;
    const auto dir = common.config().string("sentiment.lexicon_dir");
    try {
        if (model.empty())
            return std::make_unique<sentiment::LexiconScorer>(
                sentiment::LexiconScorer::load(dir.empty() ? sentiment::LexiconScorer::default_dir() : std::filesystem::path(dir)));
        return std::make_unique<sentiment::LogisticScorer>(sentiment::LogisticScorer::load(model));
    } catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
}

namespace {

namespace st = pricecast::sentiment;

std::vector<st::LabeledText> read_data(const std::string& path) {
    try {
        return st::read_labeled(path);
    } catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
}

// --folds: 0 (no cross-validation) or 2 and more.
CLI::Validator folds_check() { return CLI::Range(2, 1000) | CLI::IsMember({0}); }

// Stratified folds deal each label's sentences round-robin: every fold gets a
// test sentence (and training the rest) only when some label has at least
// `folds` sentences.
void check_folds(const std::vector<st::LabeledText>& rows, int folds, const std::string& file) {
    std::array<std::size_t, st::kLabels> per_label{};
    for (const auto& r : rows) ++per_label[static_cast<std::size_t>(r.label)];
    const auto most = *std::max_element(per_label.begin(), per_label.end());
    if (most >= static_cast<std::size_t>(folds)) return;
    throw UsageError(fmt::format("--folds {}: {}-fold cross-validation needs at least {} sentences of one label, and "
                                 "{} has at most {} ({} sentences in all); {}",
                                 folds, folds, folds, file, most, rows.size(),
                                 most >= 2 ? fmt::format("give --folds {} or fewer, or --folds 0 to skip it", most)
                                           : std::string("give --folds 0 to skip it")));
}

void score(const std::vector<std::string>& texts, const std::string& model, CommonOptions& common, bool json) {
    const auto scorer = make_sentiment_scorer(model, common);
    for (const auto& t : texts) {
        if (auto problem = st::check_text(t)) throw UsageError("text: " + *problem);
        const auto s = scorer->score(t);
        if (json) {
            std::cout << nlohmann::json{{"text", t}, {"score", s.score}, {"label", st::to_string(s.label)},
                                        {"confidence", s.confidence}, {"scorer", scorer->name()}}
                             .dump()
                      << "\n";
        } else {
            std::cout << fmt::format("{:+.3f}  {:<8}  confidence {:.2f}  {}\n", s.score, st::to_string(s.label),
                                     s.confidence, t);
        }
    }
}

void print(const st::EvalReport& r, bool json, const std::string& title) {
    if (json) {
        std::cout << r.to_json().dump(2) << "\n";
    } else {
        std::cout << title << "\n" << r.to_text();
    }
}

}  // namespace

void add_sentiment_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("sentiment", "score news text, train and evaluate the sentiment classifier");
    cmd->require_subcommand(1);
    static CommonOptions common;
    static std::string model;
    static bool json = false;

    auto* sc = cmd->add_subcommand("score", "score texts: score in [-1, 1], label, confidence (lexicon unless --model)");
    static std::vector<std::string> texts;
    sc->add_option("text", texts, "one or more texts")->required();
    sc->add_option("--model", model, "a classifier artifact from `sentiment train` (default: sentiment.model in --config)");
    sc->add_flag("--json", json, "one JSON object per line");
    add_common_options(*sc, common);
    sc->callback([] { score(texts, model, common, json); });

    auto* tr = cmd->add_subcommand(
        "train",
        "train the hashed word+bigram logistic-regression classifier and save it as a versioned artifact.\n"
        "Data: CSV with text,label columns or Financial PhraseBank sentence@label lines.\n"
        "Prints a stratified k-fold cross-validation of the same settings first (--folds 0 to skip).");
    static std::string data, out;
    static st::LogisticOptions opt;
    static int folds = 10;
    tr->add_option("--data", data,
                   "labeled sentences: CSV with a text and a label column (negative, neutral, positive) or PhraseBank "
                   "sentence@label lines; README.md, \"News and labeled sentences\"")
        ->required();
    tr->add_option("--out", out, "artifact file to write")->required();
    tr->add_option("--epochs", opt.epochs, "passes over the data")->capture_default_str()->check(CLI::Range(1, 1000));
    tr->add_option("--hash-bits", opt.hash_bits, "log2 of the feature space")->capture_default_str()->check(CLI::Range(8, 24));
    tr->add_option("--l2", opt.l2, "L2 penalty")->capture_default_str();
    tr->add_option("--seed", opt.seed, "shuffling seed")->capture_default_str();
    tr->add_flag("--balanced", opt.balanced_class_weights, "weight classes inversely to their frequency");
    tr->add_option("--folds", folds,
                   "cross-validation folds reported before training on everything (0: none); needs at least this many "
                   "sentences of one label")
        ->check(folds_check())
        ->capture_default_str();
    tr->add_flag("--json", json, "print the report as JSON");
    add_common_options(*tr, common);
    tr->callback([] {
        const auto rows = read_data(data);
        if (folds > 0) check_folds(rows, folds, data);
        if (folds > 0) print(st::cross_validate(rows, folds, opt), json, fmt::format("{}-fold cross-validation", folds));
        st::LogisticScorer::train(rows, opt).save(out);
        std::cerr << fmt::format("wrote {} (trained on {} sentences)\n", out, rows.size());
    });

    auto* ev = cmd->add_subcommand(
        "eval",
        "evaluate a scorer on labeled sentences: accuracy, macro-F1, per-class precision/recall/F1, confusion.\n"
        "Lexicon scorer unless --model; --folds K cross-validates a fresh classifier on the file instead.");
    static std::string eval_data;
    static int eval_folds = 0;
    ev->add_option("--data", eval_data, "labeled sentences, as for `sentiment train`")->required();
    ev->add_option("--model", model, "a classifier artifact from `sentiment train`");
    ev->add_option("--folds", eval_folds,
                   "cross-validate a fresh classifier with K >= 2 stratified folds (0: evaluate the scorer instead); "
                   "needs at least K sentences of one label")
        ->check(folds_check());
    ev->add_flag("--json", json, "print the report as JSON");
    add_common_options(*ev, common);
    ev->callback([] {
        const auto rows = read_data(eval_data);
        if (eval_folds > 0) {
            if (!model.empty()) throw UsageError("--folds trains fresh classifiers; it does not take --model");
            check_folds(rows, eval_folds, eval_data);
            print(st::cross_validate(rows, eval_folds, {}), json, fmt::format("classifier, {}-fold cross-validation", eval_folds));
            return;
        }
        const auto scorer = make_sentiment_scorer(model, common);
        print(st::evaluate(*scorer, rows), json, scorer->name() + " scorer");
    });
}

}  // namespace pricecast::cli
