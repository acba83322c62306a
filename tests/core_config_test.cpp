// Configuration: precedence (environment > file > default), typed access,
// errors that say where, and the example file kept in step with the key table.
#include <sys/wait.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "core/config.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;

// Into one folder for the whole run, removed when the process exits.
fs::path write(const std::string& name, const std::string& text) {
    static const test::TempDir dir("config");
    std::ofstream(dir / name) << text;
    return dir / name;
}

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

// Sets an environment variable for one scope.
struct EnvVar {
    EnvVar(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~EnvVar() { ::unsetenv(name_); }
    const char* name_;
};

TEST(Config, DefaultsFileAndEnvironmentInThatOrder) {
    Config defaults;
    EXPECT_EQ(defaults.duration("features.lateness"), kMinute);
    EXPECT_EQ(defaults.strings("features.timeframes"), (std::vector<std::string>{"1m", "5m", "1h"}));
    EXPECT_EQ(defaults.source("features.lateness"), "default");

    const auto file = write("a.toml", "data_dir = \"/srv/pc\"\n[features]\nlateness = \"30s\"\ntimeframes = [\"5m\", \"1h\"]\n"
                                      "[simulator]\nseed = 7\nnews_rate = 1\n");
    const auto c = Config::load(file);
    EXPECT_EQ(c.duration("features.lateness"), 30 * kSecond);
    EXPECT_EQ(c.source("features.lateness"), file.string() + ":3:12");
    EXPECT_EQ(c.integer("simulator.seed"), 7);
    EXPECT_EQ(c.real("simulator.news_rate"), 1.0) << "an integer is a valid number";
    EXPECT_EQ(c.string("data_dir"), "/srv/pc");
    {
        EnvVar e("PRICECAST_FEATURES_LATENESS", "2m");
        EnvVar l("PRICECAST_FEATURES_TIMEFRAMES", "1m,15m");
        EnvVar d("PRICECAST_DATA_DIR", "/tmp/x");
        EXPECT_EQ(c.duration("features.lateness"), 2 * kMinute);
        EXPECT_EQ(c.source("features.lateness"), "env PRICECAST_FEATURES_LATENESS");
        EXPECT_EQ(c.strings("features.timeframes"), (std::vector<std::string>{"1m", "15m"}));
        EXPECT_EQ(c.string("data_dir"), "/tmp/x") << "DESIGN.md's PRICECAST_DATA_DIR is the data_dir key's variable";
    }
    EXPECT_EQ(c.duration("features.lateness"), 30 * kSecond);
}

TEST(Config, ErrorsSayWhere) {
    auto load = [](const std::string& name, const std::string& text) {
        return error_of([&] { Config::load(write(name, text)); });
    };
    EXPECT_NE(load("unknown.toml", "[features]\nlatenes = \"1m\"\n").find(
                  "unknown.toml:2:11: unknown key 'features.latenes' (did you mean 'features.lateness'?)"),
              std::string::npos);
    EXPECT_NE(load("type.toml", "[simulator]\nseed = \"seven\"\n").find("type.toml:2:8: simulator.seed must be an integer"),
              std::string::npos)
        << load("type.toml", "[simulator]\nseed = \"seven\"\n");
    EXPECT_NE(load("dur.toml", "[features]\nlateness = \"soon\"\n").find("features.lateness must be a duration"),
              std::string::npos);
    EXPECT_NE(load("list.toml", "[features]\ntimeframes = [1, 2]\n").find("must be a list of strings"), std::string::npos);
    EXPECT_NE(load("syntax.toml", "[features\n").find("syntax.toml:1:"), std::string::npos);
    EXPECT_NE(error_of([] { Config::load("/nonexistent/pc.toml"); }).find("cannot open"), std::string::npos);
    EnvVar e("PRICECAST_SIMULATOR_SEED", "many");
    EXPECT_NE(error_of([] { Config(); }).find("env PRICECAST_SIMULATOR_SEED: 'many' is not an integer"), std::string::npos)
        << error_of([] { Config(); });
}

// A key whose value the code picks from the data when it is not set must say
// so, and so must the keys the demo plants its own values for.
TEST(Config, KeysTheCodeChoosesWhenUnsetAreMarked) {
    for (const char* name : {"features.timeframes", "simulator.ar2", "simulator.switch_prob"})
        EXPECT_TRUE(config_key(name).chosen_when_unset) << name;
    EXPECT_FALSE(config_key("features.lateness").chosen_when_unset);
}

TEST(Config, ValuesOutsideTheirRulesSayWhereAndAllAreReported) {
    auto load = [](const std::string& name, const std::string& text) {
        return error_of([&] { Config::load(write(name, text)); });
    };
    EXPECT_NE(load("neg.toml", "[simulator]\nbars = -5\n").find("neg.toml:2:8: simulator.bars must be in [1, 1000000000], not -5"),
              std::string::npos)
        << load("neg.toml", "[simulator]\nbars = -5\n");
    const auto all = load("all.toml", "log_format = \"xml\"\n[serve]\nport = 99999\n[simulator]\nnews_rate = 50\n"
                                      "start = \"yesterday\"\n[features]\nlatenes = \"1m\"\n");
    for (const char* problem :
         {"all.toml:1:14: log_format must be one of text, json, not \"xml\"", "all.toml:3:8: serve.port must be in [0, 65535], not 99999",
          "all.toml:5:13: simulator.news_rate must be in [0, 10], not 50", "all.toml:6:9: simulator.start must be an ISO-8601 time",
          "all.toml:8:11: unknown key 'features.latenes'"})
        EXPECT_NE(all.find(problem), std::string::npos) << problem << " in\n" << all;
    EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 4) << "one line per problem:\n" << all;
    EXPECT_EQ(load("edge.toml", "[serve]\nport = 0\nws_port = -1\n[simulator]\nar1 = -0.95\n"), "no error");

    EnvVar port("PRICECAST_SERVE_PORT", "99999");
    EXPECT_NE(error_of([] { Config(); }).find("env PRICECAST_SERVE_PORT: serve.port must be in [0, 65535], not 99999"),
              std::string::npos)
        << error_of([] { Config(); });
}

// serve.metrics_port and --metrics-port: -1 (none) to 65535. A process with
// the api role serves /metrics on its own port, so the flag there is a mistake.
TEST(Config, MetricsPortIsInRangeAndNotForTheApiRole) {
    EXPECT_EQ(Config().integer("serve.metrics_port"), -1);
    EXPECT_NE(error_of([] { Config::load(write("mp.toml", "[serve]\nmetrics_port = 65536\n")); })
                  .find("mp.toml:2:16: serve.metrics_port must be in [-1, 65535], not 65536"),
              std::string::npos);
    EXPECT_EQ(error_of([] { Config::load(write("mp0.toml", "[serve]\nmetrics_port = 0\n")); }), "no error");
    const auto scratch = write("mp0.toml", "").parent_path();
    const std::string serve = "serve --data-dir '" + (scratch / "data").string() + "' ";
    for (const char* roles : {"api", "all", "features,api"}) {
        const auto r = test::run_pricecast(serve + "--role " + roles + " --metrics-port 9100", scratch);
        EXPECT_EQ(r.status, 2) << roles << ": " << r.err;
        for (const char* names : {"--metrics-port", "--role api", "--port"})
            EXPECT_NE(r.err.find(names), std::string::npos) << roles << ": " << r.err;
    }
    for (const char* bad : {"65536", "-2"}) {
        const auto r = test::run_pricecast(serve + "--role features --metrics-port " + bad, scratch);
        EXPECT_EQ(r.status, 2) << bad << ": " << r.err;
        EXPECT_NE(r.err.find("--metrics-port"), std::string::npos) << r.err;
    }
    const auto env = test::run_pricecast(serve + "--role features", scratch, "PRICECAST_SERVE_METRICS_PORT=70000");
    EXPECT_EQ(env.status, 2) << env.err;
    EXPECT_NE(env.err.find("env PRICECAST_SERVE_METRICS_PORT: serve.metrics_port must be in [-1, 65535], not 70000"),
              std::string::npos)
        << env.err;
}

TEST(Config, EveryDefaultKeepsItsKeysRule) {
    // Defaults are not checked on load, so write them out as a file that is.
    std::string sections, section;
    for (const auto& k : config_keys()) {
        const auto dot = k.name.find('.');
        const auto sec = dot == std::string::npos ? std::string() : k.name.substr(0, dot);
        if (sec != section) sections += "[" + (section = sec) + "]\n";
        sections += (dot == std::string::npos ? k.name : k.name.substr(dot + 1)) + " = " + k.default_value + "\n";
    }
    EXPECT_EQ(error_of([&] { Config::load(write("defaults.toml", sections)); }), "no error");
}

TEST(Config, AMisspeltVariableGetsTheClosestKeysVariable) {
    EXPECT_EQ(misspelt_variable("PRICECAST_FEATURES_LATNESS"),
              "PRICECAST_FEATURES_LATNESS is not a configuration variable and is ignored (did you mean "
              "PRICECAST_FEATURES_LATENESS?)");
    EXPECT_NE(misspelt_variable("PRICECAST_LOG_FORMT").value_or("").find("PRICECAST_LOG_FORMAT?"), std::string::npos);
    EXPECT_NE(misspelt_variable("PRICECAST_SERVE_SOMETHING_ELSE_ENTIRELY").value_or("").find("is not a configuration"),
              std::string::npos)
        << "a section's namespace holds only its keys";
    for (const char* fine : {"PRICECAST_FEATURES_LATENESS", "PRICECAST_DATA_DIR", "PRICECAST_LSTM_PORTABLE",
                             "PRICECAST_UPDATE_OPENAPI", "PRICECAST_CHROMIUM", "HOME", "PRICECAST_SENTIMENT_LEXICON_DIR"})
        EXPECT_EQ(misspelt_variable(fine), std::nullopt) << fine;
}

TEST(Config, EveryKeyHasAValidDefaultAndAUniqueVariable) {
    Config c;
    std::set<std::string> vars;
    for (const auto& k : config_keys()) {
        EXPECT_NO_THROW(c.value_text(k.name)) << k.name;
        EXPECT_FALSE(k.doc.empty()) << k.name;
        EXPECT_TRUE(vars.insert(Config::env_name(k.name)).second) << k.name;
    }
    EXPECT_THROW(c.string("features.nope"), ConfigError);
}

TEST(Config, TheExampleFileDocumentsExactlyTheKeys) {
    const auto path = fs::path(PRICECAST_TEST_DATA).parent_path().parent_path() / "config" / "pricecast.example.toml";
    ASSERT_TRUE(fs::exists(path)) << path;
    const auto c = Config::load(path);  // valid, no unknown keys
    const auto table = toml::parse_file(path.string());
    std::size_t found = 0;
    std::ifstream f(path);
    std::stringstream file;
    file << f.rdbuf();
    for (const auto& k : config_keys()) {
        const auto leaf = k.name.substr(k.name.find('.') + 1);
        if (k.chosen_when_unset) {
            // Set, even to the fallback, the key would stop the code choosing.
            EXPECT_FALSE(table.at_path(k.name)) << k.name << " must stay unset in the example";
            EXPECT_NE(file.str().find("\n# " + leaf + " = " + k.default_value + "\n"), std::string::npos) << k.name;
        } else {
            ASSERT_TRUE(table.at_path(k.name)) << "the example lacks " << k.name;
            EXPECT_EQ(c.value_text(k.name), Config().value_text(k.name)) << k.name << " is not at its default";
        }
        ++found;
    }
    // And it is what `pricecast config example` prints today.
    FILE* p = popen((test::pricecast_binary().string() + " config example").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string printed;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) printed.append(buf, n);
    EXPECT_EQ(WEXITSTATUS(pclose(p)), 0);
    EXPECT_EQ(file.str(), printed) << "regenerate: pricecast config example > config/pricecast.example.toml";
    EXPECT_EQ(found, config_keys().size());
}

}  // namespace
}  // namespace pricecast
