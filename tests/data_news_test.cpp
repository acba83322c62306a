// News readers: CSV (RFC 4180 quoting, embedded newlines) and JSON lines, a
// reason and line number for each bad record, and a JSONL round trip.
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "data/news.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::data {
namespace {

TEST(News, CsvWithQuotesAndBadRecords) {
    const auto f = read_news_file(test::test_data() / "news.csv");
    ASSERT_EQ(f.items.size(), 2u);
    EXPECT_EQ(f.items[0].headline, "ACME beats estimates, raises \"full-year\" guidance");
    EXPECT_EQ(f.items[0].body, "Multi-line\nbody text");
    EXPECT_EQ(f.items[0].symbols, (std::vector<std::string>{"ACME", "BOLT"}));
    EXPECT_EQ(f.items[0].event_time, *parse_iso8601("2024-01-02T10:00:00Z"));
    EXPECT_EQ(f.items[1].event_time, 1704189600 * kSecond);
    ASSERT_EQ(f.rejected.size(), 3u);
    EXPECT_EQ(f.rejected[0].line, 5u);  // the quoted newline makes n1 span lines 2-3
    EXPECT_EQ(f.rejected[0].reason, "missing or invalid event time");
    EXPECT_EQ(f.rejected[1].line, 6u);
    EXPECT_EQ(f.rejected[1].reason, "empty text");
    EXPECT_EQ(f.rejected[2].line, 7u);
}

TEST(News, JsonLines) {
    const auto f = read_news_file(test::test_data() / "news.jsonl");
    ASSERT_EQ(f.items.size(), 2u);
    EXPECT_EQ(f.items[0].event_time, *parse_iso8601("2024-01-02T10:00:00.5Z"));
    EXPECT_DOUBLE_EQ(f.items[0].sentiment, 0.6);
    EXPECT_EQ(f.items[1].event_time, 1704189600 * kSecond);
    EXPECT_EQ(f.items[1].symbols, (std::vector<std::string>{"ACME", "BOLT"}));
    EXPECT_TRUE(std::isnan(f.items[1].sentiment));
    ASSERT_EQ(f.rejected.size(), 2u);
    EXPECT_EQ(f.rejected[0].line, 3u);
    EXPECT_EQ(f.rejected[0].reason, "not a JSON object");
    EXPECT_EQ(f.rejected[1].line, 4u);
    EXPECT_EQ(f.rejected[1].reason, "sentiment outside [-1, 1]");
}

// A time past what int64 nanoseconds hold is rejected with its line, not wrapped
// around to another time; the valid records are kept.
TEST(News, TimesPastInt64NanosecondsAreRejected) {
    const test::TempDir dir("news-far");
    std::ofstream(dir / "far.jsonl")
        << R"({"event_time":"9999-12-31T00:00:00Z","headline":"a"})" "\n"
        << R"({"event_time":99999999999,"headline":"b"})" "\n"
        << R"({"event_time":9999999999999999,"headline":"c"})" "\n"
        << R"({"event_time":18446744073709551615,"headline":"d"})" "\n"
        << R"({"event_time":"2024-01-02T10:00:00Z","headline":"kept"})" "\n";
    const auto f = read_news_file(dir / "far.jsonl");
    ASSERT_EQ(f.items.size(), 1u);
    EXPECT_EQ(f.items[0].headline, "kept");
    ASSERT_EQ(f.rejected.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(f.rejected[i].line, i + 1);
        EXPECT_EQ(f.rejected[i].reason, "missing or invalid event time");
    }
}

// An unclosed quote would swallow the rest of the file: its line is rejected and
// the lines after it are read again.
TEST(News, UnclosedQuoteLosesOnlyItsLine) {
    const auto f = read_news_file(test::test_data() / "bad" / "news_unclosed_quote.csv");
    ASSERT_EQ(f.items.size(), 2u);
    EXPECT_EQ(f.items[0].headline, "good news");
    EXPECT_EQ(f.items[1].headline, "bad news");
    ASSERT_EQ(f.rejected.size(), 1u);
    EXPECT_EQ(f.rejected[0].line, 2u);
    EXPECT_EQ(f.rejected[0].reason, "quoted field never closed");
}

// A quote closed by a later line's quote gives a record of the wrong width
// across lines; a valid multi-line headline after it is still read.
TEST(News, QuoteClosedOnALaterLineLosesOnlyItsLine) {
    const auto f = read_news_file(test::test_data() / "bad" / "news_quote_closed_later.csv");
    ASSERT_EQ(f.items.size(), 3u);
    EXPECT_EQ(f.items[0].headline, "closes here");
    EXPECT_EQ(f.items[1].headline, "multi\nline");
    EXPECT_EQ(f.items[2].headline, "valid");
    ASSERT_EQ(f.rejected.size(), 1u);
    EXPECT_EQ(f.rejected[0].line, 2u);
    EXPECT_NE(f.rejected[0].reason.find("runs past the end of the line"), std::string::npos) << f.rejected[0].reason;
}

TEST(News, SentimentMustBeANumber) {
    for (const char* file : {"news_sentiment_text.csv", "news_sentiment_text.jsonl"}) {
        const auto f = read_news_file(test::test_data() / "bad" / file);
        ASSERT_EQ(f.rejected.size(), 2u) << file;
        EXPECT_EQ(f.rejected[0].line, std::string(file).ends_with("csv") ? 2u : 1u) << file;
        for (const auto& r : f.rejected) EXPECT_TRUE(r.reason.starts_with("sentiment must be a number")) << r.reason;
        ASSERT_FALSE(f.items.empty()) << file;
        EXPECT_FALSE(std::isnan(f.items.back().sentiment)) << file;
    }
}

TEST(News, JsonlRoundTrip) {
    const auto items = read_news(test::test_data() / "news.csv");
    std::ostringstream out;
    write_news_jsonl(out, items);
    const test::TempDir dir("news-roundtrip");
    const auto tmp = dir / "pricecast_news_roundtrip.jsonl";
    { std::ofstream(tmp) << out.str(); }
    const auto back = read_news(tmp);
    ASSERT_EQ(back.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(back[i].id, items[i].id);
        EXPECT_EQ(back[i].event_time, items[i].event_time);
        EXPECT_EQ(back[i].symbols, items[i].symbols);
        EXPECT_EQ(back[i].headline, items[i].headline);
        EXPECT_EQ(back[i].body, items[i].body);
    }
}

}  // namespace
}  // namespace pricecast::data
