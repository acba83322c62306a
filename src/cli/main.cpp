#include <cstdlib>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/logging.hpp"

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

namespace {

// Which CommonOptions serve which subcommand: the log format is chosen once,
// after parsing, from the options of the subcommand that runs.
std::map<const CLI::App*, CommonOptions*>& common_options_of() {
    static std::map<const CLI::App*, CommonOptions*> m;
    return m;
}

// --log-format, else log_format of the configuration (file or PRICECAST_LOG_FORMAT).
LogFormat log_format_of_run(const CLI::App& app) {
    const CLI::App* leaf = &app;
    while (!leaf->get_subcommands().empty()) leaf = leaf->get_subcommands().front();
    const auto it = common_options_of().find(leaf);
    if (it == common_options_of().end()) return LogFormat::text;
    CommonOptions& opts = *it->second;
    if (leaf->get_option("--log-format")->count() > 0) return *parse_log_format(opts.log_format);
    const Config& config = opts.config();
    const auto name = config.string("log_format");
    if (auto f = parse_log_format(name)) return *f;
    throw UsageError(fmt::format("log_format ({}): '{}' is not text or json", config.source("log_format"), name));
}

}  // namespace

void add_common_options(CLI::App& cmd, CommonOptions& opts) {
    common_options_of()[&cmd] = &opts;
    cmd.add_option("--config", opts.config_file,
                   "TOML configuration file (see config/pricecast.example.toml); every key can also be set as "
                   "PRICECAST_<SECTION>_<KEY> in the environment");
    cmd.add_option("--data-dir", opts.data_dir_flag,
                   "where the registry, logs, snapshots and reports live (default: $PRICECAST_DATA_DIR, else "
                   "data_dir in --config, else ./pricecast-data)")
        ->each([&opts](const std::string&) { opts.data_dir_given = true; });
    cmd.add_option("--log-format", opts.log_format,
                   "log lines on stderr: text or json (JSON lines); default: log_format in --config or "
                   "$PRICECAST_LOG_FORMAT, else text")
        ->check(CLI::IsMember({"text", "json"}));
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
    add_backtest_command(app);
    add_config_command(app);
    add_registry_command(app);
    add_kafka_mock_command(app);
    add_monitor_command(app);
    add_ab_command(app);
    add_serve_command(app);
    pricecast::configure_logging(pricecast::LogFormat::text);
    // Runs after every option is parsed, before the subcommand's callback.
    app.parse_complete_callback([&app] { pricecast::configure_logging(log_format_of_run(app)); });
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
