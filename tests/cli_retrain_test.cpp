// Retraining on drift, end to end on the built binary: a demo whose market
// switches into a volatile regime after training raises a data drift alert
// against the champion's stored reference, trains a new version on the recent
// feature vectors and makes it the challenger; the champion keeps serving.
// The control run (no regime switch) registers nothing new.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "monitor/monitor.hpp"
#include "registry/registry.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;

class CliRetrain : public testing::Test {
protected:
    void SetUp() override { std::ofstream(dir_ / "drift.toml") << kConfig; }

    // Runs the demo into data dir `name`; returns its exit status, stdout+stderr in `log`.
    int demo(const std::string& name, const std::string& extra, std::string& log) {
        const auto out = dir_ / (name + ".log");
        const auto cmd = fmt::format(
            "{} demo --no-browser --ws-port -1 --port 0 --history 1500 --steps 900 --speed max --switch-prob 0 "
            "--seed 11 {} --data-dir '{}' --config '{}' >'{}' 2>&1",
            test::pricecast_binary().string(), extra, (dir_ / name).string(), (dir_ / "drift.toml").string(),
            out.string());
        const int status = std::system(cmd.c_str());
        std::ifstream in(out);
        std::ostringstream s;
        s << in.rdbuf();
        log = s.str();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    // Few features (one of them volatility, which the regime switch moves),
    // hour-scale monitoring windows and retraining switched on; performance
    // drift is off (a 5-point drop over two hours happens by chance), so data
    // drift is the only trigger.
    static constexpr const char* kConfig =
        "[features]\ntimeframes = [\"1m\"]\nindicators = [\"rsi(14)\", \"natr(14)\", \"roc(10)\"]\n"
        "sentiment_windows = [\"10m\"]\n"
        "[monitor]\nshort_window = \"2h\"\nlong_window = \"6h\"\nevaluate_every = \"15m\"\n"
        "max_accuracy_drop = 1.0\nretrain_on_drift = true\nretrain_window = \"12h\"\nretrain_cooldown = \"24h\"\n";
    test::TempDir dir_{"cli-retrain"};
};

TEST_F(CliRetrain, DriftAfterARegimeSwitchTrainsAChallengerAndLeavesTheChampion) {
    std::string log;
    ASSERT_EQ(demo("switch", "--regime-switch-at 1500", log), 0) << log;
    EXPECT_NE(log.find("alert data_drift"), std::string::npos) << log;
    EXPECT_NE(log.find("retraining trend on"), std::string::npos) << log;

    registry::Registry reg(dir_ / "switch");
    EXPECT_EQ(reg.alias_version("trend", "champion"), 1);
    ASSERT_EQ(reg.alias_version("trend", "challenger"), 2) << log;
    const auto v2 = reg.resolve("trend", "challenger");
    EXPECT_EQ(v2.tags.at("trigger"), "drift");
    EXPECT_NE(v2.description.find("retrained on drift"), std::string::npos) << v2.description;
    const auto v1 = reg.resolve("trend", "champion");
    // The champion's label rule (quantile cut points are refit on the recent rows).
    for (const char* key : {"mode", "horizon", "quantile"}) EXPECT_EQ(v2.params.at(key), v1.params.at(key)) << key;
    // The challenger carries its own drift reference, so monitoring it later has one.
    const auto ref = monitor::Reference::load(v2.artifact_dir);
    ASSERT_TRUE(ref.has_value());
    EXPECT_FALSE(ref->features().empty());
}

TEST_F(CliRetrain, WithoutARegimeSwitchNothingIsRetrained) {
    std::string log;
    ASSERT_EQ(demo("calm", "", log), 0) << log;
    registry::Registry reg(dir_ / "calm");
    EXPECT_EQ(reg.alias_version("trend", "champion"), 1);
    EXPECT_FALSE(reg.alias_version("trend", "challenger").has_value()) << log;
    EXPECT_EQ(reg.list_versions("trend").size(), 1u);
    EXPECT_EQ(log.find("retraining trend on"), std::string::npos) << log;
}

// Retraining waits for monitor.retrain_after_checks drifting evaluations in a
// row; a value below 1 stops the demo at startup with a usage error naming it.
TEST_F(CliRetrain, RetrainAfterChecksBelowOneIsAUsageError) {
    std::ofstream(dir_ / "drift.toml", std::ios::app) << "retrain_after_checks = 0\n";  // under [monitor]
    std::string log;
    EXPECT_EQ(demo("bad", "", log), 2) << log;
    EXPECT_NE(log.find("monitor.retrain_after_checks: 0 is not in [1, 10000]"), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(dir_ / "bad" / "registry")) << "nothing trained";
}

}  // namespace
}  // namespace pricecast
