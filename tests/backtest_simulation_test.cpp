#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "backtest/backtest.hpp"

namespace pricecast::backtest {
namespace {

constexpr int D = 0, S = 1, U = 2;

std::vector<Bar> bars_from(const std::vector<double>& opens, double last_close) {
    std::vector<Bar> bars;
    for (std::size_t i = 0; i < opens.size(); ++i) {
        Bar b;
        b.symbol = "T";
        b.open = opens[i];
        b.close = i + 1 < opens.size() ? opens[i + 1] : last_close;
        b.high = std::max(b.open, b.close);
        b.low = std::min(b.open, b.close);
        bars.push_back(b);
    }
    return bars;
}

// Hand-computed: UP at bar 0 fills at bar 1's open (110) and loses 10% to
// bar 2's open; DOWN goes flat at 99; STABLE stays flat through the 10% rise;
// UP at bar 3 fills at 108.9 and gains 10% to the last close.
TEST(BacktestSimulation, FillsAtNextOpenWithKnownPnl) {
    const auto bars = bars_from({100, 110, 99, 108.9, 108.9}, 119.79);
    const std::vector<int> signals{U, D, S, U, U};
    const auto r = simulate(bars, signals, {});
    ASSERT_EQ(r.equity.size(), 6u);
    EXPECT_EQ(r.positions, (std::vector<double>{0, 1, 0, 0, 1}));
    EXPECT_NEAR(r.equity[2], 0.9, 1e-12);
    EXPECT_NEAR(r.total_return, 0.99 - 1, 1e-12);
    EXPECT_DOUBLE_EQ(r.turnover, 3);
    EXPECT_DOUBLE_EQ(r.hit_rate, 0.5);
    EXPECT_NEAR(r.max_drawdown, 0.1, 1e-12);

    const auto costly = simulate(bars, signals, {.fee_bps = 7, .slippage_bps = 3});
    EXPECT_NEAR(costly.equity.back(), 0.99 * std::pow(0.999, 3), 1e-12);
}

TEST(BacktestSimulation, ShortOnDownEarnsTheFall) {
    const auto bars = bars_from({100, 100, 90}, 90);
    const auto r = simulate(bars, {D, S, S}, {.short_on_down = true});
    EXPECT_EQ(r.positions, (std::vector<double>{0, -1, -1}));
    EXPECT_NEAR(r.total_return, 0.1, 1e-12);
}

// Nothing after bar t may change the equity marked up to bar t's open.
TEST(BacktestSimulation, ShuffledFutureLeavesThePastUnchanged) {
    std::mt19937 rng(7);
    std::vector<double> opens;
    for (int i = 0; i < 200; ++i) opens.push_back(100 + std::uniform_real_distribution<>(-5, 5)(rng));
    std::vector<int> signals;
    for (int i = 0; i < 200; ++i) signals.push_back(static_cast<int>(rng() % 3));
    const auto base = simulate(bars_from(opens, 100), signals, {.fee_bps = 5});
    const std::size_t cut = 120;
    std::shuffle(opens.begin() + cut + 1, opens.end(), rng);
    std::shuffle(signals.begin() + cut, signals.end(), rng);
    const auto shuffled = simulate(bars_from(opens, 100), signals, {.fee_bps = 5});
    for (std::size_t k = 0; k <= cut; ++k) EXPECT_DOUBLE_EQ(base.equity[k], shuffled.equity[k]) << k;
}

TEST(BacktestSimulation, BuyAndHoldTracksThePrice) {
    const auto bars = bars_from({100, 100, 120}, 150);
    const auto r = simulate(bars, buy_and_hold_signals(bars.size()), {});
    EXPECT_NEAR(r.total_return, 0.5, 1e-12);
}

TEST(BacktestSimulation, BadInputNamesTheField) {
    const auto bars = bars_from({100, 101}, 102);
    EXPECT_THROW(simulate(bars, {U}, {}), BacktestError);
    EXPECT_THROW(simulate(bars, {U, 3}, {}), BacktestError);
    auto bad = bars;
    bad[1].open = 0;
    try {
        simulate(bad, {U, U}, {});
        FAIL();
    } catch (const BacktestError& e) {
        EXPECT_NE(std::string(e.what()).find("bars[1]"), std::string::npos);
    }
    EXPECT_THROW(confusion({0, 1}, {0}), BacktestError);
}

TEST(BacktestSimulation, ConfusionAndAccuracy) {
    const auto m = confusion({D, S, U, U}, {D, U, U, S});
    EXPECT_EQ(m[2][2], 1);
    EXPECT_EQ(m[1][2], 1);
    EXPECT_DOUBLE_EQ(accuracy(m), 0.5);
}

TEST(BacktestSimulation, PersistenceFollowsTheBarsOwnMove) {
    const auto bars = bars_from({100, 102, 101, 101}, 101);
    EXPECT_EQ(persistence_signals(bars, 0.001), (std::vector<int>{U, D, S, S}));
}

TEST(BacktestWalkForward, BlocksPurgeTheHorizonAndCoverEveryLaterRow) {
    const auto blocks = walk_forward_blocks(250, 100, 60, 5);
    ASSERT_EQ(blocks.size(), 3u);
    std::size_t next = 105;
    for (const auto& b : blocks) {
        EXPECT_EQ(b.begin, next);
        EXPECT_EQ(b.train_end + 5, b.begin);  // last trained label is known before begin
        next = b.end;
    }
    EXPECT_EQ(next, 250u);
    EXPECT_EQ(blocks.back().begin, 225u);
}

TEST(BacktestWalkForward, BadParametersNameTheField) {
    try {
        walk_forward_blocks(100, 10, 0, 1);
        FAIL();
    } catch (const BacktestError& e) {
        EXPECT_NE(std::string(e.what()).find("retrain_every"), std::string::npos);
    }
    EXPECT_THROW(walk_forward_blocks(100, 0, 10, 1), BacktestError);
    EXPECT_THROW(walk_forward_blocks(100, 10, 10, 0), BacktestError);
    EXPECT_THROW(walk_forward_blocks(15, 10, 10, 5), BacktestError);
}

}  // namespace
}  // namespace pricecast::backtest
