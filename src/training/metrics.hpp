// Classification metrics of a model on a test split.
#pragma once

#include <array>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model.hpp"

namespace pricecast::training {

struct ClassMetrics {
    std::size_t n = 0;
    double accuracy = 0, macro_f1 = 0, balanced_accuracy = 0, log_loss = 0;
    // On bars where a move was both predicted and happened, the share with the
    // right direction (EVALUATION.md: skill beyond telling calm from busy), and
    // how many such bars there were.
    double sign_accuracy = 0;
    std::size_t sign_n = 0;
    std::array<double, models::kClasses> precision{}, recall{}, f1{};
    std::array<std::array<std::size_t, models::kClasses>, models::kClasses> confusion{};  // [truth][predicted]
    nlohmann::json to_json() const;
};

// Predicted class = argmax of the probabilities; log loss clips at 1e-15 as sklearn does.
ClassMetrics evaluate(std::span<const models::Trend> truth, std::span<const models::ClassProbs> probs);

struct Interval {
    double low = 0, high = 0;
};

// 95% moving-block bootstrap intervals over test rows in time order (blocks keep
// the serial dependence of neighbouring bars). The differences are paired: the
// model and the baseline are resampled on the same rows.
struct BootstrapIntervals {
    Interval accuracy, macro_f1, minus_majority, minus_persistence;
    nlohmann::json to_json() const;
};
BootstrapIntervals bootstrap(std::span<const models::Trend> truth, std::span<const models::ClassProbs> model,
                             std::span<const models::Trend> majority, std::span<const models::Trend> persistence,
                             int resamples = 1000, std::size_t block = 20, std::uint64_t seed = 1);

}  // namespace pricecast::training
