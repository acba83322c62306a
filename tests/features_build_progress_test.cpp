// features::build reports its progress without changing what it builds.
#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include "data/simulator.hpp"
#include "features/features.hpp"

namespace pricecast {
namespace {

TEST(FeaturesBuildProgress, CountsEveryMessageOnceAndLeavesTheRowsAlone) {
    auto cfg = data::default_simulator_config();
    cfg.trades = false;
    cfg.news_rate = 0.1;
    data::MarketSimulator sim(cfg);
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
    for (int t = 0; t < 3000; ++t) {
        auto s = sim.step();
        bars.insert(bars.end(), s.bars.begin(), s.bars.end());
        news.insert(news.end(), s.news.begin(), s.news.end());
    }
    const std::size_t total = bars.size() + news.size();
    std::vector<std::size_t> reports;
    const auto with = features::build({}, bars, news, nullptr, [&](std::size_t done, std::size_t all) {
        EXPECT_EQ(all, total);
        reports.push_back(done);
    });
    ASSERT_GE(reports.size(), 2u);
    EXPECT_TRUE(std::is_sorted(reports.begin(), reports.end()));
    EXPECT_EQ(reports.back(), total) << "the last report is the whole input";

    const auto without = features::build({}, bars, news);
    ASSERT_EQ(with.size(), without.size());
    for (std::size_t i = 0; i < with.size(); ++i) {
        ASSERT_EQ(with[i].values.size(), without[i].values.size());
        EXPECT_EQ(std::memcmp(with[i].values.data(), without[i].values.data(), with[i].values.size() * sizeof(double)), 0)
            << "row " << i;
    }
}

}  // namespace
}  // namespace pricecast
