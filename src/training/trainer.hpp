// Walk-forward training and evaluation: for each fold, fit the labels on the
// training split, train a fresh model (early stopping on the validation tail),
// predict the test block, and score it next to the majority and persistence
// baselines on exactly the same bars.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "features/features.hpp"
#include "models/dataset.hpp"
#include "training/metrics.hpp"
#include "training/splits.hpp"

namespace pricecast::training {

struct FoldResult {
    Timestamp test_from = 0, test_to = 0;
    std::size_t train = 0, valid = 0, test = 0;
    std::array<double, models::kClasses> train_balance{};
    ClassMetrics model, majority, persistence;
};

struct WalkForwardResult {
    std::vector<FoldResult> folds;
    ClassMetrics model, majority, persistence;  // over all test blocks together
    BootstrapIntervals intervals;                // of the model, and of its margin over each baseline
    std::array<double, models::kClasses> test_balance{};
    std::unique_ptr<models::Model> last_model;  // trained on the last fold's training split
    models::Labeler last_labeler{{}};
    nlohmann::json to_json() const;
};

using ModelFactory = std::function<std::unique_ptr<models::Model>()>;

// One model trained as every walk-forward fold trains it (`pricecast train` and
// `pricecast backtest` alike): the labels are fit on the training samples only,
// a fresh model from `make` fits `train` with early stopping on `valid` (each
// model fits its scaler on its training split). `train` and `valid` index the
// samples of `w`; unlabeled samples are dropped, and so are samples whose label
// reads a bar closing at or after the first validation sample (`train`) or
// `next_from`, the first bar the model predicts (both). The splits purge
// horizon x the bar interval (train) or horizon bars of the common time line
// (backtest); a gap in one symbol's bars (a weekend, a halt) outruns either.
struct TrainedModel {
    std::unique_ptr<models::Model> model;
    models::Labeler labeler{{}};
    models::SampleSet train, valid;
};
TrainedModel train_model(const models::Windows& w, const models::RowReturns& returns, const models::LabelConfig& labels,
                         std::span<const std::size_t> train, std::span<const std::size_t> valid, Timestamp next_from,
                         const ModelFactory& make, const models::ProgressFn& progress = {});
// The kinds model_factory makes: models that learn (each can be an ensemble
// member), the ensemble of them, and the baselines.
inline const std::vector<std::string> kMemberKinds = {"gbdt", "rf", "lstm"};
inline const std::vector<std::string> kLearntKinds = {"gbdt", "rf", "lstm", "ensemble"};
inline const std::vector<std::string> kBaselineKinds = {"majority", "persistence"};

// What `--model` and its flags describe, for `pricecast train` and `pricecast backtest` alike.
struct ModelSpec {
    std::string kind = "gbdt";  // gbdt, rf, lstm, ensemble (of members), majority, persistence
    std::vector<std::string> members = {"gbdt", "rf"};
    int lags = 2;      // trees: earlier vectors seen besides the last
    int rounds = 400;  // trees: boosting rounds at most
    int steps = 60;    // lstm: sequence length
    int epochs = 200;  // lstm: epochs at most
    int threads = 0;   // CPU threads the model trains and predicts with; 0: each kind's default (trees 2, lstm 1)
    std::uint64_t seed = 1;
};
// Throws std::invalid_argument (when called) for an unknown kind.
ModelFactory model_factory(const ModelSpec& spec, std::uint64_t feature_schema_hash);

using FoldObserver = std::function<void(std::size_t fold, std::size_t folds, const FoldResult&)>;

// The matrix's bar interval x horizon is the purge gap. Throws std::invalid_argument
// when the matrix is too short for the folds or a fold has no labeled samples.
WalkForwardResult walk_forward_train(const features::FeatureMatrix& m, const models::LabelConfig& labels,
                                     WalkForwardConfig wf, const ModelFactory& make, const FoldObserver& observe = {},
                                     const models::ProgressFn& progress = {});

// The sign-free columns of a matrix (volatility, ranges, volume ratios) plus the
// absolute 1-bar return: inputs that tell calm from busy bars but not up from
// down (EVALUATION.md's volatility-only baseline). Rows incomplete in `m` stay
// incomplete, so both matrices give the same samples.
features::FeatureMatrix volatility_only(const features::FeatureMatrix& m);

// The most common gap between consecutive rows of a symbol.
Duration bar_interval(const features::FeatureMatrix& m);

}  // namespace pricecast::training
