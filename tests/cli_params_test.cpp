// Bad parameters on the built binary: each class is refused before any work
// with exit 2 and a message naming the option, or the key and where it was
// set; `config check` refuses exactly what the subcommands refuse.
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

class CliParams : public testing::Test {
protected:
    // `env` is a prefix of VAR=value assignments for the shell.
    Result run(const std::string& args, const std::string& env = "") {
        return test::run_pricecast(args, dir_.path(), env);
    }
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
        return (dir_ / name).string();
    }
    test::TempDir dir_{"params"};
};

// Each file, the subcommand that reads the value, and the start of the message
// both print after the file name.
struct BadConfig {
    const char* name;
    const char* text;
    const char* subcommand;
    const char* message;
};

TEST_F(CliParams, ConfigCheckRefusesWhatTheSubcommandsRefuse) {
    const BadConfig cases[] = {
        {"log.toml", "log_format = \"xml\"\n", "simulate --bars 5 --out {out}", ":1:14: log_format must be one of text, json"},
        {"neg.toml", "[simulator]\nbars = -5\n", "simulate --out {out}", ":2:8: simulator.bars must be in [1, 1000000000], not -5"},
        {"rate.toml", "[simulator]\nnews_rate = 50\n", "simulate --bars 5 --out {out}", ":2:13: simulator.news_rate must be in [0, 10]"},
        {"range.toml", "[serve]\nport = 99999\n", "serve", ":2:8: serve.port must be in [0, 65535], not 99999"},
        {"speed.toml", "[serve]\nspeed = \"fast\"\n", "serve", ":2:9: serve.speed: 'fast' is not a speed"},
        {"conn.toml", "[serve]\nmax_connections = -1\n", "serve",
         ":2:19: serve.max_connections must be in [0, 1000000], not -1"},
        {"ind.toml", "[features]\nindicators = [\"foo(3)\"]\n", "features schema",
         ":2:14: features.indicators: 'foo(3)': unknown indicator 'foo'"},
        {"tf.toml", "[features]\ntimeframes = [\"5m\", \"1m\"]\n", "features schema",
         ":2:14: features.timeframes: '1m' must be longer than '5m'"},
        {"retrain.toml", "[monitor]\nretrain_model = \"xgb\"\n", "serve", ":2:17: monitor.retrain_model: 'xgb' is not"},
    };
    for (const auto& c : cases) {
        const auto file = write(c.name, c.text);
        const auto expected = file + c.message;
        const auto check = run("config check '" + file + "'");
        EXPECT_EQ(check.status, 2) << c.name << ": " << check.out << check.err;
        EXPECT_NE(check.err.find(expected), std::string::npos) << expected << " in\n" << check.err;
        const auto sub = run(fmt::format(fmt::runtime(std::string(c.subcommand) + " --data-dir '{data}' --config '{file}'"),
                                         fmt::arg("out", (dir_ / "o").string()), fmt::arg("data", (dir_ / "d").string()),
                                         fmt::arg("file", file)));
        EXPECT_EQ(sub.status, 2) << c.subcommand << " with " << c.name << ": " << sub.err;
        EXPECT_NE(sub.err.find(expected), std::string::npos) << expected << " in\n" << sub.err;
    }
    EXPECT_FALSE(fs::exists(dir_ / "o")) << "nothing simulated";
}

TEST_F(CliParams, ConfigCheckReportsEveryProblemOfAFile) {
    const auto file = write("all.toml", "log_format = \"xml\"\n[simulator]\nbars = -5\nnews_rate = 50\n[serve]\nport = 99999\n");
    const auto r = run("config check '" + file + "'");
    EXPECT_EQ(r.status, 2);
    for (const char* key : {":1:14: log_format", ":3:8: simulator.bars", ":4:13: simulator.news_rate", ":6:8: serve.port"})
        EXPECT_NE(r.err.find(file + key), std::string::npos) << key << " in\n" << r.err;
    const auto good = run("config check '" + write("good.toml", "[serve]\nport = 0\n") + "'");
    EXPECT_EQ(good.status, 0) << good.err;
    EXPECT_NE(good.out.find(": ok"), std::string::npos);
}

TEST_F(CliParams, NumericOptionsOutsideTheirDomainNameTheOption) {
    const std::string train = "train --prices none.csv --out " + (dir_ / "m").string() + " ";
    const std::string backtest = "backtest --prices none.csv --out " + (dir_ / "b").string() + " ";
    for (const auto& [args, option] : std::vector<std::pair<std::string, std::string>>{
             {train + "--rounds 0", "--rounds"},
             {train + "--rounds -5", "--rounds"},
             {train + "--model lstm --epochs 0", "--epochs"},
             {train + "--model lstm --epochs -1", "--epochs"},
             {train + "--threshold -1", "--threshold"},
             {train + "--labels volatility --vol-k -2", "--vol-k"},
             {train + "--horizon 0", "--horizon"},
             {train + "--walk-forward 0", "--walk-forward"},
             {train + "--quantile 0.7", "--quantile"},
             {train + "--steps 0", "--steps"},
             {backtest + "--retrain-every 0", "--retrain-every"},
             {backtest + "--min-train -1", "--min-train"},
             {backtest + "--rounds 0", "--rounds"},
             {backtest + "--epochs 0", "--epochs"},
             {backtest + "--threshold 2", "--threshold"},
             {backtest + "--fee-bps -1", "--fee-bps"},
         }) {
        const auto r = run(args);
        EXPECT_EQ(r.status, 2) << args << ": " << r.err;
        const auto command = args.substr(0, args.find(' '));
        EXPECT_EQ(r.err.rfind("error: pricecast " + command + ": " + option + ":", 0), 0u) << args << ": " << r.err;
        EXPECT_EQ(r.err.find("[bt]"), std::string::npos) << "no stack trace: " << r.err;
    }
    EXPECT_FALSE(fs::exists(dir_ / "m"));
}

TEST_F(CliParams, SentimentFoldsNeedTwoOrMoreAndEnoughSentences) {
    const auto three = write("three.csv", "text,label\nProfit rose,positive\nLoss widened,negative\nSales flat,neutral\n");
    const auto out = (dir_ / "s.model").string();
    for (const char* folds : {"1", "-3"}) {
        const auto r = run(fmt::format("sentiment train --data '{}' --out '{}' --folds {}", three, out, folds));
        EXPECT_EQ(r.status, 2) << folds;
        EXPECT_EQ(r.err.rfind("error: pricecast sentiment train: --folds:", 0), 0u) << r.err;
        EXPECT_EQ(run(fmt::format("sentiment eval --data '{}' --folds {}", three, folds)).status, 2) << folds;
    }
    const auto too_few = run(fmt::format("sentiment train --data '{}' --out '{}'", three, out));
    EXPECT_EQ(too_few.status, 2) << too_few.err;
    EXPECT_NE(too_few.err.find("--folds 10: 10-fold cross-validation needs at least 10 sentences of one label"),
              std::string::npos)
        << too_few.err;
    EXPECT_NE(too_few.err.find("--folds 0 to skip it"), std::string::npos) << too_few.err;
    EXPECT_FALSE(fs::exists(out)) << "refused before training";

    std::string six = "text,label\n";
    for (int i = 0; i < 3; ++i) six += fmt::format("Profit rose {}%,positive\nLoss widened by {} mn,negative\n", i + 1, i + 2);
    const auto six_file = write("six.csv", six);
    const auto ten = run(fmt::format("sentiment eval --data '{}' --folds 10", six_file));
    EXPECT_EQ(ten.status, 2);
    EXPECT_NE(ten.err.find("has at most 3 (6 sentences in all); give --folds 3 or fewer"), std::string::npos) << ten.err;
    const auto three_folds = run(fmt::format("sentiment train --data '{}' --out '{}' --folds 3", six_file, out));
    EXPECT_EQ(three_folds.status, 0) << three_folds.err;
    EXPECT_NE(three_folds.out.find("3-fold cross-validation"), std::string::npos) << three_folds.out;
    EXPECT_EQ(run(fmt::format("sentiment train --data '{}' --out '{}' --folds 0", three, out)).status, 0);
}

// features.timeframes set to the old example's value on 5-minute bars: every
// bar is rejected, and train says why instead of "too few sample times".
TEST_F(CliParams, TrainOnBarsOfAnotherIntervalThanTheConfiguredBaseSaysSo) {
    const auto sim = (dir_ / "sim").string();
    ASSERT_EQ(run(fmt::format("simulate --interval 5m --bars 300 --no-trades --out '{}'", sim)).status, 0);
    const auto cfg = write("tf.toml", "[features]\ntimeframes = [\"1m\", \"5m\", \"1h\"]\n");
    const auto r = run(fmt::format("train --prices '{}/ACME.csv' --out '{}' --config '{}'", sim, (dir_ / "m").string(), cfg));
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("--prices: the bars are 5m apart, but the base timeframe is 1m (features.timeframes, " +
                         cfg + ":2:14)"),
              std::string::npos)
        << r.err;
}

TEST_F(CliParams, AnUnknownCommandIsNamed) {
    const auto top = run("bogus");
    EXPECT_EQ(top.status, 2);
    EXPECT_NE(top.err.find("unknown command 'bogus'; see pricecast --help"), std::string::npos) << top.err;
    const auto nested = run("config bogus");
    EXPECT_EQ(nested.status, 2);
    EXPECT_NE(nested.err.find("unknown command 'bogus'; see pricecast config --help"), std::string::npos) << nested.err;
    EXPECT_EQ(run("config example").status, 0) << "a known command still runs";
    const auto none = run("");
    EXPECT_EQ(none.status, 2);
    EXPECT_NE(none.err.find("pricecast needs a command: data, simulate,"), std::string::npos) << none.err;
    const auto group = run("features");
    EXPECT_EQ(group.status, 2);
    EXPECT_NE(group.err.find("pricecast features needs a command: schema, build; see pricecast features --help"),
              std::string::npos)
        << group.err;
    EXPECT_EQ(run("features --help").status, 0) << "a group's help is still help";
    EXPECT_EQ(run("--version").status, 0);
    const auto early = run("--config x.toml train");
    EXPECT_EQ(early.status, 2);
    EXPECT_NE(early.err.find("pricecast has no option '--config': options go after the command (data, simulate,"),
              std::string::npos)
        << early.err;
    const auto missing = run("features build --prices x.csv");
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.err.find("error: pricecast features build: --out is required; see pricecast features build --help"),
              std::string::npos)
        << missing.err;
}

TEST_F(CliParams, AMisspeltVariableIsReportedAndTheProgramsOwnAreNot) {
    const auto file = write("ok.toml", "[features]\nlateness = \"30s\"\n");
    const auto typo = run("config check '" + file + "'", "PRICECAST_FEATURES_LATNESS=5s");
    EXPECT_EQ(typo.status, 0) << "a warning, not a failure: " << typo.err;
    EXPECT_NE(typo.err.find("PRICECAST_FEATURES_LATNESS is not a configuration variable and is ignored (did you mean "
                            "PRICECAST_FEATURES_LATENESS?)"),
              std::string::npos)
        << typo.err;
    const auto own = run("config check '" + file + "'", "PRICECAST_LSTM_PORTABLE=1 PRICECAST_DATA_DIR=x PRICECAST_CHROMIUM=y");
    EXPECT_EQ(own.status, 0);
    EXPECT_EQ(own.err.find("warning"), std::string::npos) << own.err;
}

TEST_F(CliParams, DemoRefusesAHistoryBelowItsMinimumAndKeepsNoBrowserForScripts) {
    const auto r = run("demo --history 499 --port 0 --ws-port -1 --data-dir '" + (dir_ / "d").string() + "'");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err.rfind("error: pricecast demo: --history:", 0), 0u) << r.err;
    const auto help = run("demo --help");
    EXPECT_NE(help.out.find("INT in [500 - "), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("does nothing: the demo never opens a browser"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace pricecast
