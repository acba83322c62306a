// A/B and shadow tests against golden values from scipy and scikit-learn
// (tests/oracles/ab_tests.py -> tests/data/monitor/ab_golden.json): the bare
// McNemar and two-proportion z statistics, and whole reports from logged
// predictions — per-arm metrics, the test of the mode, p-value and verdict.
// Then `pricecast ab report` on the built binary: the same numbers, promotion
// through the registry's gate, and bad flags exiting 2 naming the flag.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "monitor/monitor.hpp"
#include "registry/registry.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::monitor {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const json& golden() {
    static const json g = [] {
        std::ifstream in(fs::path(PRICECAST_TEST_DATA) / "monitor" / "ab_golden.json");
        return json::parse(in);
    }();
    return g;
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
    // [slot, version, symbol, bar, class, p_down, p_stable, p_up, outcome or null]
    std::unique_ptr<PredictionLog> log_of(const json& predictions, const std::string& name) {
        return log_at(predictions, dir_ / (name + ".sqlite"));
    }
    std::unique_ptr<PredictionLog> log_at(const json& predictions, const fs::path& file) {
        auto log = std::make_unique<PredictionLog>(file);
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

    test::TempDir dir_{"abreport"};
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
    const auto& cases = golden()["cases"];
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

const json& golden_case(const std::string& name) {
    for (const auto& c : golden()["cases"])
        if (c["name"] == name) return c;
    throw std::runtime_error("no golden case " + name);
}

using CliResult = test::CliRun;

// A data directory with a registry (champion v1, challenger v2 of "trend",
// registered with the given macro-F1) and a prediction log of a golden case.
class AbCli : public AbReportTest {
protected:
    void make(const std::string& golden_name, double champion_f1, double challenger_f1) {
        data_ = dir_ / "data";
        registry::Registry reg(data_);
        for (const double f1 : {champion_f1, challenger_f1}) {
            const auto art = dir_ / fmt::format("artifact-{}", f1);
            fs::create_directories(art);
            std::ofstream(art / "model.json") << "{}";
            registry::NewVersion v;
            v.artifact_dir = art;
            v.kind = "gbdt";
            v.metrics = {{"macro_f1", f1}};
            v.eval_window = "2024-01";
            reg.register_version("trend", v);
        }
        reg.promote("trend", 1, "champion");
        reg.promote("trend", 2, "challenger");
        log_at(golden_case(golden_name)["predictions"], PredictionLog::default_path(data_));
    }
    int champion() {
        registry::Registry reg(data_);
        return reg.alias_version("trend", "champion").value_or(-1);
    }
    CliResult run(const std::string& args) { return test::run_pricecast("ab report " + args, dir_.path()); }
    std::string data_dir() const { return fmt::format("--data-dir '{}'", data_.string()); }
    fs::path data_;
};

TEST_F(AbCli, JsonAndTableCarryTheGoldenNumbers) {
    make("shadow_better", 0.40, 0.45);
    const auto& e = golden_case("shadow_better")["expected"];
    auto r = run("--model trend --json " + data_dir());
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["mode"], "shadow");
    EXPECT_EQ(j["verdict"], "challenger_better");
    EXPECT_EQ(j["pairs"], e["pairs"]);
    EXPECT_NEAR(j["p_value"].get<double>(), e["p_value"].get<double>(), 1e-9 * e["p_value"].get<double>());
    EXPECT_EQ(j["test"]["b_champion_only"], e["mcnemar"]["b"]);
    EXPECT_EQ(j["challenger"]["version"], 2);
    expect_close(j["challenger"]["metrics"]["accuracy"], e["challenger"]["accuracy"], "accuracy");
    r = run("--model trend " + data_dir());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("McNemar: 64 bars only the champion got right, 137 only the challenger"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("verdict: challenger_better"), std::string::npos) << r.out;
    EXPECT_EQ(champion(), 1) << "promoted without --promote";
}

TEST_F(AbCli, PromoteWhenSignificantlyBetterThroughTheGate) {
    make("shadow_better", 0.40, 0.45);
    const auto r = run("--model trend --promote " + data_dir());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("promoted: 'trend' version 2 is the champion"), std::string::npos) << r.out;
    EXPECT_EQ(champion(), 2);
    registry::Registry reg(data_);
    const auto history = reg.history("trend");
    const auto set = std::find_if(history.begin(), history.end(),
                                  [](const auto& h) { return h.alias == "champion" && h.new_version == 2; });
    ASSERT_NE(set, history.end());
    EXPECT_NE(set->reason.find("A/B shadow: challenger v2 better than champion v1"), std::string::npos) << set->reason;
}

TEST_F(AbCli, GateRefusalIsReportedWithExit1) {
    make("shadow_better", 0.45, 0.40);  // the registered metric says the challenger is worse
    const auto r = run("--model trend --promote " + data_dir());
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("not promoted: promotion of 'trend' version 2 to champion refused"), std::string::npos)
        << r.out;
    EXPECT_EQ(champion(), 1);
}

TEST_F(AbCli, NoPromotionOfAWinnerThatIsNoLongerTheChallenger) {
    make("shadow_better", 0.40, 0.45);
    {
        registry::Registry reg(data_);
        registry::NewVersion v;
        v.artifact_dir = dir_ / "artifact-0.4";
        v.kind = "gbdt";
        v.metrics = {{"macro_f1", 0.5}};
        v.eval_window = "2024-01";
        reg.promote("trend", reg.register_version("trend", v).version, "challenger");
    }
    const auto r = run("--model trend --promote " + data_dir());
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("version 2 won the test but is no longer 'trend''s challenger"), std::string::npos) << r.out;
    EXPECT_EQ(champion(), 1);
}

TEST_F(AbCli, NoPromotionWithoutASignificantWin) {
    for (const auto& name : {"shadow_same_quality", "shadow_worse"}) {
        fs::remove_all(dir_ / "data");
        make(name, 0.40, 0.45);
        const auto r = run("--model trend --promote " + data_dir());
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.out.find("not promoted: " + golden_case(name)["expected"]["verdict"].get<std::string>()),
                  std::string::npos)
            << r.out;
        EXPECT_EQ(champion(), 1) << name;
    }
}

TEST_F(AbCli, BadFlagsExit2NamingTheFlag) {
    make("shadow_better", 0.40, 0.45);
    for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
             {"--alpha 1.5", "--alpha"}, {"--alpha 0", "--alpha"}, {"--alpha x", "--alpha"},
             {"--window 0h", "--window"}, {"--window soon", "--window"}, {"--mode paired", "--mode"},
             {"--at yesterday", "--at"}}) {
        const auto r = run("--model trend " + args + " " + data_dir());
        EXPECT_EQ(r.status, 2) << args;
        EXPECT_NE(r.err.find(flag), std::string::npos) << args << ": " << r.err;
    }
    for (const auto& args : {std::string(), std::string("--model ''")}) {
        const auto r = run(args + " " + data_dir());
        EXPECT_EQ(r.status, 2) << args;
        EXPECT_NE(r.err.find("--model"), std::string::npos) << args << ": " << r.err;
    }
    auto r = run(data_dir() + " --model nobody");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("verdict: insufficient_data"), std::string::npos) << r.out;
    r = run(fmt::format("--model trend --data-dir '{}'", (dir_ / "nowhere").string()));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--data-dir"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pricecast::monitor
