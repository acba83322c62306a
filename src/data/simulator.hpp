// A seedable, deterministic market simulator: several symbols, regime-switching
// drift and volatility, an intraday volume profile, trades inside each bar, and
// news events whose sentiment moves the price with a configurable strength and
// delay. Predictability is known and tunable: news_impact = 0 and ar1 = ar2 = 0
// give a pure random walk (with regime-dependent volatility).
//
//     MarketSimulator sim(default_simulator_config());
//     for (int i = 0; i < 1440; ++i) { SimStep s = sim.step(); ... }
//
// Memory does not grow with the length of a run. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace pricecast::data {

struct SymbolConfig {
    std::string name;
    double start_price = 100.0;
};

// One volatility/drift regime; the chain moves between regimes with
// probability `switch_prob` per bar (to a uniformly chosen other regime).
struct Regime {
    std::string name;
    double drift = 0;  // mean log return per bar
    double vol = 0;    // standard deviation of the log return per bar
};

struct SimulatorConfig {
    std::uint64_t seed = 1;
    std::vector<SymbolConfig> symbols;
    Duration interval = kMinute;
    Timestamp start = 1'704'153'600 * kSecond;  // 2024-01-02T00:00:00Z
    std::vector<Regime> regimes;
    double switch_prob = 0.002;
    int regime_switch_at = -1;  // force a switch to the last regime at this bar (-1: never)
    double ar1 = 0, ar2 = 0;    // planted return autocorrelation
    double news_rate = 0.02;    // expected news items per symbol per bar
    double market_news_rate = 0.002;  // items tagged with every symbol
    double news_impact = 0.002;       // total log return per unit of sentiment
    int news_delay = 2;               // bars after the news before the move starts
    int news_spread = 3;              // bars the move is spread over
    double base_volume = 1000;
    bool trades = true;
    int max_trades_per_bar = 20;
};

SimulatorConfig default_simulator_config();

struct SimStep {
    std::vector<Bar> bars;  // one closed bar per symbol
    std::vector<Trade> trades;
    std::vector<NewsItem> news;
};

class MarketSimulator {
public:
    explicit MarketSimulator(SimulatorConfig config);
    SimStep step();
    const SimulatorConfig& config() const { return cfg_; }
    long bar_index() const { return t_; }
    int regime() const { return regime_; }
    // Log return the news already published will add to `symbol`'s next bar:
    // the part of the next return that is predictable from the past.
    double expected_news_return(std::size_t symbol) const;

private:
    struct SymbolState {
        double price = 0;
        double r1 = 0, r2 = 0;  // previous two innovations (for AR)
        std::array<double, 64> pending{};  // scheduled news returns, ring by bar
    };
    double uniform();
    double normal();
    std::size_t poisson(double mean);
    void emit_news(SimStep& out, std::vector<std::size_t> targets, Timestamp bar_open);

    SimulatorConfig cfg_;
    std::uint64_t rng_state_;
    std::vector<SymbolState> sym_;
    int regime_ = 0;  // runs start in the first regime
    long t_ = 0;
    long news_id_ = 0;
};

}  // namespace pricecast::data
