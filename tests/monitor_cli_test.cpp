// pricecast monitor report on the built binary: a prediction log written with
// the library, read back as a table and as JSON; bad flags exit 2 naming the flag.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "monitor/monitor.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;
using namespace monitor;

using Result = test::CliRun;

constexpr Timestamp kT0 = 1'704'153'600 * kSecond;  // 2024-01-02T00:00:00Z

class MonitorReport : public testing::Test {
protected:
    void SetUp() override {
        PredictionLog log(PredictionLog::default_path(dir_ / "data"));
        // gbdt v2 on ACME: bars 0..3, right on 0 and 1, wrong on 2, bar 3 pending; rf v1 on BOLT: bar 3.
        const int predicted[] = {2, 0, 1, 1}, realized[] = {2, 0, 0};
        for (int i = 0; i < 4; ++i) {
            Prediction p;
            p.symbol = "ACME", p.model = "gbdt", p.version = 2, p.bar_time = kT0 + i * kHour;
            p.cls = predicted[i];
            p.probs = {0.2f, 0.2f, 0.2f};
            p.probs[std::size_t(p.cls)] = 0.6f;
            p.close = 100;
            log.append(p);
            if (i < 3) log.set_outcome({"ACME", p.bar_time, realized[i], 101, p.bar_time + kHour});
        }
        Prediction other;
        other.symbol = "BOLT", other.model = "rf", other.version = 1, other.bar_time = kT0 + 3 * kHour, other.close = 5;
        other.probs = {0.1f, 0.8f, 0.1f};
        log.append(other);
    }
    Result run(const std::string& args) { return test::run_pricecast(args, dir_.path()); }
    std::string data_dir() const { return fmt::format("--data-dir '{}'", (dir_ / "data").string()); }
    test::TempDir dir_{"monitor-cli"};
};

TEST_F(MonitorReport, JsonHasTheLogsNumbers) {
    const auto r = run("monitor report --json --model gbdt --window 24h " + data_dir());
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.size(), 2u);  // all symbols, then ACME
    EXPECT_EQ(j[0]["model"], "gbdt");
    EXPECT_EQ(j[0]["version"], 2);
    EXPECT_EQ(j[0]["symbol"], "all");
    EXPECT_EQ(j[0]["end"], "2024-01-02T03:00:00Z");
    EXPECT_EQ(j[0]["metrics"]["predictions"], 4);
    EXPECT_EQ(j[0]["metrics"]["resolved"], 3);
    EXPECT_DOUBLE_EQ(j[0]["metrics"]["accuracy"].get<double>(), 2.0 / 3);
    EXPECT_DOUBLE_EQ(j[0]["metrics"]["class_mix"]["stable"].get<double>(), 0.5);
    EXPECT_EQ(j[1]["symbol"], "ACME");
}

TEST_F(MonitorReport, WindowEndsAtTheNewestPredictionOrAt) {
    auto r = run("monitor report --json --model gbdt --symbol ACME --window 2h " + data_dir());
    ASSERT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["metrics"]["predictions"], 2);  // bars 2 and 3
    EXPECT_EQ(j[0]["metrics"]["resolved"], 1);
    r = run("monitor report --json --model gbdt --symbol ACME --window 2h --at 2024-01-02T01:00:00Z " + data_dir());
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j[0]["metrics"]["predictions"], 2);  // bars 0 and 1
    EXPECT_DOUBLE_EQ(j[0]["metrics"]["accuracy"].get<double>(), 1.0);
}

TEST_F(MonitorReport, TableListsEveryModelAndWindow) {
    const auto r = run("monitor report " + data_dir());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("window end 2024-01-02T03:00:00Z"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("gbdt"), std::string::npos);
    EXPECT_NE(r.out.find("rf"), std::string::npos);
    EXPECT_NE(r.out.find("66.7"), std::string::npos) << r.out;  // gbdt accuracy
    EXPECT_NE(r.out.find("7d"), std::string::npos) << r.out;    // the 168h window
    EXPECT_NE(r.out.find("performance gbdt v2 champion all: 66.7% over 1d vs 66.7% over 7d: too few resolved"),
              std::string::npos)
        << r.out;
    const auto low = run("monitor report --min-samples 3 --model gbdt " + data_dir());
    EXPECT_NE(low.out.find("performance gbdt v2 champion all: 66.7% over 1d vs 66.7% over 7d: ok"), std::string::npos)
        << low.out;
}

TEST_F(MonitorReport, BadInputExitsTwoNamingTheFlag) {
    auto r = run("monitor report --window 5x " + data_dir());
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--window"), std::string::npos) << r.err;
    r = run("monitor report --window -3h " + data_dir());
    EXPECT_EQ(r.status, 2);
    r = run("monitor report --at yesterday " + data_dir());
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--at"), std::string::npos) << r.err;
    r = run("monitor report --version -1 " + data_dir());
    EXPECT_EQ(r.status, 2);
    r = run("monitor report --min-samples 0 " + data_dir());
    EXPECT_EQ(r.status, 2);
    r = run(fmt::format("monitor report --data-dir '{}'", (dir_ / "nowhere").string()));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("no prediction log"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "nowhere")) << "a report must not create a log";
    r = run("monitor");
    EXPECT_EQ(r.status, 2);
}

}  // namespace
}  // namespace pricecast
