// Named OHLCV series the indicator tests run on: synthetic ones (always there)
// and real ones from ../shared/data (only when present).
#pragma once

#include <string>
#include <vector>

#include "core/types.hpp"

namespace pricecast::test {

struct Dataset {
    std::string name;
    std::vector<Bar> bars;
};

// Two synthetic series (different scales) plus the real series that exist.
const std::vector<Dataset>& indicator_datasets();

}  // namespace pricecast::test
