#pragma once

// Writes a backtest's report.json and a self-contained report.html (inline SVG,
// no network) into a directory.

#include <filesystem>
#include <string>
#include <vector>

#include "backtest/backtest.hpp"

namespace pricecast::backtest {

struct NamedRun {
    std::string name;  // "model", "buy_and_hold", "persistence", ...
    TradingResult result;
};

// Throws BacktestError naming the path when it cannot be written.
void write_report(const std::filesystem::path& dir, const std::vector<NamedRun>& runs,
                  const ConfusionMatrix& confusion);

}  // namespace pricecast::backtest
