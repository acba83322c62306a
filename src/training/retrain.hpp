// Registering what a walk-forward training produced together with what
// monitoring needs of it (the drift reference), for `pricecast train
// --register`, the demo and retraining on drift; and that retraining itself:
//
//     auto r = training::retrain_challenger(reg, recent_matrix, {.model = "trend"}, "data drift: rsi_14");
//     // r.version is now the model's challenger; the champion is untouched.
#pragma once

#include <string>

#include "core/time.hpp"
#include "features/features.hpp"
#include "registry/registry.hpp"
#include "training/trainer.hpp"

namespace pricecast::training {

// Registers r.last_model under `name`. Fills what the result knows: the
// out-of-sample metrics, the label rule as params, the evaluation window
// (prefixed by `meta.eval_window` when given), the data range of `m`, and
// the drift reference of `m` (monitor::Reference::kFile) fit for monitoring
// windows of `short_window`.
registry::ModelVersion register_trained(registry::Registry& reg, const std::string& name, const WalkForwardResult& r,
                                        const features::FeatureMatrix& m, Duration short_window,
                                        registry::NewVersion meta = {});

struct RetrainOptions {
    std::string model;                   // the registered model
    ModelSpec spec{};                    // what to train
    int folds = 3;                       // walk-forward folds over the recent rows
    Duration short_window = 24 * kHour;  // the monitor's, for the new version's drift reference
    models::LabelConfig labels{};        // when the champion's params carry no label rule
};

struct Retrained {
    registry::ModelVersion version;
    WalkForwardResult result;
};

// Trains on `recent` (rows in time order, symbols interleaved, as the live
// feature service produced them) with the champion's label rule, registers
// the model and points the `challenger` alias at it. Never changes the
// champion: promotion is the A/B test's or a person's call. Throws
// std::invalid_argument when the rows are too few for the folds.
Retrained retrain_challenger(registry::Registry& reg, const features::FeatureMatrix& recent, const RetrainOptions& o,
                             const std::string& reason);

}  // namespace pricecast::training
