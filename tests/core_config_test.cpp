// Configuration: precedence (environment > file > default), typed access,
// errors that say where, and the example file kept in step with the key table.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "core/config.hpp"
#include "support/paths.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;

fs::path write(const std::string& name, const std::string& text) {
    const auto dir = fs::temp_directory_path() / ("pricecast-config-" + std::to_string(::getpid()));
    fs::create_directories(dir);
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
    for (const auto& k : config_keys()) {
        ASSERT_TRUE(table.at_path(k.name)) << "the example lacks " << k.name;
        EXPECT_EQ(c.value_text(k.name), Config().value_text(k.name)) << k.name << " is not at its default";
        ++found;
    }
    // And it is what `pricecast config example` prints today.
    FILE* p = popen((test::pricecast_binary().string() + " config example").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string printed;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) printed.append(buf, n);
    EXPECT_EQ(WEXITSTATUS(pclose(p)), 0);
    std::ifstream f(path);
    std::stringstream file;
    file << f.rdbuf();
    EXPECT_EQ(file.str(), printed) << "regenerate: pricecast config example > config/pricecast.example.toml";
    EXPECT_EQ(found, config_keys().size());
}

}  // namespace
}  // namespace pricecast
