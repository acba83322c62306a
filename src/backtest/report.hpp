#pragma once

// Writes a backtest's report.json, a self-contained report.html (inline SVG
// charts, no network) and predictions.csv into a directory.

#include <filesystem>

#include "backtest/engine.hpp"

namespace pricecast::backtest {

// Throws BacktestError naming `out` and the path when it cannot be written.
void write_report(const std::filesystem::path& dir, const Result& result);

}  // namespace pricecast::backtest
