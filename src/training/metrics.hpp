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

}  // namespace pricecast::training
