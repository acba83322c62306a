#include "data/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include <fmt/format.h>

namespace pricecast::data {

SimulatorConfig default_simulator_config() {
    SimulatorConfig c;
    c.symbols = {{"ACME", 100.0}, {"BOLT", 40.0}};
    c.regimes = {{"calm", 0.0, 0.0005}, {"normal", 0.00002, 0.001}, {"turbulent", -0.00005, 0.003}};
    return c;
}

MarketSimulator::MarketSimulator(SimulatorConfig config) : cfg_(std::move(config)), rng_state_(cfg_.seed) {
    if (cfg_.symbols.empty()) throw std::invalid_argument("simulator: no symbols");
    if (cfg_.regimes.empty()) cfg_.regimes = default_simulator_config().regimes;
    if (cfg_.interval <= 0) throw std::invalid_argument("simulator: interval must be positive");
    if (cfg_.news_delay < 0 || cfg_.news_spread < 1 || cfg_.news_delay + cfg_.news_spread >= 64)
        throw std::invalid_argument("simulator: news_delay + news_spread must be in [1, 63]");
    for (const auto& s : cfg_.symbols) {
        if (!(s.start_price > 0)) throw std::invalid_argument("simulator: start price of " + s.name + " must be > 0");
        sym_.push_back({s.start_price, 0, 0, {}});
    }
}

// splitmix64: tiny, fast and identical on every platform and standard library.
double MarketSimulator::uniform() {
    std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

double MarketSimulator::normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

std::size_t MarketSimulator::poisson(double mean) {
    const double limit = std::exp(-mean);
    std::size_t k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
}

double MarketSimulator::expected_news_return(std::size_t symbol) const {
    return sym_.at(symbol).pending[static_cast<std::size_t>(t_ % 64)];
}

namespace {

// U-shaped intraday profile over the UTC day: busy at the open and close hours.
double volume_profile(Timestamp t) {
    const double x = static_cast<double>(((t % kDay) + kDay) % kDay) / static_cast<double>(kDay);
    return 0.4 + 2.4 * (x - 0.5) * (x - 0.5) * 4;
}

const char* const kPositive[] = {"beats estimates", "raises guidance", "wins major contract", "upgraded to buy",
                                 "reports record profit"};
const char* const kNegative[] = {"misses estimates", "cuts guidance", "faces lawsuit", "downgraded to sell",
                                 "reports surprise loss"};
const char* const kNeutral[] = {"to present at conference", "announces board meeting date", "files annual report"};

}  // namespace

void MarketSimulator::emit_news(SimStep& out, std::vector<std::size_t> targets, Timestamp bar_open) {
    NewsItem n;
    n.id = fmt::format("sim-{}", ++news_id_);
    n.event_time = bar_open + static_cast<Duration>(uniform() * static_cast<double>(cfg_.interval));
    n.source = "simulator";
    const double score = std::clamp(normal() * 0.6, -1.0, 1.0);
    n.sentiment = score;
    const char* phrase = std::abs(score) < 0.15 ? kNeutral[static_cast<std::size_t>(uniform() * 3)]
                         : score > 0             ? kPositive[static_cast<std::size_t>(uniform() * 5)]
                                                 : kNegative[static_cast<std::size_t>(uniform() * 5)];
    const std::string who = targets.size() == 1 ? cfg_.symbols[targets[0]].name : "Markets";
    n.headline = fmt::format("{} {}{}", who, phrase, std::abs(score) > 0.7 ? ", shares move sharply" : "");
    n.body = n.headline + ".";
    for (auto s : targets) {
        n.symbols.push_back(cfg_.symbols[s].name);
        // The move starts news_delay bars after the news bar and is spread evenly.
        for (int k = 0; k < cfg_.news_spread; ++k)
            sym_[s].pending[static_cast<std::size_t>((t_ + 1 + cfg_.news_delay + k) % 64)] +=
                cfg_.news_impact * score / cfg_.news_spread;
    }
    out.news.push_back(std::move(n));
}

SimStep MarketSimulator::step() {
    SimStep out;
    const Timestamp open = cfg_.start + t_ * cfg_.interval;
    if (t_ == cfg_.regime_switch_at) regime_ = static_cast<int>(cfg_.regimes.size()) - 1;
    else if (cfg_.regimes.size() > 1 && uniform() < cfg_.switch_prob) {
        int next = static_cast<int>(uniform() * static_cast<double>(cfg_.regimes.size() - 1));
        regime_ = next >= regime_ ? next + 1 : next;
    }
    const Regime& reg = cfg_.regimes[static_cast<std::size_t>(regime_)];
    const std::size_t slot = static_cast<std::size_t>(t_ % 64);

    for (std::size_t s = 0; s < sym_.size(); ++s) {
        auto& st = sym_[s];
        const double eps = reg.vol * normal();
        const double innovation = cfg_.ar1 * st.r1 + cfg_.ar2 * st.r2 + eps;
        st.r2 = st.r1;
        st.r1 = innovation;
        const double r = reg.drift + innovation + st.pending[slot];
        st.pending[slot] = 0;

        Bar b;
        b.symbol = cfg_.symbols[s].name;
        b.interval = cfg_.interval;
        b.open_time = open;
        b.close_time = open + cfg_.interval;
        b.open = st.price;
        b.close = st.price * std::exp(r);
        b.high = std::max(b.open, b.close);
        b.low = std::min(b.open, b.close);
        const double volume = cfg_.base_volume * volume_profile(open) * (1 + 200 * std::abs(r)) * std::exp(0.3 * normal());
        // At least two trades (the open and the close); those between walk with noise.
        // The trades' extremes make the high and low.
        const std::size_t n = cfg_.trades ? 2 + std::min<std::size_t>(poisson(volume / 200), static_cast<std::size_t>(cfg_.max_trades_per_bar)) : 0;
        double traded = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const double frac = static_cast<double>(k) / static_cast<double>(n - 1);
            const double noise = k + 1 == n || k == 0 ? 0.0 : reg.vol * 0.5 * normal();
            const double price = b.open * std::exp(r * frac + noise);
            Trade tr{b.symbol, open + static_cast<Duration>(frac * static_cast<double>(cfg_.interval - 1)), price,
                     k + 1 == n ? volume - traded : volume / static_cast<double>(n), uniform() < 0.5 ? Side::buy : Side::sell};
            traded += tr.amount;
            b.high = std::max(b.high, price);
            b.low = std::min(b.low, price);
            out.trades.push_back(std::move(tr));
        }
        if (!cfg_.trades) {  // wicks without trades
            b.high *= std::exp(std::abs(0.5 * reg.vol * normal()));
            b.low *= std::exp(-std::abs(0.5 * reg.vol * normal()));
        }
        b.volume = volume;
        b.trade_count = static_cast<std::int64_t>(n);
        st.price = b.close;
        out.bars.push_back(std::move(b));
    }
    for (std::size_t s = 0; s < sym_.size(); ++s)
        for (std::size_t k = poisson(cfg_.news_rate); k > 0; --k) emit_news(out, {s}, open);
    if (sym_.size() > 1)
        for (std::size_t k = poisson(cfg_.market_news_rate); k > 0; --k) {
            std::vector<std::size_t> all(sym_.size());
            for (std::size_t s = 0; s < all.size(); ++s) all[s] = s;
            emit_news(out, all, open);
        }
    ++t_;
    return out;
}

}  // namespace pricecast::data
