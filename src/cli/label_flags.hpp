// The label options `train` and `backtest` share: --horizon, --labels,
// --threshold, --vol-k, --quantile.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "models/dataset.hpp"

namespace pricecast::cli {

struct LabelFlags {
    int horizon = 1;
    std::string rule = "fixed";
    double threshold = 0.01, vol_k = 0.5, quantile = 1.0 / 3.0;
};

// `horizon_help` says what else the horizon sets; `quantile_fit` where quantile
// thresholds are fit ("the training split", "each block's training bars").
void add_label_options(CLI::App& cmd, LabelFlags& flags, const std::string& horizon_help,
                       const std::string& quantile_fit);

models::LabelConfig label_config(const LabelFlags& flags);

}  // namespace pricecast::cli
