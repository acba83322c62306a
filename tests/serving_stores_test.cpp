// Prediction, bar and feature stores: duplicates by (symbol, bar time), ranges,
// retention, champion-only serving and listeners.
#include <gtest/gtest.h>

#include "serving/stores.hpp"

using namespace pricecast;
using namespace pricecast::serving;

namespace {

Prediction pred(const std::string& symbol, Timestamp t, const std::string& slot = "champion") {
    Prediction p;
    p.symbol = symbol;
    p.bar_time = t;
    p.slot = slot;
    p.version = 1;
    return p;
}

}  // namespace

TEST(PredictionStore, DropsDuplicatesAndKeepsOrder) {
    PredictionStore s;
    EXPECT_TRUE(s.add(pred("A", 20)));
    EXPECT_TRUE(s.add(pred("A", 40)));
    EXPECT_TRUE(s.add(pred("A", 30)));  // late but newer than the oldest: placed by time
    EXPECT_FALSE(s.add(pred("A", 40)));
    EXPECT_FALSE(s.add(pred("A", 10)));  // older than everything retained
    EXPECT_EQ(s.duplicates(), 2u);
    const auto r = s.range("A", 0, 100);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].bar_time, 20);
    EXPECT_EQ(r[1].bar_time, 30);
    EXPECT_EQ(r[2].bar_time, 40);
    EXPECT_EQ(s.latest("A")->bar_time, 40);
}

TEST(PredictionStore, RangeIsInclusiveAndUnknownSymbolIsEmpty) {
    PredictionStore s;
    for (Timestamp t = 1; t <= 5; ++t) s.add(pred("A", t));
    EXPECT_EQ(s.range("A", 2, 4).size(), 3u);
    EXPECT_TRUE(s.range("A", 4, 2).empty());
    EXPECT_TRUE(s.range("B", 0, 10).empty());
    EXPECT_FALSE(s.latest("B"));
}

TEST(PredictionStore, RetainsPerSymbolLimit) {
    PredictionStore s(3);
    for (Timestamp t = 1; t <= 5; ++t) EXPECT_TRUE(s.add(pred("A", t)));
    const auto r = s.range("A", 0, 10);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r.front().bar_time, 3);
    EXPECT_FALSE(s.add(pred("A", 2)));
}

TEST(PredictionStore, ChallengerIsNotServedButDeduplicated) {
    PredictionStore s;
    int heard = 0;
    s.listen([&](const Prediction&) { ++heard; });
    EXPECT_TRUE(s.add(pred("A", 10, "challenger")));
    EXPECT_FALSE(s.add(pred("A", 10, "challenger")));
    EXPECT_FALSE(s.latest("A"));
    EXPECT_TRUE(s.symbols().empty());
    EXPECT_EQ(heard, 0);
}

TEST(PredictionStore, ListenersHearAcceptedChampionsUntilUnlisten) {
    PredictionStore s;
    std::vector<Timestamp> heard;
    const int id = s.listen([&](const Prediction& p) { heard.push_back(p.bar_time); });
    s.add(pred("A", 1));
    s.add(pred("A", 1));
    s.add(pred("B", 2));
    s.unlisten(id);
    s.add(pred("A", 3));
    EXPECT_EQ(heard, (std::vector<Timestamp>{1, 2}));
    EXPECT_EQ(s.symbols(), (std::vector<std::string>{"A", "B"}));
}

TEST(FeatureStore, KeepsNewestVectorPerSymbol) {
    FeatureStore s;
    features::FeatureVector v;
    v.symbol = "A";
    v.close_time = 10;
    v.values = {1.0};
    EXPECT_TRUE(s.add(v));
    EXPECT_FALSE(s.add(v));
    v.close_time = 5;
    EXPECT_FALSE(s.add(v));
    v.close_time = 20;
    v.values = {2.0};
    EXPECT_TRUE(s.add(v));
    EXPECT_EQ(s.latest("A")->values, std::vector<double>{2.0});
    EXPECT_FALSE(s.latest("B"));
    EXPECT_EQ(s.symbols(), std::vector<std::string>{"A"});
}

namespace {

Bar bar(const std::string& symbol, Timestamp close_time, double close = 1.0) {
    Bar b;
    b.symbol = symbol;
    b.interval = 10;
    b.open_time = close_time - 10;
    b.close_time = close_time;
    b.open = b.high = b.low = b.close = close;
    return b;
}

}  // namespace

TEST(BarStore, DropsDuplicateAndOlderBars) {
    BarStore s;
    EXPECT_TRUE(s.add(bar("A", 20)));
    EXPECT_TRUE(s.add(bar("A", 30)));
    EXPECT_FALSE(s.add(bar("A", 30, 2.0)));  // a redelivery does not replace the stored bar
    EXPECT_FALSE(s.add(bar("A", 25)));
    EXPECT_TRUE(s.add(bar("B", 5)));  // per symbol
    EXPECT_EQ(s.duplicates(), 2u);
    EXPECT_EQ(s.latest("A")->close_time, 30);
    EXPECT_EQ(s.latest("A")->close, 1.0);
    EXPECT_EQ(s.symbols(), (std::vector<std::string>{"A", "B"}));
}

TEST(BarStore, RangeIsInclusiveByCloseTimeAndUnknownSymbolIsEmpty) {
    BarStore s;
    for (Timestamp t = 10; t <= 50; t += 10) s.add(bar("A", t));
    const auto r = s.range("A", 20, 40);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r.front().close_time, 20);
    EXPECT_EQ(r.back().close_time, 40);
    EXPECT_EQ(s.range("A", 21, 29).size(), 0u);
    EXPECT_TRUE(s.range("A", 40, 20).empty());
    EXPECT_TRUE(s.range("B", 0, 100).empty());
    EXPECT_FALSE(s.latest("B"));
}

TEST(BarStore, RetainsPerSymbolLimit) {
    BarStore s(3);
    for (Timestamp t = 1; t <= 5; ++t) EXPECT_TRUE(s.add(bar("A", t)));
    const auto r = s.range("A", 0, 10);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r.front().close_time, 3);
    EXPECT_EQ(r.back().close_time, 5);
}

TEST(BarStore, ListenersHearAcceptedBarsUntilUnlisten) {
    BarStore s;
    std::vector<Timestamp> heard;
    const int id = s.listen([&](const Bar& b) { heard.push_back(b.close_time); });
    s.add(bar("A", 1));
    s.add(bar("A", 1));
    s.add(bar("B", 2));
    s.unlisten(id);
    s.add(bar("A", 3));
    EXPECT_EQ(heard, (std::vector<Timestamp>{1, 2}));
}
