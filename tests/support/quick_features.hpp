// A small feature set that warms up in a few dozen 1m bars, for tests that
// run the live services or the backtest end to end.
#pragma once

#include "features/features.hpp"

namespace pricecast::test {

inline features::FeatureConfig quick_feature_config() {
    features::FeatureConfig fc;
    fc.timeframes = {"1m", "5m"};
    fc.indicators = {"rsi(14)", "ema(10)", "5m:roc(3)"};
    fc.sentiment_windows = {"10m"};
    return fc;
}

}  // namespace pricecast::test
