#include "support/datasets.hpp"

#include "support/series.hpp"

namespace pricecast::test {

const std::vector<Dataset>& indicator_datasets() {
    static const std::vector<Dataset> sets = [] {
        std::vector<Dataset> s;
        s.push_back({"synthetic-100", synthetic_bars(3000, 1, 100.0)});
        s.push_back({"synthetic-0.05", synthetic_bars(3000, 7, 0.05)});
        return s;
    }();
    return sets;
}

}  // namespace pricecast::test
