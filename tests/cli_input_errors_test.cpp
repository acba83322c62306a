// Bad input on the command line, checked on the built binary: a clear message
// naming the file, field or line, exit status 2, never a crash, and the valid
// data still used (README "A tour of the CLI": 2 on bad usage or bad input).
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;

using Result = test::CliRun;

class CliInputErrors : public testing::Test {
protected:
    Result run(const std::string& args) { return test::run_pricecast(args, dir_.path(), "", dir_.path()); }
    static std::string bad(const std::string& name) { return (test::test_data() / "bad" / name).string(); }
    test::TempDir dir_{"input-errors"};
};

constexpr const char* kHeader = "time,open,high,low,close,volume\n";

TEST_F(CliInputErrors, TooFewBarsToInferTheIntervalIsAnErrorNotACrash) {
    std::ofstream(dir_ / "zero.csv") << kHeader;
    std::ofstream(dir_ / "one.json") << "[[1514764800000,1,2,0.5,1.5,10]]";
    for (const std::string cmd : {"features build --out o.csv --prices", "train --out t --prices",
                                  "backtest --out b --prices"}) {
        for (const std::string& file : {bad("one_bar.csv"), std::string("one.json")}) {
            const auto r = run(cmd + " " + file);
            EXPECT_EQ(r.status, 2) << cmd << " " << file << ": " << r.err;
            EXPECT_NE(r.err.find(file + ": too few bars to infer the bar interval"), std::string::npos) << r.err;
        }
        const auto r = run(cmd + " zero.csv");
        EXPECT_EQ(r.status, 2) << cmd << ": " << r.err;
        EXPECT_NE(r.err.find("no valid bars"), std::string::npos) << r.err;
    }
}

TEST_F(CliInputErrors, TwoBarsBuildFeatures) {
    std::ofstream(dir_ / "two.csv") << kHeader << "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                                    << "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n";
    const auto r = run("features build --prices two.csv --out o.csv");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("2 rows"), std::string::npos) << r.err;
}

// Bars of another interval than the first timeframe would all be dropped:
// refused before the work, saying which interval and where the timeframe came from.
TEST_F(CliInputErrors, BaseTimeframeOtherThanTheBarsIsRefused) {
    std::ofstream(dir_ / "two.csv") << kHeader << "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                                    << "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n";
    auto r = run("features build --prices two.csv --timeframes 5m,15m --out o.csv");
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("the bars are 1m apart, but the base timeframe is 5m (--timeframes)"), std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "o.csv"));
    std::ofstream(dir_ / "c.toml") << "[features]\ntimeframes = [\"5m\", \"1h\"]\n";
    r = run("features build --prices two.csv --config c.toml --out o.csv");
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("(features.timeframes, c.toml"), std::string::npos) << r.err;
}

TEST_F(CliInputErrors, UnclosedQuoteInNewsKeepsTheLinesAfterIt) {
    std::ofstream(dir_ / "ACME.csv") << kHeader << "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                                     << "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n";
    const auto r = run("features build --prices ACME.csv --timeframes 1m --out o.csv --news " +
                       bad("news_unclosed_quote.csv"));
    EXPECT_NE(r.err.find("news_unclosed_quote.csv:2: quoted field never closed"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("2 news in"), std::string::npos) << r.err;
}

TEST_F(CliInputErrors, BrokenJsonFailsDataCheckNamingWhere) {
    auto r = run("data check " + bad("truncated.json"));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("byte 53: the file ends inside record 2"), std::string::npos) << r.out;
    r = run("data check " + bad("trailing_text.json"));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("byte 64: text after the closing ']'"), std::string::npos) << r.out;
    r = run("data check " + bad("pretty_unparsable.json"));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("first at record 3 (high 'x' is not a number)"), std::string::npos) << r.out;
}

TEST_F(CliInputErrors, DirectoryAsInputFileIsNamed) {
    fs::create_directories(dir_ / "adir.csv");
    for (const std::string cmd : {"data check adir.csv", "indicators compute 'sma(2)' --prices adir.csv",
                                  "features build --out o.csv --prices adir.csv", "config check adir.csv",
                                  "sentiment eval --data adir.csv", "train --features adir.csv --out m"}) {
        const auto r = run(cmd);
        EXPECT_EQ(r.status, 2) << cmd;
        EXPECT_NE(r.err.find("adir.csv: is a directory"), std::string::npos) << cmd << ": " << r.err;
    }
}

TEST_F(CliInputErrors, ResampleToANonMultipleOfTheSourceInterval) {
    std::ofstream(dir_ / "m.csv") << kHeader << "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                                  << "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n";
    for (const char* to : {"7s", "90s"}) {
        const auto r = run(fmt::format("data resample m.csv --to {}", to));
        EXPECT_EQ(r.status, 2) << to;
        EXPECT_NE(r.err.find(fmt::format("--to {}: not a multiple of the source interval 1m", to)), std::string::npos)
            << r.err;
        EXPECT_EQ(r.out, "");
    }
    EXPECT_EQ(run("data resample m.csv --to 2m").status, 0);
    const auto r = run("data resample " + bad("one_bar.csv") + " --to 2m");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("source interval is unknown"), std::string::npos) << r.err;
}

TEST_F(CliInputErrors, UnknownIndicatorGroupListsTheGroups) {
    const auto r = run("indicators list --group bogus");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("'bogus' is not a group; groups: overlap,momentum"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(CliInputErrors, IndicatorsComputeReportsRejectedRows) {
    const auto r = run("indicators compute --prices " + bad("mixed.csv") + " 'sma(2)'");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("3 bars rejected"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("non-finite value                  1   first at line 3"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("first at line 5 (close 'abc' is not a number)"), std::string::npos) << r.err;
    // The valid bars are still written: a header and three rows.
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
}

// A price or news file with bad records: the matrix is still written for the
// valid ones, stderr names the reasons and lines, and the status says so.
TEST_F(CliInputErrors, FeaturesBuildWritesTheValidRowsAndExitsTwoOnRejectedRecords) {
    const auto prices = run("features build --out f.csv --timeframes 1m --indicators 'sma(2)' "
                            "--prices " + bad("mixed.csv"));
    EXPECT_EQ(prices.status, 2) << prices.err;
    EXPECT_NE(prices.err.find("3 bars rejected, left out"), std::string::npos) << prices.err;
    EXPECT_NE(prices.err.find("first at line 5 (close 'abc' is not a number)"), std::string::npos) << prices.err;
    std::ifstream rows(dir_ / "f.csv");
    const std::string text((std::istreambuf_iterator<char>(rows)), std::istreambuf_iterator<char>());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << "a header and the three valid bars: " << text;

    std::ofstream(dir_ / "ok.csv") << kHeader << "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                                   << "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n";
    const auto news = run("features build --out g.csv --timeframes 1m --indicators 'sma(2)' --prices ok.csv --news " +
                          bad("news_sentiment_text.jsonl"));
    EXPECT_EQ(news.status, 2) << news.err;
    EXPECT_TRUE(std::filesystem::exists(dir_ / "g.csv")) << news.err;

    // Too few valid bars to go on: the rejected ones are still named first.
    std::ofstream(dir_ / "few.csv") << kHeader << "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                                    << "not-a-time,1,2,0.5,1.5,10\n";
    const auto few = run("features build --out h.csv --prices few.csv");
    EXPECT_EQ(few.status, 2) << few.err;
    const auto too_few = few.err.find("too few bars to infer the bar interval");
    ASSERT_NE(too_few, std::string::npos) << few.err;
    EXPECT_LT(few.err.find("time 'not-a-time' is not a date/time"), too_few) << few.err;
}

}  // namespace
}  // namespace pricecast
