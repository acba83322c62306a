// The label options `train` and `backtest` share: --horizon, --labels,
// --threshold, --vol-k, --quantile; and how a set of labels' class balance is printed.
#pragma once

#include <array>
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

// "DOWN 39.0%  STABLE 22.0%  UP 39.0%": printed next to every accuracy, which
// means little without it.
std::string class_balance(const std::array<double, models::kClasses>& share);

// A warning when one class is 95% or more of the labels (empty otherwise):
// every model "wins" by predicting it, which the original ±1% label does on
// intraday bars.
std::string one_class_warning(const std::array<double, models::kClasses>& share, const LabelFlags& flags);

}  // namespace pricecast::cli
