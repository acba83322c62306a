#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/live_system.hpp"
#include "core/input_file.hpp"
#include "core/logging.hpp"
#include "core/version.hpp"

namespace pricecast::cli {

int& exit_code() {
    static int code = 0;
    return code;
}

namespace {

// An error of the code that reads the configuration starts with the key it is
// about ("serve.ab_mode: ...", or "timeframes: ..." from the feature pipeline,
// whose keys are under `section`): prefixed with where that key was set.
UsageError placed(const Config& c, const std::string& section, const std::string& message) {
    const auto colon = message.find(": ");
    const auto key = section + message.substr(0, colon);
    const bool a_key = colon != std::string::npos &&
                       std::any_of(config_keys().begin(), config_keys().end(), [&](const auto& k) { return k.name == key; });
    return UsageError(a_key ? fmt::format("{}: {}{}", c.source(key), section, message) : message);
}

// Values only the code that reads them can judge (indicator references,
// timeframes, speeds, API keys, monitor windows, ...): that code runs here, when
// the configuration is loaded, so that every subcommand and `config check`
// refuse the same values before any work starts.
void check_values(CommonOptions& opts, const Config& c) {
    try {
        features::Pipeline(live_options(opts).features);
    } catch (const UsageError& e) {
        throw placed(c, "", e.what());
    } catch (const std::invalid_argument& e) {
        throw placed(c, "features.", e.what());
    }
}

}  // namespace

const Config& CommonOptions::config() {
    if (!config_) {
        try {
            config_ = config_file.empty() ? Config() : Config::load(config_file);
        } catch (const ConfigError& e) {
            throw UsageError(e.what());
        }
        try {
            check_values(*this, *config_);
        } catch (const UsageError&) {
            config_.reset();
            throw;
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
    // Both are checked: --log-format by CLI11, log_format by its configuration rule.
    return *parse_log_format(leaf->get_option("--log-format")->count() > 0 ? opts.log_format
                                                                             : opts.config().string("log_format"));
}

// A misspelt PRICECAST_<SECTION>_<KEY> would otherwise be ignored without a word.
void warn_about_misspelt_variables() {
    for (char** e = environ; *e; ++e) {
        const std::string_view entry(*e);
        if (auto warning = misspelt_variable(entry.substr(0, entry.find('=')))) spdlog::warn("{}", *warning);
    }
}

// CLI11 reports a word that names no subcommand, an option before the
// command (`pricecast --config x train`), and a group given without a command
// all as "A subcommand is required": name the word, or the group's commands,
// instead. The walk stops at the first option a group has (--help, --version).
std::optional<std::string> command_problem(const CLI::App& app, int argc, char** argv) {
    const CLI::App* at = &app;
    std::string path = app.get_name();
    const auto commands = [&at] {
        std::vector<std::string> names;
        for (const auto* sub : at->get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
        return fmt::format("{}", fmt::join(names, ", "));
    };
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (at->get_require_subcommand_min() == 0) return std::nullopt;
        if (word.starts_with("-")) {
            if (at->get_option_no_throw(word.substr(0, word.find('='))) != nullptr) return std::nullopt;
            return fmt::format("{} has no option '{}': options go after the command ({}); see {} --help", path, word,
                               commands(), path);
        }
        const auto named = at->get_subcommands([&word](const CLI::App* sub) { return sub->check_name(word); });
        if (!named.empty()) {
            at = named.front();
            path += " " + word;
            continue;
        }
        return fmt::format("unknown command '{}'; see {} --help", word, path);
    }
    if (at->get_require_subcommand_min() == 0) return std::nullopt;
    return fmt::format("{} needs a command: {}; see {} --help", path, commands(), path);
}

// "pricecast data check": the command a parse failed in, as far as it got.
std::string parsed_command(const CLI::App& app) {
    std::string path = app.get_name();
    for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
        at = at->get_subcommands().front();
        path += " " + at->get_name();
    }
    return path;
}

}  // namespace

CLI::Range config_range(std::string_view key) {
    const ConfigKey& k = config_key(key);
    if (k.type == ConfigType::integer)
        return CLI::Range(static_cast<long>(*k.rule.min), static_cast<long>(*k.rule.max));
    return CLI::Range(*k.rule.min, *k.rule.max);
}

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
    app.set_version_flag("--version", pricecast::code_version());
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
    app.parse_complete_callback([&app] {
        pricecast::configure_logging(log_format_of_run(app));
        warn_about_misspelt_variables();
    });
    if (const auto problem = command_problem(app, argc, argv)) {
        std::cerr << "error: " << *problem << "\n";
        return 2;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        // CLI11's "--out is required": say of which command, and where its help is.
        const auto path = parsed_command(app);
        std::cerr << fmt::format("error: {}: {}; see {} --help\n", path, e.what(), path);
        return 2;
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const pricecast::InputError& e) {  // unreadable input (data::DataError too): the caller's to fix
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return exit_code();
}
