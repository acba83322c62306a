// The `features` and `sentiment` subcommands as a user runs them: results that
// read back, and every class of bad input answered with exit 2 and a message
// naming the problem.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/simulator.hpp"
#include "features/features.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;

struct Run {
    int status = -1;
    std::string output;  // stdout, then stderr: the checks here look for a text in either
};

Run run(const std::string& args) {
    static const test::TempDir scratch("cli-runs");
    const auto r = test::run_pricecast(args, scratch.path());
    return {r.status, r.out + r.err};
}

class CliTest : public testing::Test {
protected:
    std::string write(const std::string& name, const std::string& bytes) {
        std::ofstream(dir_ / name, std::ios::binary) << bytes;
        return (dir_ / name).string();
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    test::TempDir dir_{"cli"};
};

TEST_F(CliTest, FeaturesBuildWritesAMatrixWithTheSchemaHash) {
    ASSERT_EQ(run("simulate --symbols ACME,BOLT --bars 400 --seed 3 --out " + path("sim")).status, 0);
    // News without scores gets scored; a record without a time is reported with its line.
    std::ifstream in(path("sim/news.jsonl"));
    std::string news, line;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);
        j.erase("sentiment");
        news += j.dump() + "\n";
    }
    news += "{\"id\":\"x\",\"headline\":\"no time here\",\"symbols\":[\"ACME\"]}\n";
    write("news.jsonl", news);
    const auto r = run("features build --prices " + path("sim/ACME.csv") + " --prices " + path("sim/BOLT.csv") +
                       " --news " + path("news.jsonl") + " --out " + path("f.bin"));
    ASSERT_EQ(r.status, 2) << "the matrix is written; the status says a record was not: " << r.output;
    EXPECT_NE(r.output.find("news.jsonl:"), std::string::npos) << "the bad news line is named: " << r.output;
    const auto m = features::read_binary(path("f.bin"));
    EXPECT_EQ(m.rows(), 800u);
    const auto schema = run("features schema --json");
    ASSERT_EQ(schema.status, 0);
    EXPECT_EQ(nlohmann::json::parse(schema.output)["hash"], fmt::format("{:016x}", m.schema_hash));
    const auto sent = std::find(m.columns.begin(), m.columns.end(), "sent:1h:count") - m.columns.begin();
    double news_seen = 0;
    for (std::size_t r = 0; r < m.rows(); ++r) news_seen += m.values[r * m.columns.size() + static_cast<std::size_t>(sent)];
    EXPECT_GT(news_seen, 0) << "unscored news was scored and reached the windows";
}

TEST_F(CliTest, FeaturesBadInput) {
    auto r = run("features schema --timeframes 1m,7x");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("'7x'"), std::string::npos) << r.output;
    r = run("features schema --indicators 'rsi(14);nosuch(2)'");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("nosuch"), std::string::npos) << r.output;
    r = run("features build --prices " + path("missing.csv") + " --out " + path("x.bin"));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("missing.csv"), std::string::npos) << r.output;
    write("few.csv", "time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n"
                     "2024-01-01T00:01:00Z,1,1,1,1,1\n");
    r = run("features build --prices " + path("few.csv") + " --timeframes 1m --indicators 'sma(2)' --out " +
            "/proc/pricecast-no/f.bin");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--out: /proc/pricecast-no/f.bin"), std::string::npos) << r.output;
    write("junk.bin", "not a matrix");
    EXPECT_THROW(features::read_binary(path("junk.bin")), std::runtime_error);
}

TEST_F(CliTest, SentimentScoreTrainEval) {
    auto r = run("sentiment score 'Operating loss narrowed' 'Sales fell sharply' --json");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("\"label\":\"positive\""), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"label\":\"negative\""), std::string::npos) << r.output;

    std::string csv = "text,label\n";
    for (int i = 0; i < 20; ++i)
        csv += fmt::format("sales rose {0},positive\nsales fell {0},negative\nmeeting held {0},neutral\n", i);
    write("train.csv", csv);
    r = run("sentiment train --data " + path("train.csv") + " --out " + path("m.bin") + " --folds 4 --hash-bits 12");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("4-fold cross-validation"), std::string::npos) << r.output;
    r = run("sentiment score --model " + path("m.bin") + " 'sales rose again'");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.output.find("positive"), std::string::npos) << r.output;
    r = run("sentiment eval --data " + path("train.csv") + " --json");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output)["n"], 60);
}

TEST_F(CliTest, SentimentBadInput) {
    struct Case {
        std::string args, message;
    };
    write("badlabel.csv", "text,label\nfine,neutral\nhm,great\n");
    write("nocolumns.csv", "a,b\n1,2\n");
    write("junk.bin", "{\"format\":\"x\"}\n");
    const std::vector<Case> cases = {
        {"sentiment score '  '", "empty text"},
        {"sentiment score \"$(printf 'caf\\377')\"", "invalid UTF-8 at byte 3"},
        {"sentiment eval --data " + path("nosuch.csv"), "cannot open"},
        {"sentiment eval --data " + path("badlabel.csv"), "badlabel.csv:3: label 'great'"},
        {"sentiment eval --data " + path("nocolumns.csv"), "needs a 'text' and a 'label' column"},
        {"sentiment score --model " + path("junk.bin") + " hello", "not a sentiment model artifact"},
        {"sentiment train --data " + path("badlabel.csv") + " --out " + path("o.bin"), "label 'great'"},
    };
    for (const auto& c : cases) {
        const auto r = run(c.args);
        EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    }
}

TEST_F(CliTest, ConfigFileAndEnvironmentReachTheSubcommands) {
    const auto cfg = write("pc.toml", "[features]\ntimeframes = [\"5m\", \"1h\"]\n[simulator]\nsymbols = [\"XA\", \"XB\", \"XC\"]\nbars = 12\n");
    auto r = run("features schema --config " + cfg);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("5m:sma(5)"), std::string::npos);
    EXPECT_EQ(r.output.find("1m:sma(5)"), std::string::npos);
    r = run("features schema --config " + cfg + " --timeframes 1m,5m");
    EXPECT_NE(r.output.find("1m:sma(5)"), std::string::npos) << "a flag wins over the file";
    const std::string env_cmd = "env PRICECAST_FEATURES_TIMEFRAMES=1h,1d " + test::pricecast_binary().string() +
                                " features schema --config " + cfg + " 2>&1";
    FILE* p = popen(env_cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    EXPECT_EQ(WEXITSTATUS(pclose(p)), 0);
    EXPECT_NE(out.find("1d:sma(5)"), std::string::npos) << "the environment wins over the file";

    r = run("simulate --config " + cfg + " --out " + path("sim"));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("XC       12 bars"), std::string::npos) << r.output;

    const auto bad = write("bad.toml", "[simulator]\nbars = \"many\"\n");
    r = run("simulate --config " + bad + " --out " + path("sim"));
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("bad.toml:2:8: simulator.bars must be an integer"), std::string::npos) << r.output;
    r = run("config check " + bad);
    EXPECT_EQ(r.status, 2);
    r = run("config show --config " + cfg);
    EXPECT_NE(r.output.find("pc.toml:5:8"), std::string::npos) << "show says where each value came from: " << r.output;
}

TEST_F(CliTest, TrainThenEvaluateRefusingAnotherSchema) {
    ASSERT_EQ(run("simulate --symbols ACME --bars 2500 --seed 9 --no-trades --out " + path("sim")).status, 0);
    const auto cfg = write("short.toml", "[features]\ntimeframes = [\"1m\", \"5m\"]\n");
    auto r = run("train --config " + cfg + " --prices " + path("sim/ACME.csv") +
                 " --labels quantile --walk-forward 2 --rounds 20 --out " + path("model"));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("95% block-bootstrap intervals"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("warning:"), std::string::npos) << "balanced classes: " << r.output;
    EXPECT_TRUE(fs::exists(dir_ / "model" / "report.json"));
    // The original ±1% label on one-minute bars: (almost) all STABLE, and said so.
    const auto fixed = run("train --config " + cfg + " --prices " + path("sim/ACME.csv") +
                           " --walk-forward 2 --rounds 5 --out " + path("fixed"));
    ASSERT_EQ(fixed.status, 0) << fixed.output;
    EXPECT_NE(fixed.output.find("of the test labels are STABLE: always saying STABLE scores"), std::string::npos)
        << fixed.output;
    EXPECT_NE(fixed.output.find("A return beyond the fixed ±1% is rare over 1 bar(s); --labels quantile"),
              std::string::npos)
        << fixed.output;
    r = run("evaluate --config " + cfg + " --model " + path("model") + " --prices " + path("sim/ACME.csv"));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("(gbdt) on "), std::string::npos) << r.output;
    r = run("evaluate --model " + path("model") + " --prices " + path("sim/ACME.csv"));  // default 1m/5m/1h schema
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("was trained on feature schema"), std::string::npos) << r.output;
    r = run("evaluate --model " + path("nothing") + " --prices " + path("sim/ACME.csv"));
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("model.json"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pricecast
