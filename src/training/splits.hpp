// Walk-forward splits over time: train on the past, validate on its tail, test
// on what follows, with a purge gap so no training label overlaps a test bar.
#pragma once

#include <span>
#include <vector>

#include "core/time.hpp"

namespace pricecast::training {

struct WalkForwardConfig {
    int folds = 4;                // test blocks
    bool expanding = true;        // false: a rolling window as long as one block x train_blocks
    int train_blocks = 1;         // rolling window length, in blocks
    double valid_fraction = 0.2;  // tail of each training window used for early stopping
    Duration purge = 0;           // gap before validation and test blocks (label horizon x bar interval)
};

// Indices into the samples, each list in time order.
struct Split {
    std::vector<std::size_t> train, valid, test;
    Timestamp test_from = 0, test_to = 0;
};

// The time line (distinct sample times) is cut into folds + 1 equal blocks:
// fold k tests on block k + 1 and trains on the blocks before it (all of them
// when expanding). Samples within `purge` before a block that follows are dropped.
// Throws std::invalid_argument when there are too few distinct times.
std::vector<Split> walk_forward(std::span<const Timestamp> times, const WalkForwardConfig& cfg);

}  // namespace pricecast::training
