// Subcommands: each file adds its own to the app. A subcommand's callback
// throws CliError (exit 2, bad usage or input) or any other exception (exit 1).
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

namespace pricecast::cli {

// Bad usage or bad input: exit code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Options every subcommand accepts (DESIGN.md: --config, --data-dir, --log-format).
struct CommonOptions {
    std::string config_file;
    std::string data_dir;
    std::string log_format = "text";
};
void add_common_options(CLI::App& cmd, CommonOptions& opts);

// Exit code a subcommand asks for after it ran (0 unless set).
int& exit_code();

void add_data_command(CLI::App& app);        // cmd_data.cpp: data check, data resample
void add_simulate_command(CLI::App& app);    // cmd_simulate.cpp
void add_indicators_command(CLI::App& app);  // cmd_indicators.cpp: indicators list, compute
void add_demo_command(CLI::App& app);        // cmd_demo.cpp
void add_sentiment_command(CLI::App& app);   // cmd_sentiment.cpp: sentiment score, train, eval
void add_features_command(CLI::App& app);    // cmd_features.cpp: features schema, build
void add_train_command(CLI::App& app);       // cmd_train.cpp: train, evaluate
void add_registry_command(CLI::App& app);    // cmd_registry.cpp: registry list, show, promote, rollback, ...

}  // namespace pricecast::cli
