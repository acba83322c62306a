// Deterministic synthetic OHLCV series for tests that must not depend on
// ../shared/data: a random walk with varied candle shapes (dojis, long shadows,
// gaps, marubozu-like bars, repeated prices) so that every indicator branch and
// candlestick pattern gets exercised.
#pragma once

#include <cstdint>
#include <vector>

#include "core/types.hpp"

namespace pricecast::test {

std::vector<Bar> synthetic_bars(std::size_t n, std::uint64_t seed = 1, double start_price = 100.0);

}  // namespace pricecast::test
