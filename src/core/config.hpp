// Configuration: a TOML file plus environment overrides.
//
// Every key is declared once, in the table in config.cpp (name, type, default,
// one line of documentation); config/pricecast.example.toml documents the same
// keys and a test keeps the two equal. A key `section.name` is read from, in
// order: the environment variable PRICECAST_<SECTION>_<NAME> (upper case), the
// file, the declared default. Command-line flags, where a subcommand has them,
// override all three. Unknown keys and wrongly typed values are errors that
// name the key and where it came from (file:line:column or the variable).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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

struct ConfigKey {
    std::string name;  // "features.lateness"; top-level keys have no dot
    ConfigType type = ConfigType::string;
    std::string default_value;  // as TOML would write it: 42, 0.5, true, "text", ["a", "b"], "1m"
    std::string doc;
};

// Every key pricecast reads, in documentation order.
const std::vector<ConfigKey>& config_keys();

class Config {
public:
    // Defaults and the environment only. Throws ConfigError for an environment
    // variable whose value does not fit its key's type.
    Config();
    // Throws ConfigError for a missing file, a TOML syntax error, an unknown key
    // (with a suggestion) or a value of the wrong type.
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
