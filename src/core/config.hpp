// Configuration: a TOML file plus environment overrides.
//
// Every key is declared once, in the table in config.cpp (name, type, default,
// one line of documentation); config/pricecast.example.toml documents the same
// keys and a test keeps the two equal. A key `section.name` is read from, in
// order: the environment variable PRICECAST_<SECTION>_<NAME> (upper case), the
// file, the declared default. Command-line flags, where a subcommand has them,
// override all three. Unknown keys, wrongly typed values and values outside a
// key's rule are errors that name the key and where it came from
// (file:line:column or the variable); a file's errors are reported together.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace pricecast {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class ConfigType : std::uint8_t { integer, real, boolean, string, string_list, duration };
std::string_view to_string(ConfigType t);

// What a value must be beyond its type, checked when the configuration is
// loaded so that every subcommand and `config check` refuse the same values,
// before any work starts. Keys whose values only the code reading them can
// judge (indicator references, speeds, API keys, ...) have no rule here: the
// CLI runs that code when it loads the configuration.
struct ConfigRule {
    std::optional<double> min = {}, max = {};  // inclusive; integers and numbers, durations in seconds
    std::vector<std::string> one_of = {};      // strings
    bool iso8601 = false;            // a string holding an ISO-8601 time
};

struct ConfigKey {
    std::string name;  // "features.lateness"; top-level keys have no dot
    ConfigType type = ConfigType::string;
    std::string default_value;  // as TOML would write it: 42, 0.5, true, "text", ["a", "b"], "1m"
    std::string doc;
    ConfigRule rule = {};
    // The code chooses a value when the key is not set at all (from the data,
    // or per subcommand), so an example must leave it unset rather than spell
    // out default_value, which is only the fallback.
    bool chosen_when_unset = false;
};

// Every key pricecast reads, in documentation order.
const std::vector<ConfigKey>& config_keys();
// The declared key; throws ConfigError (with a suggestion) for an unknown name.
const ConfigKey& config_key(std::string_view name);
// A rule in words: "in [0, 65535]", "one of text, json", "at least 1".
std::string describe(const ConfigRule& rule, ConfigType type);

// For an environment variable that is no key's variable but looks like one (it
// is in a section's PRICECAST_<SECTION>_ namespace, or a few letters from a
// key's variable): a warning naming the closest key's variable. nullopt for a
// key's variable and for unrelated ones (PRICECAST_LSTM_PORTABLE, ...).
std::optional<std::string> misspelt_variable(std::string_view name);

class Config {
public:
    // Defaults and the environment only. Throws ConfigError for environment
    // variables whose values do not fit their keys' types or rules.
    Config();
    // Throws ConfigError for a missing file, a TOML syntax error, or every
    // unknown key (with a suggestion), value of the wrong type and value outside
    // its key's rule, one per line.
    static Config load(const std::filesystem::path& file);
    ~Config();
    Config(Config&&) noexcept;
    Config& operator=(Config&&) noexcept;

    std::int64_t integer(std::string_view key) const;
    double real(std::string_view key) const;
    bool boolean(std::string_view key) const;
    std::string string(std::string_view key) const;
    std::vector<std::string> strings(std::string_view key) const;
    Duration duration(std::string_view key) const;

    // "default", "<file>:<line>:<column>" or "env PRICECAST_..." for a key.
    std::string source(std::string_view key) const;
    // The effective value as TOML text.
    std::string value_text(std::string_view key) const;
    // The environment variable for a key: features.lateness -> PRICECAST_FEATURES_LATENESS.
    static std::string env_name(std::string_view key);

    struct Impl;  // opaque: the TOML tables

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pricecast
