#include "backtest/backtest.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace pricecast::backtest {
namespace {

constexpr int kDown = 0, kStable = 1, kUp = 2;

void validate(const std::vector<Bar>& bars, const std::vector<int>& signals) {
    if (bars.size() != signals.size())
        throw BacktestError("signals: " + std::to_string(signals.size()) + " signals for " +
                            std::to_string(bars.size()) + " bars");
    for (std::size_t i = 0; i < bars.size(); ++i) {
        if (!(bars[i].open > 0) || !(bars[i].close > 0) || !std::isfinite(bars[i].open) ||
            !std::isfinite(bars[i].close))
            throw BacktestError("bars[" + std::to_string(i) + "].open/close: must be finite and > 0");
        if (signals[i] < kDown || signals[i] > kUp)
            throw BacktestError("signals[" + std::to_string(i) + "]: class must be 0, 1 or 2");
    }
}

double target(int signal, double current, bool short_on_down) {
    if (signal == kUp) return 1;
    if (signal == kDown) return short_on_down ? -1 : 0;
    return current;
}

// Price points the position is marked at: every open, then the last close.
double mark(const std::vector<Bar>& bars, std::size_t k) {
    return k < bars.size() ? bars[k].open : bars.back().close;
}

void summarise(TradingResult& r, const std::vector<double>& returns, double bars_per_year) {
    r.total_return = r.equity.back() / r.equity.front() - 1;
    double peak = r.equity.front();
    for (double e : r.equity) {
        peak = std::max(peak, e);
        r.max_drawdown = std::max(r.max_drawdown, (peak - e) / peak);
    }
    if (returns.size() < 2) return;
    double mean = 0;
    for (double x : returns) mean += x;
    mean /= static_cast<double>(returns.size());
    double var = 0;
    for (double x : returns) var += (x - mean) * (x - mean);
    double sd = std::sqrt(var / static_cast<double>(returns.size() - 1));
    r.sharpe = sd > 0 ? mean / sd * std::sqrt(bars_per_year) : 0;
}

}  // namespace

TradingResult simulate(const std::vector<Bar>& bars, const std::vector<int>& signals,
                       const TradingConfig& config) {
    validate(bars, signals);
    TradingResult r;
    if (bars.empty()) return r;
    const double cost = (config.fee_bps + config.slippage_bps) / 1e4;
    double equity = 1, position = 0;
    long in_market = 0, hits = 0;
    std::vector<double> returns;
    r.equity.push_back(equity);
    for (std::size_t k = 0; k < bars.size(); ++k) {
        const double next = k == 0 ? 0 : target(signals[k - 1], position, config.short_on_down);
        const double before = equity;
        equity *= 1 - std::abs(next - position) * cost;
        r.turnover += std::abs(next - position);
        position = next;
        const double move = mark(bars, k + 1) / mark(bars, k) - 1;
        equity *= 1 + position * move;
        if (position != 0) {
            ++in_market;
            hits += position * move > 0;
        }
        returns.push_back(equity / before - 1);
        r.positions.push_back(position);
        r.equity.push_back(equity);
    }
    r.hit_rate = in_market ? static_cast<double>(hits) / static_cast<double>(in_market) : 0;
    summarise(r, returns, config.bars_per_year);
    return r;
}

std::vector<int> buy_and_hold_signals(std::size_t n) { return std::vector<int>(n, kUp); }

std::vector<int> persistence_signals(const std::vector<Bar>& bars, double threshold) {
    std::vector<int> out;
    out.reserve(bars.size());
    for (const auto& b : bars) {
        const double change = b.close / b.open - 1;
        out.push_back(change > threshold ? kUp : change < -threshold ? kDown : kStable);
    }
    return out;
}

std::vector<Block> walk_forward_blocks(std::size_t rows, std::size_t min_train, std::size_t retrain_every,
                                       std::size_t horizon) {
    if (retrain_every == 0) throw BacktestError("retrain_every: must be > 0");
    if (min_train == 0) throw BacktestError("min_train: must be > 0");
    if (horizon == 0) throw BacktestError("horizon: must be > 0");
    if (rows <= min_train + horizon)
        throw BacktestError("history: " + std::to_string(rows) + " rows leave nothing to predict after " +
                            std::to_string(min_train) + " training rows and a purge of " +
                            std::to_string(horizon));
    std::vector<Block> blocks;
    for (std::size_t begin = min_train + horizon; begin < rows; begin += retrain_every)
        blocks.push_back({begin - horizon, begin, std::min(rows, begin + retrain_every)});
    return blocks;
}

ConfusionMatrix confusion(const std::vector<int>& actual, const std::vector<int>& predicted) {
    if (actual.size() != predicted.size())
        throw BacktestError("predicted: size differs from actual labels");
    ConfusionMatrix m{};
    for (std::size_t i = 0; i < actual.size(); ++i) {
        if (actual[i] < kDown || actual[i] > kUp || predicted[i] < kDown || predicted[i] > kUp)
            throw BacktestError("labels[" + std::to_string(i) + "]: class must be 0, 1 or 2");
        ++m[static_cast<std::size_t>(actual[i])][static_cast<std::size_t>(predicted[i])];
    }
    return m;
}

double accuracy(const ConfusionMatrix& m) {
    long right = 0, all = 0;
    for (std::size_t a = 0; a < 3; ++a)
        for (std::size_t p = 0; p < 3; ++p) {
            all += m[a][p];
            if (a == p) right += m[a][p];
        }
    return all ? static_cast<double>(right) / static_cast<double>(all) : 0;
}

}  // namespace pricecast::backtest
