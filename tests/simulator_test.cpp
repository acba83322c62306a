// The market simulator: deterministic, valid bars, and exactly the
// predictability it is configured with (none, news-driven, or AR(2)).
#include <cmath>
#include <map>
#include <numeric>

#include <gtest/gtest.h>

#include "data/simulator.hpp"

namespace pricecast::data {
namespace {

SimulatorConfig one_symbol(std::uint64_t seed) {
    auto c = default_simulator_config();
    c.seed = seed;
    c.symbols = {{"X", 100.0}};
    c.trades = false;
    c.switch_prob = 0;
    c.regimes = {{"only", 0.0, 0.001}};
    c.news_impact = 0;
    c.market_news_rate = 0;
    return c;
}

std::vector<double> returns(MarketSimulator& sim, int n, std::vector<NewsItem>* news = nullptr) {
    std::vector<double> r;
    for (int i = 0; i < n; ++i) {
        auto s = sim.step();
        r.push_back(std::log(s.bars[0].close / s.bars[0].open));
        if (news)
            for (auto& item : s.news) news->push_back(item);
    }
    return r;
}

double autocorr(const std::vector<double>& r, std::size_t lag) {
    const double mean = std::accumulate(r.begin(), r.end(), 0.0) / static_cast<double>(r.size());
    double num = 0, den = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        den += (r[i] - mean) * (r[i] - mean);
        if (i >= lag) num += (r[i] - mean) * (r[i - lag] - mean);
    }
    return num / den;
}

TEST(Simulator, SameSeedSameMarketOtherSeedOther) {
    auto run = [](std::uint64_t seed) {
        MarketSimulator sim([&] { auto c = default_simulator_config(); c.seed = seed; return c; }());
        std::vector<double> closes;
        std::size_t trades = 0, news = 0;
        for (int i = 0; i < 500; ++i) {
            auto s = sim.step();
            for (auto& b : s.bars) closes.push_back(b.close);
            trades += s.trades.size();
            news += s.news.size();
        }
        closes.push_back(static_cast<double>(trades));
        closes.push_back(static_cast<double>(news));
        return closes;
    };
    EXPECT_EQ(run(5), run(5));
    EXPECT_NE(run(5), run(6));
}

TEST(Simulator, BarsAreValidConsecutiveAndMatchTheirTrades) {
    MarketSimulator sim(default_simulator_config());
    std::map<std::string, Timestamp> last;
    for (int i = 0; i < 2000; ++i) {
        auto s = sim.step();
        ASSERT_EQ(s.bars.size(), 2u);
        for (const auto& b : s.bars) {
            ASSERT_EQ(check_bar(b), BarProblem::none) << "bar " << i;
            if (last.count(b.symbol)) {
                ASSERT_EQ(b.open_time, last[b.symbol] + kMinute);
            }
            last[b.symbol] = b.open_time;
            double vol = 0, hi = 0, lo = 1e300;
            for (const auto& t : s.trades)
                if (t.symbol == b.symbol) {
                    ASSERT_GE(t.time, b.open_time);
                    ASSERT_LT(t.time, b.close_time);
                    vol += t.amount, hi = std::max(hi, t.price), lo = std::min(lo, t.price);
                }
            EXPECT_NEAR(vol, b.volume, 1e-6 * b.volume);
            EXPECT_EQ(hi, b.high);
            EXPECT_EQ(lo, b.low);
        }
        for (const auto& n : s.news) {
            EXPECT_GE(n.event_time, s.bars[0].open_time);
            EXPECT_LT(n.event_time, s.bars[0].close_time);
            EXPECT_GE(n.sentiment, -1.0);
            EXPECT_LE(n.sentiment, 1.0);
            EXPECT_FALSE(n.headline.empty());
        }
    }
}

TEST(Simulator, RandomWalkHasNoAutocorrelation) {
    MarketSimulator sim(one_symbol(11));
    auto r = returns(sim, 20000);
    const double bound = 4 / std::sqrt(static_cast<double>(r.size()));
    for (std::size_t lag = 1; lag <= 5; ++lag) EXPECT_LT(std::abs(autocorr(r, lag)), bound) << "lag " << lag;
}

TEST(Simulator, PlantedLagTwoDependenceIsThere) {
    auto c = one_symbol(12);
    c.ar2 = 0.3;
    MarketSimulator sim(c);
    auto r = returns(sim, 20000);
    // AR(2) with phi2 = 0.3: rho1 = 0, rho2 = 0.3 (+- a few standard errors of 1/sqrt(n)).
    EXPECT_NEAR(autocorr(r, 2), 0.3, 0.03);
    EXPECT_LT(std::abs(autocorr(r, 1)), 0.03);
}

// Correlation between a news item's score and the return `news_delay + 1` bars later.
double news_return_correlation(double impact) {
    auto c = one_symbol(13);
    c.news_impact = impact;
    c.news_rate = 0.05;
    c.news_spread = 1;
    MarketSimulator sim(c);
    std::vector<NewsItem> news;
    auto r = returns(sim, 40000, &news);
    std::vector<std::pair<double, double>> pairs;
    const Timestamp start = c.start;
    for (const auto& n : news) {
        const auto bar = static_cast<std::size_t>((n.event_time - start) / kMinute);
        const std::size_t target = bar + 1 + static_cast<std::size_t>(c.news_delay);
        if (target < r.size()) pairs.emplace_back(n.sentiment, r[target]);
    }
    double mx = 0, my = 0;
    for (auto [x, y] : pairs) mx += x, my += y;
    mx /= static_cast<double>(pairs.size()), my /= static_cast<double>(pairs.size());
    double sxy = 0, sxx = 0, syy = 0;
    for (auto [x, y] : pairs) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx), syy += (y - my) * (y - my);
    return sxy / std::sqrt(sxx * syy);
}

TEST(Simulator, NewsMovesThePriceWithThePlantedSignAndDelay) {
    // Score sd ~0.55 x impact 0.002 against noise 0.001: correlation ~0.7.
    EXPECT_GT(news_return_correlation(0.002), 0.5);
    EXPECT_LT(news_return_correlation(-0.002), -0.5);
    EXPECT_LT(std::abs(news_return_correlation(0.0)), 0.1);
}

TEST(Simulator, RegimeSwitchChangesVolatility) {
    auto c = one_symbol(14);
    c.regimes = {{"calm", 0, 0.0005}, {"turbulent", 0, 0.003}};
    c.regime_switch_at = 5000;
    MarketSimulator sim(c);
    auto r = returns(sim, 10000);
    auto sd = [&](std::size_t a, std::size_t b) {
        double s = 0;
        for (std::size_t i = a; i < b; ++i) s += r[i] * r[i];
        return std::sqrt(s / static_cast<double>(b - a));
    };
    EXPECT_NEAR(sd(0, 5000), 0.0005, 0.00005);
    EXPECT_NEAR(sd(5000, 10000), 0.003, 0.0003);
}

TEST(Simulator, VolumeIsHigherAtTheEdgesOfTheDay) {
    auto c = one_symbol(15);
    MarketSimulator sim(c);
    double edge = 0, mid = 0;
    for (int i = 0; i < 1440 * 5; ++i) {
        auto s = sim.step();
        const int minute = i % 1440;
        if (minute < 120 || minute >= 1320) edge += s.bars[0].volume;
        if (minute >= 660 && minute < 780) mid += s.bars[0].volume / 2;  // 2 h window vs 4 h of edges
    }
    EXPECT_GT(edge / 2, 1.5 * mid);
}

TEST(Simulator, RejectsBadConfiguration) {
    auto c = default_simulator_config();
    c.symbols.clear();
    EXPECT_THROW(MarketSimulator{c}, std::invalid_argument);
    c = default_simulator_config();
    c.symbols[0].start_price = -1;
    EXPECT_THROW(MarketSimulator{c}, std::invalid_argument);
}

}  // namespace
}  // namespace pricecast::data
