// Bar aggregation against a deliberately simple, independent group-by written
// here, on the real 1-minute and trade files, plus the rules for gaps, partial
// bars and out-of-order input.
#include <cstdlib>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "data/aggregate.hpp"
#include "data/ohlcv.hpp"
#include "data/trades.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::data {
namespace {

struct Expected {
    double open = 0, high = 0, low = 0, close = 0, volume = 0;
    int n = 0;
};

// Independent reference: std::map keyed by the bucket start, filled in input order.
template <class Records, class Time, class Fields>
std::map<Timestamp, Expected> group_by(const Records& recs, Duration interval, Time time, Fields fields) {
    std::map<Timestamp, Expected> m;
    for (const auto& r : recs) {
        const Timestamp t = time(r);
        auto& e = m[t - ((t % interval) + interval) % interval];
        auto [o, h, l, c, v] = fields(r);
        if (e.n++ == 0) e.open = o, e.high = h, e.low = l;
        e.high = std::max(e.high, h);
        e.low = std::min(e.low, l);
        e.close = c;
        e.volume += v;
    }
    return m;
}

void expect_equal(const std::vector<AggregatedBar>& got, const std::map<Timestamp, Expected>& want) {
    ASSERT_EQ(got.size(), want.size());
    std::size_t i = 0;
    for (const auto& [t, e] : want) {
        const auto& g = got[i++];
        ASSERT_EQ(g.bar.open_time, t);
        EXPECT_EQ(g.bar.open, e.open);
        EXPECT_EQ(g.bar.high, e.high);
        EXPECT_EQ(g.bar.low, e.low);
        EXPECT_EQ(g.bar.close, e.close);
        EXPECT_NEAR(g.bar.volume, e.volume, 1e-9 * std::max(1.0, e.volume));
        EXPECT_EQ(g.constituents, e.n);
    }
}

auto bar_time = [](const Bar& b) { return b.open_time; };
auto bar_fields = [](const Bar& b) { return std::tuple{b.open, b.high, b.low, b.close, b.volume}; };
auto trade_time = [](const Trade& t) { return t.time; };
auto trade_fields = [](const Trade& t) { return std::tuple{t.price, t.price, t.price, t.price, t.amount}; };

TEST(Aggregate, RealMinuteBarsTo5mAnd1h) {
    for (const char* rel : {"ohlcv/freqtrade/UNITTEST_BTC-1m.json", "ohlcv/backtrader/2006-01-02-volume-min-001.txt",
                            "ohlcv/freqtrade/XRP_ETH-1m.json"}) {
        SCOPED_TRACE(rel);
        if (!std::filesystem::exists(test::shared_data() / rel)) GTEST_SKIP() << "shared data absent: " << rel;
        const auto bars = read_bars(test::shared_data() / rel);
        for (Duration d : {5 * kMinute, kHour}) expect_equal(aggregate(bars, d), group_by(bars, d, bar_time, bar_fields));
    }
}

TEST(Aggregate, ResampleCliWritesTheSameBars) {
    const char* rel = "ohlcv/freqtrade/UNITTEST_BTC-1m.json";
    PRICECAST_REQUIRE_SHARED(rel);
    const test::TempDir dir("resample");
    const auto out = dir / "pricecast_resample_test.csv";
    const std::string cmd = test::pricecast_binary().string() + " data resample " +
                            (test::shared_data() / rel).string() + " --to 5m --out " + out.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto got = read_bars(out);
    const auto want = group_by(read_bars(test::shared_data() / rel), 5 * kMinute, bar_time, bar_fields);
    ASSERT_EQ(got.size(), want.size());
    std::size_t i = 0;
    for (const auto& [t, e] : want) {
        EXPECT_EQ(got[i].open_time, t);
        EXPECT_EQ(got[i].interval, 5 * kMinute);
        EXPECT_EQ(got[i].close, e.close);
        EXPECT_NEAR(got[i].volume, e.volume, 1e-9 * std::max(1.0, e.volume));
        ++i;
    }
}

TEST(Aggregate, RealTradesTo1m) {
    for (const char* rel : {"trades/freqtrade_XRP_ETH-trades.json.gz", "trades/freqtrade_kraken_BCHEUR.csv",
                            "trades/freqtrade_orderflow_public_trades_list.csv"}) {
        SCOPED_TRACE(rel);
        if (!std::filesystem::exists(test::shared_data() / rel)) GTEST_SKIP() << "shared data absent: " << rel;
        const auto trades = read_trades(test::shared_data() / rel);
        ASSERT_GT(trades.size(), 100u);
        expect_equal(aggregate(trades, kMinute), group_by(trades, kMinute, trade_time, trade_fields));
    }
}

Bar minute(int m, double price) {
    Bar b;
    b.symbol = "T";
    b.interval = kMinute;
    b.open_time = m * kMinute;
    b.close_time = b.open_time + kMinute;
    b.open = b.high = b.low = b.close = price;
    b.volume = 1;
    return b;
}

TEST(Trades, CsvRoundTripOfEveryRealFormat) {
    for (const char* rel : {"trades/freqtrade_XRP_ETH-trades.json.gz", "trades/freqtrade_kraken_BCHEUR.csv",
                            "trades/freqtrade_orderflow_public_trades_list.csv"}) {
        SCOPED_TRACE(rel);
        PRICECAST_REQUIRE_SHARED(rel);
        const auto trades = read_trades(test::shared_data() / rel);
        const test::TempDir dir("trades-roundtrip");
        const auto out = dir / "pricecast_trades_roundtrip.csv";
        {
            std::ofstream f(out);
            write_trades_csv(f, trades);
        }
        const auto back = read_trades(out, trades.front().symbol);
        ASSERT_EQ(back.size(), trades.size());
        for (std::size_t i = 0; i < trades.size(); ++i) {
            EXPECT_EQ(back[i].time, trades[i].time);
            EXPECT_EQ(back[i].price, trades[i].price);
            EXPECT_EQ(back[i].amount, trades[i].amount);
            EXPECT_EQ(back[i].side, trades[i].side);
        }
    }
}

TEST(Aggregate, GapsPartialBarsAndOutOfOrder) {
    BarAggregator agg(5 * kMinute);
    EXPECT_FALSE(agg.add(minute(0, 10)));
    EXPECT_FALSE(agg.add(minute(1, 12)));
    ASSERT_TRUE(agg.peek());
    EXPECT_EQ(agg.peek()->bar.close, 12);
    EXPECT_TRUE(agg.peek()->partial);
    auto closed = agg.add(minute(11, 9));  // minutes 5-9 missing: a gap, no bar for them
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->bar.open_time, 0);
    EXPECT_EQ(closed->constituents, 2);
    EXPECT_TRUE(closed->partial);
    EXPECT_EQ(closed->bar.high, 12);
    EXPECT_FALSE(agg.add(minute(3, 50)));  // older than the open bucket
    EXPECT_EQ(agg.rejected(), 1u);
    auto last = agg.flush();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->bar.open_time, 10 * kMinute);
    EXPECT_EQ(last->bar.high, 9);
    EXPECT_FALSE(agg.flush());
}

TEST(Trades, BadRecordNamesFileAndLine) {
    const test::TempDir dir("bad-trades");
    const auto tmp = dir / "pricecast_bad_trades.csv";
    { std::ofstream(tmp) << "1672531436,90.54,1.1\n1672531471,abc,1.0\n"; }
    try {
        read_trades(tmp);
        FAIL() << "no error";
    } catch (const DataError& e) {
        EXPECT_NE(std::string(e.what()).find(":2: price"), std::string::npos) << e.what();
    }
    { std::ofstream(tmp) << "1672531436,90.54,1.1\n99999999999,90.5,1.0\n"; }
    try {
        read_trades(tmp);
        FAIL() << "a time past int64 nanoseconds was read";
    } catch (const DataError& e) {
        EXPECT_NE(std::string(e.what()).find(":2: timestamp 99999999999 is no time"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace pricecast::data
