#include "support/datasets.hpp"

#include <filesystem>

#include "data/ohlcv.hpp"
#include "support/paths.hpp"
#include "support/series.hpp"

namespace pricecast::test {

const std::vector<Dataset>& indicator_datasets() {
    static const std::vector<Dataset> sets = [] {
        std::vector<Dataset> s;
        s.push_back({"synthetic-100", synthetic_bars(3000, 1, 100.0)});
        s.push_back({"synthetic-0.05", synthetic_bars(3000, 7, 0.05)});
        // Real series: crypto 5-minute candles and a stock's daily bars.
        for (const char* rel : {"ohlcv/freqtrade/ETH_BTC-5m.json", "ohlcv/backtrader/orcl-1995-2014.txt",
                                "ohlcv/backtesting_py/EURUSD.csv"}) {
            const auto path = shared_data() / rel;
            if (std::filesystem::exists(path)) s.push_back({rel, data::read_bars(path)});
        }
        return s;
    }();
    return sets;
}

}  // namespace pricecast::test
