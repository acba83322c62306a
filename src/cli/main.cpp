#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"

namespace pricecast::cli {

int& exit_code() {
    static int code = 0;
    return code;
}

const Config& CommonOptions::config() {
    if (!config_) {
        try {
            config_ = config_file.empty() ? Config() : Config::load(config_file);
        } catch (const ConfigError& e) {
            throw UsageError(e.what());
        }
    }
    return *config_;
}

std::string CommonOptions::data_dir() {
    return data_dir_given ? data_dir_flag : config().string("data_dir");
}

void add_common_options(CLI::App& cmd, CommonOptions& opts) {
    cmd.add_option("--config", opts.config_file,
                   "TOML configuration file (see config/pricecast.example.toml); every key can also be set as "
                   "PRICECAST_<SECTION>_<KEY> in the environment");
    cmd.add_option("--data-dir", opts.data_dir_flag,
                   "where the registry, logs, snapshots and reports live (default: $PRICECAST_DATA_DIR, else "
                   "data_dir in --config, else ./pricecast-data)")
        ->each([&opts](const std::string&) { opts.data_dir_given = true; });
    cmd.add_option("--log-format", opts.log_format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
}

}  // namespace pricecast::cli

int main(int argc, char** argv) {
    using namespace pricecast::cli;
    CLI::App app{"pricecast: short-term trend prediction from prices and news", "pricecast"};
    app.require_subcommand(1);
    app.set_version_flag("--version", PRICECAST_VERSION);
    add_data_command(app);
    add_simulate_command(app);
    add_indicators_command(app);
    add_demo_command(app);
    add_sentiment_command(app);
    add_features_command(app);
    add_train_command(app);
    add_config_command(app);
    add_registry_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return exit_code();
}
