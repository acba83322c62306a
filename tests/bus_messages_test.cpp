// Wire messages: exact round trips (ns times, NaN feature values) and a clear
// error naming the field for each kind of bad message.
#include <cmath>

#include <gtest/gtest.h>

#include "bus/messages.hpp"

namespace pricecast::bus {
namespace {

TEST(Messages, BarRoundTripIsExact) {
    Bar b{"BTC-USD", kMinute, 1'704'153'600'123'456'789, 1'704'153'660'123'456'789, 42000.5, 42010.25, 41990.125,
          42005.0625, 12.5, 77};
    const Bar r = decode_bar(encode(b));
    EXPECT_EQ(r.symbol, b.symbol);
    EXPECT_EQ(r.interval, b.interval);
    EXPECT_EQ(r.open_time, b.open_time);
    EXPECT_EQ(r.close_time, b.close_time);
    EXPECT_EQ(r.open, b.open);
    EXPECT_EQ(r.high, b.high);
    EXPECT_EQ(r.low, b.low);
    EXPECT_EQ(r.close, b.close);
    EXPECT_EQ(r.volume, b.volume);
    EXPECT_EQ(r.trade_count, b.trade_count);
}

TEST(Messages, NewsRoundTripKeepsNanosecondsAndSentiment) {
    NewsItem n{"n1", 1'704'153'600'000'000'123, "wire", {"AAA", "BBB"}, "Profit soars", "body", 0.75};
    const NewsItem r = decode_news(encode(n));
    EXPECT_EQ(r.id, "n1");
    EXPECT_EQ(r.event_time, n.event_time);
    EXPECT_EQ(r.symbols, n.symbols);
    EXPECT_EQ(r.headline, n.headline);
    EXPECT_EQ(r.sentiment, 0.75);
    n.sentiment = std::nan("");
    EXPECT_TRUE(std::isnan(decode_news(encode(n)).sentiment));
    EXPECT_FALSE(decode_clock(encode(n)));
}

TEST(Messages, NewsClockRoundTrip) {
    const auto c = decode_clock(encode(NewsClock{1'704'153'660'000'000'001, {"A", "B"}}));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->time, 1'704'153'660'000'000'001);
    EXPECT_EQ(c->symbols, (std::vector<std::string>{"A", "B"}));
    EXPECT_FALSE(decode_clock(R"({"v":1,"id":"a","headline":"the clock struck","event_time":1704153600000000000})"));
    EXPECT_THROW(decode_clock(R"({"v":1,"type":"clock"})"), MessageError);
}

TEST(Messages, NewsAcceptsTheFileLayout) {
    const NewsItem r = decode_news(R"({"id":"x","event_time":"2024-01-02T00:00:00Z","symbols":"AAA;BBB","headline":"h"})");
    EXPECT_EQ(r.event_time, 1'704'153'600 * kSecond);
    EXPECT_EQ(r.symbols, (std::vector<std::string>{"AAA", "BBB"}));
}

TEST(Messages, FeaturesRoundTripKeepsNaN) {
    features::FeatureVector f{0xfedcba9876543210ull, "ETH", 1'704'153'660 * kSecond, 2300.5, {1.5, std::nan(""), -0.25}, false};
    const auto r = decode_features(encode(f));
    EXPECT_EQ(r.schema_hash, f.schema_hash);
    EXPECT_EQ(r.symbol, f.symbol);
    EXPECT_EQ(r.close_time, f.close_time);
    EXPECT_EQ(r.close, f.close);
    EXPECT_FALSE(r.complete);
    ASSERT_EQ(r.values.size(), 3u);
    EXPECT_EQ(r.values[0], 1.5);
    EXPECT_TRUE(std::isnan(r.values[1]));
    EXPECT_EQ(r.values[2], -0.25);
}

TEST(Messages, PredictionRoundTrip) {
    Prediction p;
    p.symbol = "SOL";
    p.bar_time = 5;
    p.feature_time = 4;
    p.model = "trend";
    p.version = 3;
    p.slot = "challenger";
    p.cls = 2;
    p.probs = {0.1f, 0.2f, 0.7f};
    p.confidence = 0.7f;
    p.close = 101.5;
    p.latency = 1234;
    p.published_at = 99;
    const Prediction r = decode_prediction(encode(p));
    EXPECT_EQ(r.symbol, p.symbol);
    EXPECT_EQ(r.bar_time, p.bar_time);
    EXPECT_EQ(r.feature_time, p.feature_time);
    EXPECT_EQ(r.model, p.model);
    EXPECT_EQ(r.version, p.version);
    EXPECT_EQ(r.slot, p.slot);
    EXPECT_EQ(r.cls, p.cls);
    EXPECT_EQ(r.probs, p.probs);
    EXPECT_EQ(r.confidence, p.confidence);
    EXPECT_EQ(r.close, p.close);
    EXPECT_EQ(r.latency, p.latency);
    EXPECT_EQ(r.published_at, p.published_at);
}

void expect_error(auto decode, std::string_view text, const std::string& needle) {
    try {
        decode(text);
        ADD_FAILURE() << "accepted: " << text;
    } catch (const MessageError& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(Messages, BadMessagesNameTheProblem) {
    expect_error(decode_bar, "not json", "not a JSON object");
    expect_error(decode_bar, "[1,2]", "not a JSON object");
    expect_error(decode_bar, R"({"symbol":"A"})", "\"v\"");
    expect_error(decode_bar, R"({"v":2,"symbol":"A"})", "\"v\" must be 1");
    expect_error(decode_bar, R"({"v":1,"symbol":"A","interval":60})", "missing field \"open_time\"");
    expect_error(decode_bar,
                 R"({"v":1,"symbol":"A","interval":1,"open_time":0,"close_time":1,"open":"x","high":1,"low":1,"close":1,"volume":1})",
                 "field \"open\" has the wrong type");
    expect_error(decode_news, R"({"id":"a","headline":"h"})", "event time");
    expect_error(decode_news, R"({"id":"a","event_time":1704153600000000000})", "empty text");
    expect_error([](std::string_view t) { return decode_features(t); }, R"({"v":1,"schema":1,"symbol":"A","close_time":1,"close":1,"complete":true,"values":[1,"x"]})",
                 "non-number");
    expect_error(decode_prediction,
                 R"({"v":1,"symbol":"A","bar_time":1,"feature_time":1,"model":"m","version":1,"slot":"champion","class":7,"probs":[0,0,1],"confidence":1,"close":1,"latency":0,"published_at":0})",
                 "\"class\" must be 0, 1 or 2");
}

}  // namespace
}  // namespace pricecast::bus
