// OHLCV readers: real files of every format in ../shared/data, one bad-input
// file per rejection reason (library and CLI), newest-first files, round trip.
#include <cstdio>
#include <sstream>

#include <gtest/gtest.h>

#include "data/ohlcv.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::data {
namespace {

using test::test_data;

struct BadCase {
    const char* file;
    Reason reason;
    std::size_t line;
    std::size_t accepted;
};

class BadInput : public testing::TestWithParam<BadCase> {};

TEST_P(BadInput, RejectedWithReasonAndLineValidRowsKept) {
    const auto& c = GetParam();
    const auto f = read_bar_file(test_data() / "bad" / c.file);
    EXPECT_EQ(f.report.accepted, c.accepted);
    EXPECT_EQ(f.bars.size(), c.accepted);
    ASSERT_EQ(f.report.counts.count(c.reason), 1u) << to_string(c.reason);
    EXPECT_EQ(f.report.first_lines.at(c.reason).front(), c.line);
}

TEST_P(BadInput, DataCheckReportsLineAndExitsTwo) {
    const auto& c = GetParam();
    const std::string cmd = test::pricecast_binary().string() + " data check " + (test_data() / "bad" / c.file).string();
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = pclose(p);
    EXPECT_EQ(WEXITSTATUS(status), 2) << out;
    EXPECT_NE(out.find(std::string(to_string(c.reason))), std::string::npos) << out;
    const char* unit = std::string_view(c.file).ends_with(".json") ? "record " : "line ";
    EXPECT_NE(out.find(unit + std::to_string(c.line)), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, BadInput,
    testing::Values(BadCase{"non_finite.csv", Reason::non_finite, 3, 2},
                    BadCase{"zero_price.csv", Reason::non_positive_price, 3, 2},
                    BadCase{"negative_price.csv", Reason::non_positive_price, 3, 2},
                    BadCase{"high_below.csv", Reason::high_below_open_close, 3, 2},
                    BadCase{"low_above.csv", Reason::low_above_open_close, 3, 2},
                    BadCase{"negative_volume.csv", Reason::negative_volume, 3, 2},
                    BadCase{"negative_volume.json", Reason::negative_volume, 2, 2},
                    BadCase{"duplicate.csv", Reason::duplicate_timestamp, 4, 3},
                    BadCase{"out_of_order.csv", Reason::out_of_order, 4, 3},
                    BadCase{"unparsable.csv", Reason::unparsable, 3, 2}),
    [](const auto& info) {
        std::string n = info.param.file;
        for (auto& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return n;
    });

TEST(OhlcvReader, UnparsableLinesAllCounted) {
    const auto f = read_bar_file(test_data() / "bad" / "unparsable.csv");
    EXPECT_EQ(f.report.counts.at(Reason::unparsable), 3u);  // not a number, missing fields, impossible date
    EXPECT_EQ(f.report.first_lines.at(Reason::unparsable), (std::vector<std::size_t>{3, 4, 5}));
}

TEST(OhlcvReader, UnparsableNamesTheField) {
    const auto f = read_bar_file(test_data() / "bad" / "unparsable.csv");
    EXPECT_EQ(f.report.first_detail.at(Reason::unparsable), "high 'eleven' is not a number");
}

// Times past what int64 nanoseconds hold are unparsable records, not wrapped-around
// times (which the order check would have blamed instead); exact integer
// nanoseconds still read exactly.
TEST(OhlcvReader, TimesPastInt64NanosecondsAreUnparsable) {
    const test::TempDir dir("ohlcv-far");
    std::ofstream(dir / "far.csv") << "time,open,high,low,close,volume\n"
                                   << "1704153600000000001,1,1,1,1,1\n"
                                   << "9999-01-01,1,1,1,1,1\n"
                                   << "99999999999,1,1,1,1,1\n"
                                   << "99999999999999999999,1,1,1,1,1\n"
                                   << "1704153660123,1,1,1,1,1\n";
    const auto f = read_bar_file(dir / "far.csv");
    ASSERT_EQ(f.bars.size(), 2u);
    EXPECT_EQ(f.bars[0].open_time, 1704153600000000001);
    EXPECT_EQ(f.bars[1].open_time, 1704153660123 * kMillisecond);
    EXPECT_EQ(f.report.counts.at(Reason::unparsable), 3u);
    EXPECT_EQ(f.report.first_lines.at(Reason::unparsable), (std::vector<std::size_t>{3, 4, 5}));
}

// A download cut short must not pass for a complete file: the last, partial
// candle is rejected and the break is reported at its byte offset.
TEST(OhlcvReader, TruncatedJsonIsBroken) {
    const auto f = read_bar_file(test_data() / "bad" / "truncated.json");
    EXPECT_EQ(f.bars.size(), 1u);
    EXPECT_EQ(f.report.records, 2u);
    EXPECT_EQ(f.report.first_lines.at(Reason::unparsable), (std::vector<std::size_t>{2}));
    ASSERT_EQ(f.report.broken.size(), 1u);
    EXPECT_EQ(f.report.broken[0], "byte 53: the file ends inside record 2 (truncated)");
    EXPECT_FALSE(f.report.clean());
}

TEST(OhlcvReader, TextAfterTheJsonArrayIsBroken) {
    const auto f = read_bar_file(test_data() / "bad" / "trailing_text.json");
    EXPECT_EQ(f.bars.size(), 2u);
    ASSERT_EQ(f.report.broken.size(), 1u);
    EXPECT_EQ(f.report.broken[0], "byte 64: text after the closing ']' of the array");
}

TEST(OhlcvReader, JsonPositionsAreRecordNumbers) {
    const auto f = read_bar_file(test_data() / "bad" / "pretty_unparsable.json");
    EXPECT_TRUE(f.report.record_numbers);
    EXPECT_EQ(f.report.first_lines.at(Reason::unparsable), (std::vector<std::size_t>{3}));  // on physical line 4
    const auto lines = describe_problems(f.report);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("first at record 3 (high 'x' is not a number)"), std::string::npos) << lines[0];
    EXPECT_TRUE(f.report.broken.empty());
}

TEST(OhlcvReader, DirectoryIsAnErrorNamingIt) {
    try {
        read_bars(test_data() / "bad");
        FAIL() << "no error";
    } catch (const DataError& e) {
        EXPECT_EQ(std::string(e.what()), (test_data() / "bad").string() + ": is a directory");
    }
}

TEST(OhlcvReader, OneBarLeavesTheIntervalUnknown) {
    const auto f = read_bar_file(test_data() / "bad" / "one_bar.csv");
    ASSERT_EQ(f.bars.size(), 1u);
    EXPECT_EQ(f.bars[0].interval, 0);
}

TEST(OhlcvReader, MissingColumnIsAnErrorNamingTheFile) {
    try {
        read_bars(test_data() / "bad" / "no_close_column.csv");
        FAIL() << "no error";
    } catch (const DataError& e) {
        EXPECT_NE(std::string(e.what()).find("no_close_column.csv:1"), std::string::npos) << e.what();
    }
    EXPECT_THROW(read_bars(test_data() / "bad" / "does_not_exist.csv"), DataError);
}

TEST(OhlcvReader, NewestFirstFileIsReversed) {
    const auto f = read_bar_file(test_data() / "newest_first.csv");
    EXPECT_TRUE(f.report.reversed);
    ASSERT_EQ(f.bars.size(), 4u);
    EXPECT_EQ(f.bars.front().open_time, *parse_iso8601("2024-01-02"));
    EXPECT_EQ(f.bars.back().open_time, *parse_iso8601("2024-01-05"));
    EXPECT_EQ(f.bars.front().interval, kDay);
}

TEST(OhlcvReader, CsvRoundTrip) {
    auto bars = read_bars(test_data() / "newest_first.csv");
    std::ostringstream out;
    write_bars_csv(out, bars);
    const test::TempDir dir("ohlcv-roundtrip");
    const auto tmp = dir / "pricecast_roundtrip.csv";
    { std::ofstream(tmp) << out.str(); }
    auto back = read_bars(tmp, {.symbol = "newest_first"});
    ASSERT_EQ(back.size(), bars.size());
    for (std::size_t i = 0; i < bars.size(); ++i) {
        EXPECT_EQ(back[i].open_time, bars[i].open_time);
        EXPECT_EQ(back[i].close, bars[i].close);
        EXPECT_EQ(back[i].volume, bars[i].volume);
    }
}

struct RealFile {
    const char* path;
    std::size_t bars;
    const char* first;
    double first_close;
    Duration interval;
};

class RealFiles : public testing::TestWithParam<RealFile> {};

TEST_P(RealFiles, ReadWithExpectedShape) {
    const auto& c = GetParam();
    PRICECAST_REQUIRE_SHARED(c.path);
    const auto f = read_bar_file(test::shared_data() / c.path);
    EXPECT_EQ(f.report.rejected(), 0u);
    ASSERT_EQ(f.bars.size(), c.bars);
    EXPECT_EQ(format_iso8601(f.bars.front().open_time), c.first);
    EXPECT_DOUBLE_EQ(f.bars.front().close, c.first_close);
    EXPECT_EQ(f.bars.front().interval, c.interval);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, RealFiles,
    testing::Values(RealFile{"ohlcv/freqtrade/ETH_BTC-5m.json", 5760, "2018-01-10T04:55:00Z", 0.0994766, 5 * kMinute},
                    RealFile{"ohlcv/backtesting_py/EURUSD.csv", 5000, "2017-04-19T09:00:00Z", 1.07219, kHour},
                    RealFile{"ohlcv/backtrader/2006-01-02-volume-min-001.txt", 30889, "2006-01-02T09:01:00Z", 3599.0,
                             kMinute},
                    RealFile{"ohlcv/backtrader/2006-min-005.txt", 2142, "2006-01-02T09:05:00Z", 3582.99, 5 * kMinute},
                    RealFile{"ohlcv/backtrader/orcl-1995-2014.txt", 5036, "1995-01-03T00:00:00Z", 2.117284, kDay},
                    RealFile{"ohlcv/zipline/AAPL.csv", 754, "2012-01-03T00:00:00Z", 58.747143, kDay}),
    [](const auto& info) { return "file" + std::to_string(info.index); });

}  // namespace
}  // namespace pricecast::data
