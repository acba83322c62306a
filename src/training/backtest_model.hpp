// The walk-forward backtest's model side (`pricecast backtest`, the backtest
// benchmark): every block trains exactly as a `pricecast train` fold does
// (train_model: labels fit on the block's training samples, a fresh model from
// the factory, its scaler fit on them) and predicts the block.
#pragma once

#include <functional>

#include "backtest/engine.hpp"
#include "training/trainer.hpp"

namespace pricecast::training {

// Told after each block's model is trained (to save it, to show progress).
using BlockTrained = std::function<void(const backtest::BlockRows&, const TrainedModel&)>;

// Backtest rows are the samples of `w`. `w`, `returns` must outlive the
// callback. Training throws std::invalid_argument when a block has no labeled
// training sample.
backtest::BlockModel backtest_model(const models::Windows& w, const models::RowReturns& returns,
                                    const models::LabelConfig& labels, ModelFactory make, BlockTrained trained = {});

// The bar of each sample of `w` (by symbol and close time) from the bars the
// matrix was built from; throws std::runtime_error naming a missing bar.
std::vector<Bar> sample_bars(std::span<const Bar> bars, const features::FeatureMatrix& m, const models::Windows& w);

}  // namespace pricecast::training
