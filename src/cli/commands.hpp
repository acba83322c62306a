// Subcommands: each file adds its own to the app. A subcommand's callback
// throws CliError (exit 2, bad usage or input) or any other exception (exit 1).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "core/config.hpp"
#include "data/simulator.hpp"
#include "features/features.hpp"
#include "sentiment/sentiment.hpp"

namespace pricecast::cli {

// Bad usage or bad input: exit code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Options every subcommand accepts (DESIGN.md: --config, --data-dir, --log-format).
struct CommonOptions {
    std::string config_file;
    std::string data_dir_flag;
    bool data_dir_given = false;  // set when --data-dir is parsed (one object may serve several subcommands)
    std::string log_format = "text";

    // The --config file (or defaults and the environment), loaded on first use;
    // a bad file is a UsageError naming the line.
    const Config& config();
    // --data-dir, else PRICECAST_DATA_DIR, else the config file, else ./pricecast-data.
    std::string data_dir();

private:
    std::optional<Config> config_;
};
void add_common_options(CLI::App& cmd, CommonOptions& opts);
// The range a configuration key's rule allows, for the flag that sets the same
// value: integer or real as the key's type.
CLI::Range config_range(std::string_view key);

// A flag's value when it was given on the command line, else the config key's.
template <class T, class Get>
T flag_or_config(const CLI::Option* flag, const T& flag_value, Get from_config) {
    return flag && flag->count() > 0 ? flag_value : from_config();
}

// The configured news scorer: --model (or sentiment.model) names a classifier
// artifact; otherwise the lexicon (from sentiment.lexicon_dir when set).
std::unique_ptr<sentiment::SentimentScorer> make_sentiment_scorer(const std::string& model_flag, CommonOptions& common);

// The feature matrix of price files (and news) with the [features] configuration;
// bad files are UsageErrors naming them.
features::FeatureMatrix feature_matrix_from_files(CommonOptions& common, const std::vector<std::string>& prices,
                                                  const std::string& news, const std::string& sentiment_model);

// Simulator flags shared by `simulate` and `demo`; each falls back to its
// [simulator] key when not given.
struct SimulatorFlags {
    std::string symbols, interval, start;
    std::uint64_t seed = 0;
    double news_impact = 0, news_rate = 0, ar1 = 0, ar2 = 0, switch_prob = 0;
    int news_delay = 0;
    long regime_switch_at = -1;
};
void add_simulator_options(CLI::App& cmd, SimulatorFlags& flags);
// Flags given on `cmd`'s command line, else the [simulator] configuration.
data::SimulatorConfig simulator_config(SimulatorFlags flags, const CLI::App& cmd, CommonOptions& common);

// Exit code a subcommand asks for after it ran (0 unless set).
int& exit_code();

void add_data_command(CLI::App& app);        // cmd_data.cpp: data check, data resample
void add_simulate_command(CLI::App& app);    // cmd_simulate.cpp
void add_indicators_command(CLI::App& app);  // cmd_indicators.cpp: indicators list, compute
void add_demo_command(CLI::App& app);        // cmd_demo.cpp
void add_sentiment_command(CLI::App& app);   // cmd_sentiment.cpp: sentiment score, train, eval
void add_features_command(CLI::App& app);    // cmd_features.cpp: features schema, build
void add_train_command(CLI::App& app);       // cmd_train.cpp: train, evaluate
void add_backtest_command(CLI::App& app);    // cmd_backtest.cpp
void add_config_command(CLI::App& app);      // cmd_config.cpp: config show, check
void add_registry_command(CLI::App& app);    // cmd_registry.cpp: registry list, show, promote, rollback, ...
void add_kafka_mock_command(CLI::App& app);  // cmd_kafka_mock.cpp
void add_monitor_command(CLI::App& app);     // cmd_monitor.cpp: monitor report
void add_ab_command(CLI::App& app);          // cmd_ab.cpp: ab report
void add_serve_command(CLI::App& app);       // cmd_serve.cpp: the live system

}  // namespace pricecast::cli
