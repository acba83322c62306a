// DESIGN.md "Conventions a user relies on", checked on the built binary: the
// demo runs and shows its columns; --log-format json (or log_format in the
// configuration) gives JSON lines on stderr; progress stays off stderr when it
// is not a terminal; [simulator] keys and their PRICECAST_* variables reach
// simulate and demo, and flags win over both.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "registry/registry.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;

using Result = test::CliRun;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> v;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

class CliConventions : public testing::Test {
protected:
    // `env` is a prefix of VAR=value assignments for the shell.
    Result run(const std::string& args, const std::string& env = "") {
        return test::run_pricecast(args, dir_.path(), env);
    }
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
        return path(name);
    }
    std::string path(const std::string& name) const { return fmt::format("'{}'", (dir_ / name).string()); }
    test::TempDir dir_{"conventions"};
};

// Short warm-ups so a demo trains and predicts in seconds.
constexpr const char* kQuickFeatures =
    "[features]\ntimeframes = [\"1m\", \"5m\"]\nindicators = [\"rsi(14)\", \"ema(10)\", \"5m:roc(3)\"]\n"
    "sentiment_windows = [\"10m\"]\n";

TEST_F(CliConventions, DemoTrainsRegistersAndPredictsLive) {
    const auto cfg = write("quick.toml", kQuickFeatures);
    const auto r = run("demo --ws-port -1 --history 600 --steps 40 --speed max --port 0 --symbols ACME,BOLT,CRUX --news-rate 0.2 "
                       "--data-dir " + path("d") + " --config " + cfg);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    for (const char* text : {"market: news moves the price by 0.002 x its sentiment", "lag-2 0.3", "regime switches none",
                             "trained gbdt on 1800 bars", "majority", "persistence", "out-of-sample classes: DOWN ",
                             "registered trend version 1 as champion", "dashboard: http://127.0.0.1:"})
        EXPECT_NE(r.out.find(text), std::string::npos) << text << " in\n" << r.out;
    for (const char* column : {"symbol", "bar", "close", "class", "p(dn)", "p(st)", "p(up)", "model", "latency"})
        EXPECT_NE(r.out.find(column), std::string::npos) << column << " in\n" << r.out;
    for (const char* symbol : {"\nACME ", "\nBOLT ", "\nCRUX "}) EXPECT_NE(r.out.find(symbol), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" v1 "), std::string::npos) << "predictions name the model version: " << r.out;
    EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no screen redraws when stdout is not a terminal";
    EXPECT_TRUE(fs::exists(dir_ / "d" / "registry")) << "the registry lives in --data-dir";
}

// The demo makes its own model champion: it refuses a folder whose champion
// no demo registered (a deployment's), and reuses one an earlier demo made.
TEST_F(CliConventions, DemoLeavesAFolderWithAnotherChampionAlone) {
    {
        registry::Registry reg(dir_ / "prod");
        fs::create_directories(dir_ / "weights");
        std::ofstream(dir_ / "weights" / "model.bin") << "weights";
        registry::NewVersion v;
        v.artifact_dir = dir_ / "weights";
        v.kind = "gbdt";
        v.eval_window = "2024-01..2024-03";
        reg.register_version("trend", v);
        reg.promote("trend", 1, std::string(registry::kChampion), {.force = true}, "deployed");
    }
    const auto cfg = write("quick.toml", kQuickFeatures);
    const auto demo = [&](const std::string& folder) {
        return run("demo --ws-port -1 --history 600 --steps 5 --speed max --port 0 --data-dir " + path(folder) +
                   " --config " + cfg);
    };
    const auto refused = demo("prod");
    EXPECT_EQ(refused.status, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("model 'trend' has a champion (version 1) that no demo registered"), std::string::npos)
        << refused.err;
    registry::Registry reg(dir_ / "prod");
    EXPECT_EQ(reg.alias_version("trend", std::string(registry::kChampion)), 1);
    EXPECT_EQ(reg.list_versions("trend").size(), 1u) << "nothing registered";

    ASSERT_EQ(demo("d").status, 0);
    const auto again = demo("d");
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.out.find("registered trend version 2 as champion"), std::string::npos) << again.out;
}

TEST_F(CliConventions, DemoWithTooShortAHistoryForTheWarmUpIsAUsageError) {
    const auto r = run("demo --ws-port -1 --history 600 --port 0 --data-dir " + path("d"));
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("--history: too few complete feature rows"), std::string::npos) << r.err;
}

TEST_F(CliConventions, DemoReadsTheSimulatorSectionAndFlagsWin) {
    const auto cfg = write("demo.toml",
                           std::string(kQuickFeatures) + "[simulator]\nsymbols = [\"ZED\", \"YAK\"]\nseed = 5\nar2 = 0.1\n");
    const std::string quick = "demo --ws-port -1 --history 500 --steps 5 --speed max --port 0 --data-dir " + path("d") + " ";
    const auto from_file = run(quick + "--config " + cfg);
    ASSERT_EQ(from_file.status, 0) << from_file.err;
    EXPECT_NE(from_file.out.find("\nZED "), std::string::npos) << from_file.out;
    EXPECT_EQ(from_file.out.find("\nACME "), std::string::npos) << from_file.out;
    EXPECT_NE(from_file.out.find("lag-2 0.1;"), std::string::npos) << "the file's ar2, not the demo's: " << from_file.out;
    EXPECT_NE(from_file.out.find("regime switches none"), std::string::npos) << "the demo's: " << from_file.out;

    const auto from_env = run(quick + "--config " + cfg, "PRICECAST_SIMULATOR_SYMBOLS=QUUX");
    ASSERT_EQ(from_env.status, 0) << from_env.err;
    EXPECT_NE(from_env.out.find("\nQUUX "), std::string::npos) << "the environment wins over the file";

    const auto from_flag =
        run(quick + "--symbols FLAG --switch-prob 0.01 --config " + cfg, "PRICECAST_SIMULATOR_SYMBOLS=QUUX");
    ASSERT_EQ(from_flag.status, 0) << from_flag.err;
    EXPECT_NE(from_flag.out.find("regime switches with probability 0.01 per bar"), std::string::npos) << from_flag.out;
    EXPECT_NE(from_flag.out.find("\nFLAG "), std::string::npos) << "the flag wins over both";
    EXPECT_EQ(from_flag.out.find("QUUX"), std::string::npos);

    const auto bad = run(quick + "--config " + write("bad.toml", "[simulator]\nseed = \"five\"\n"));
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.err.find("bad.toml:2"), std::string::npos) << bad.err;
}

TEST_F(CliConventions, SimulateWithTheSameSeedFromConfigOrFlagWritesTheSameMarket) {
    const auto cfg = write("sim.toml", "[simulator]\nseed = 11\nbars = 30\n");
    ASSERT_EQ(run("simulate --no-trades --config " + cfg + " --out " + path("a")).status, 0);
    ASSERT_EQ(run("simulate --no-trades --seed 11 --bars 30 --out " + path("b")).status, 0);
    ASSERT_EQ(run("simulate --no-trades --bars 30 --out " + path("c"), "PRICECAST_SIMULATOR_SEED=12").status, 0);
    const auto a = slurp(dir_ / "a" / "ACME.csv");
    EXPECT_EQ(lines(a).size(), 31u) << "simulator.bars = 30 and a header";
    EXPECT_EQ(a, slurp(dir_ / "b" / "ACME.csv"));
    EXPECT_NE(a, slurp(dir_ / "c" / "ACME.csv")) << "PRICECAST_SIMULATOR_SEED changes the market";
    const auto bad = run("simulate --out " + path("d"), "PRICECAST_SIMULATOR_SEED=abc");
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.err.find("PRICECAST_SIMULATOR_SEED"), std::string::npos) << bad.err;
}

TEST_F(CliConventions, JsonLogLinesOnStderrAndNoProgressOffATerminal) {
    // An output folder whose name needs escaping in JSON: the log line names it.
    const std::string out = (dir_ / "we\"ird\\name").string();
    const auto r = run("simulate --bars 20000 --no-trades --log-format json --out '" + out + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto ls = lines(r.err);
    ASSERT_GE(ls.size(), 2u) << r.err;
    for (const auto& l : ls) {
        const auto j = nlohmann::json::parse(l);  // throws (fails the test) on a non-JSON line, progress included
        EXPECT_EQ(j["level"], "info");
        EXPECT_TRUE(j.contains("time"));
    }
    EXPECT_NE(nlohmann::json::parse(ls.back())["msg"].get<std::string>().find(out), std::string::npos) << ls.back();
    EXPECT_EQ(r.out.find('{'), std::string::npos) << "logs stay off stdout: " << r.out;
}

TEST_F(CliConventions, LogFormatFromTheConfigurationAndItsErrors) {
    const auto cfg = write("log.toml", "log_format = \"json\"\n");
    const auto from_file = run("simulate --bars 10 --out " + path("s") + " --config " + cfg);
    ASSERT_EQ(from_file.status, 0) << from_file.err;
    EXPECT_FALSE(nlohmann::json::parse(lines(from_file.err).front(), nullptr, false).is_discarded()) << from_file.err;

    const auto flag_wins = run("simulate --bars 10 --out " + path("s") + " --log-format text --config " + cfg);
    ASSERT_EQ(flag_wins.status, 0);
    EXPECT_NE(flag_wins.err.find(" info simulate:"), std::string::npos) << flag_wins.err;
    EXPECT_EQ(flag_wins.err.find('{'), std::string::npos) << flag_wins.err;

    const auto bad = run("simulate --bars 10 --out " + path("s"), "PRICECAST_LOG_FORMAT=xml");
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.err.find("PRICECAST_LOG_FORMAT"), std::string::npos) << bad.err;
    EXPECT_EQ(run("simulate --log-format yaml --out " + path("s")).status, 2);
}

}  // namespace
}  // namespace pricecast
