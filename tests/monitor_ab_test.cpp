// A/B and shadow tests against golden values from scipy and scikit-learn
// (tests/oracles/ab_tests.py -> tests/data/monitor/ab_golden.json): the bare
// McNemar and two-proportion z statistics, and whole reports from logged
// predictions — per-arm metrics, the test of the mode, p-value and verdict.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json golden() {
    std::ifstream in(fs::path(PRICECAST_TEST_DATA) / "monitor" / "ab_golden.json");
    return json::parse(in);
}

void expect_close(double actual, double expected, const std::string& what) {
    EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::abs(expected))) << what;
}

TEST(McNemar, MatchesScipy) {
    for (const auto& g : golden()["mcnemar"]) {
        const auto m = mcnemar(g["b"], g["c"]);
        const std::string what = g.dump();
        EXPECT_EQ(m.exact, g["exact"].get<bool>()) << what;
        // p-values as small as 1e-10 are compared relatively.
        EXPECT_NEAR(m.p_value, g["p_value"].get<double>(), 1e-9 * g["p_value"].get<double>() + 1e-15) << what;
        if (!m.exact) expect_close(m.statistic, g["statistic"], what);
    }
}

TEST(TwoProportionZ, MatchesScipy) {
    for (const auto& g : golden()["z_test"]) {
        const auto t = two_proportion_z(g["x1"], g["n1"], g["x2"], g["n2"]);
        expect_close(t.z, g["z"], g.dump());
        expect_close(t.p_value, g["p_value"], g.dump());
    }
}

TEST(TwoProportionZ, EmptySampleIsAnError) {
    EXPECT_THROW(two_proportion_z(0, 0, 1, 2), MonitorError);
    EXPECT_THROW(two_proportion_z(3, 2, 1, 2), MonitorError);
}

constexpr Timestamp kStart = 1'704'153'600 * kSecond;

class AbReportTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("pricecast-abreport-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // [slot, version, symbol, bar, class, p_down, p_stable, p_up, outcome or null]
    std::unique_ptr<PredictionLog> log_of(const json& predictions, const std::string& name) {
        auto log = std::make_unique<PredictionLog>(dir_ / (name + ".sqlite"));
        for (const auto& row : predictions) {
            Prediction p;
            p.slot = row[0];
            p.version = row[1];
            p.symbol = row[2];
            p.bar_time = kStart + row[3].get<Timestamp>() * kMinute;
            p.feature_time = p.bar_time;
            p.model = "trend";
            p.cls = row[4];
            p.probs = {row[5].get<float>(), row[6].get<float>(), row[7].get<float>()};
            p.confidence = *std::max_element(p.probs.begin(), p.probs.end());
            p.close = 100;
            EXPECT_TRUE(log->append(p));
            if (!row[8].is_null())
                log->set_outcome({.symbol = p.symbol, .bar_time = p.bar_time, .cls = row[8], .close_after = 100,
                                  .resolved_at = p.bar_time + kMinute});
        }
        return log;
    }

    fs::path dir_;
};

void expect_arm(const std::optional<AbArm>& arm, const json& g, const std::string& what) {
    ASSERT_TRUE(arm) << what;
    EXPECT_EQ(arm->metrics.resolved, g["n"].get<std::size_t>()) << what;
    expect_close(arm->metrics.accuracy, g["accuracy"], what + " accuracy");
    expect_close(arm->metrics.macro_f1, g["macro_f1"], what + " macro_f1");
    // float32 probabilities: sklearn's sum differs in the last bits.
    EXPECT_NEAR(arm->metrics.log_loss, g["log_loss"].get<double>(), 1e-6) << what << " log_loss";
}

TEST_F(AbReportTest, GoldenCases) {
    const auto cases = golden()["cases"];
    ASSERT_EQ(cases.size(), 8u);
    for (const auto& c : cases) {
        const std::string name = c["name"];
        const auto log = log_of(c["predictions"], name);
        const auto r = ab_report(*log, {.model = "trend", .alpha = c["alpha"]});
        const auto& e = c["expected"];
        EXPECT_EQ(to_string(r.mode), e["mode"].get<std::string>()) << name;
        EXPECT_EQ(r.pairs, e["pairs"].get<std::size_t>()) << name;
        expect_arm(r.champion, e["champion"], name + " champion");
        expect_arm(r.challenger, e["challenger"], name + " challenger");
        EXPECT_NEAR(r.p_value, e["p_value"].get<double>(), 1e-9 * e["p_value"].get<double>() + 1e-15) << name;
        EXPECT_EQ(to_string(r.verdict), e["verdict"].get<std::string>()) << name;
        if (r.mode == AbMode::shadow) {
            ASSERT_TRUE(r.mcnemar) << name;
            EXPECT_EQ(r.mcnemar->b, e["mcnemar"]["b"].get<std::size_t>()) << name;
            EXPECT_EQ(r.mcnemar->c, e["mcnemar"]["c"].get<std::size_t>()) << name;
        } else {
            ASSERT_TRUE(r.z_test) << name;
            expect_close(r.z_test->z, e["z_test"]["z"], name);
        }
        const auto j = to_json(r);
        EXPECT_EQ(j["verdict"], e["verdict"]) << name;
        EXPECT_EQ(j["mode"], e["mode"]) << name;
    }
}

TEST_F(AbReportTest, OnlyTheNewestVersionOfAnArmAndTheWindowCount) {
    // Champion v1 on bars 0..9, the challenger v2 on bars 0..4 then v3 on 5..9.
    json rows = json::array();
    for (int bar = 0; bar < 10; ++bar) {
        rows.push_back({"champion", 1, "AAA", bar, 0, 0.8, 0.1, 0.1, 0});
        rows.push_back({"challenger", bar < 5 ? 2 : 3, "AAA", bar, 2, 0.1, 0.1, 0.8, 0});
    }
    const auto log = log_of(rows, "versions");
    auto r = ab_report(*log, {.model = "trend"});
    ASSERT_TRUE(r.challenger);
    EXPECT_EQ(r.challenger->key.version, 3);
    EXPECT_EQ(r.pairs, 5u);
    EXPECT_EQ(r.mcnemar->b, 5u);
    // A 3-minute window ending at bar 9 holds bars 7, 8, 9.
    r = ab_report(*log, {.model = "trend", .window = 3 * kMinute});
    EXPECT_EQ(r.pairs, 3u);
    EXPECT_EQ(r.end, kStart + 9 * kMinute);
    // Forcing split on shadow data compares all resolved predictions of each arm.
    r = ab_report(*log, {.model = "trend", .mode = AbMode::split});
    EXPECT_EQ(r.mode, AbMode::split);
    EXPECT_EQ(r.champion->metrics.resolved, 10u);
    EXPECT_EQ(r.verdict, AbVerdict::challenger_worse);
}

TEST_F(AbReportTest, AnArmWithoutResolvedPredictionsIsInsufficientData) {
    const auto log = log_of(json::array({json::array({"champion", 1, "AAA", 0, 0, 0.8, 0.1, 0.1, 0}),
                                         json::array({"challenger", 2, "AAA", 1, 0, 0.8, 0.1, 0.1, nullptr})}),
                            "pending");
    const auto r = ab_report(*log, {.model = "trend"});
    EXPECT_EQ(r.verdict, AbVerdict::insufficient_data);
    EXPECT_TRUE(r.champion);
    EXPECT_FALSE(r.challenger);
    EXPECT_EQ(to_json(r)["challenger"], nullptr);
    EXPECT_EQ(ab_report(*log, {.model = "other"}).verdict, AbVerdict::insufficient_data);
}

TEST_F(AbReportTest, BadOptionsNameTheField) {
    const PredictionLog log(dir_ / "empty.sqlite");
    const auto fails_on = [&](AbOptions o, const std::string& field) {
        try {
            ab_report(log, o);
            ADD_FAILURE() << "accepted bad " << field;
        } catch (const MonitorError& e) {
            EXPECT_EQ(std::string(e.what()).rfind(field + ":", 0), 0u) << e.what();
        }
    };
    fails_on({.model = ""}, "model");
    fails_on({.model = "m", .window = 0}, "window");
    fails_on({.model = "m", .alpha = 0}, "alpha");
    fails_on({.model = "m", .alpha = 1.5}, "alpha");
    fails_on({.model = "m", .alpha = std::nan("")}, "alpha");
}

}  // namespace
}  // namespace pricecast::monitor
