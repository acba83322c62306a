#include "core/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "core/input_file.hpp"

namespace pricecast {
namespace {

ConfigRule within(double lo, double hi) { return {.min = lo, .max = hi}; }
ConfigRule at_least(double lo) { return {.min = lo}; }
ConfigRule one_of(std::vector<std::string> names) { return {.one_of = std::move(names)}; }
ConfigRule iso8601_time() { return {.iso8601 = true}; }

constexpr bool kChosenWhenUnset = true;

}  // namespace

const std::vector<ConfigKey>& config_keys() {
    using T = ConfigType;
    static const std::vector<ConfigKey> keys = {
        {"data_dir", T::string, R"("pricecast-data")", "where the registry, prediction log, snapshots and reports live"},
        {"log_format", T::string, R"("text")", "log lines: \"text\" (human-readable) or \"json\" (one object per line)",
         one_of({"text", "json"})},

        {"features.timeframes", T::string_list, R"(["1m", "5m", "1h"])",
         "bar timeframes, shortest first; the first is the interval of the input bars. When not set, `features "
         "build`, `train`, `backtest` and `evaluate` take the price files' bar interval and two longer ones (1m bars: "
         "1m, 5m, 1h; 5m bars: 5m, 15m, 1h), and the other subcommands use [\"1m\", \"5m\", \"1h\"]",
         {}, kChosenWhenUnset},
        {"features.indicators", T::string_list, "[]",
         "indicator references (\"rsi(14)\" on every timeframe, \"5m:rsi(14)\" on one); [] = the built-in set of "
         "`pricecast features schema`"},
        {"features.sentiment_windows", T::string_list, R"(["10m", "1h"])", "event-time sentiment windows"},
        {"features.lateness", T::duration, R"("1m")",
         "how late a message may arrive and still count; bars wait this long for late news"},
        {"features.symbols", T::string_list, "[]", "symbols accepted by the feature pipeline; [] = any"},

        {"sentiment.model", T::string, R"("")",
         "classifier artifact from `pricecast sentiment train` used to score news; \"\" = the lexicon scorer"},
        {"sentiment.lexicon_dir", T::string, R"("")",
         "folder with the lexicon files; \"\" = the ones shipped in data/sentiment"},

        {"serve.model", T::string, R"("trend")", "registered model the inference service serves (its champion)"},
        {"serve.kafka", T::string, R"("")",
         "Kafka bootstrap servers (\"host:port,...\") for the distributed mode; \"\" = the in-process bus"},
        {"serve.kafka_settings", T::string_list, "[]",
         "extra librdkafka settings as \"key=value\" (security.protocol, sasl.*, ssl.*, timeouts) for a real cluster"},
        {"serve.host", T::string, R"("127.0.0.1")", "address the HTTP + WebSocket server listens on"},
        {"serve.port", T::integer, "8080", "HTTP + WebSocket port (REST, /ws, dashboard, /metrics); 0 = any free port",
         within(0, 65535)},
        {"serve.ws_port", T::integer, "8765", "extra WebSocket-only port as in the original design; -1 = none",
         within(-1, 65535)},
        {"serve.max_connections", T::integer, "0",
         "open HTTP and WebSocket connections the api serves at once; past it a new one is closed at once; 0 = "
         "three quarters of the process's open-file limit (ulimit -n), leaving descriptors to the other roles",
         within(0, 1'000'000)},
        {"serve.metrics_port", T::integer, "-1",
         "port answering only /health, /ready and /metrics (Prometheus) in a process without the api role (the api "
         "port serves them); -1 = none, 0 = any free port",
         within(-1, 65535)},
        {"serve.speed", T::string, R"("60x")",
         "replay speed of the price source: \"60x\" = an hour of market per minute, \"max\" = as fast as possible"},
        {"serve.feed_url", T::string, R"("")",
         "exchange WebSocket kline feed (ws://host:port/path, or wss:// for TLS) for the price role instead of the "
         "simulator or files; \"\" = none"},
        {"serve.feed_subscribe", T::string_list, "[]",
         "text messages the feed sends after each connect (e.g. a SUBSCRIBE request naming the kline streams)"},
        {"serve.feed_fields", T::string_list, "[]",
         "where the feed finds each value, as \"name=/json/pointer\" (symbol, open_time, interval, open, high, low, "
         "close, volume, trade_count, closed); [] = Binance's kline stream"},
        {"serve.feed_time_unit", T::string, R"("ms")", "unit of the feed's open_time: s, ms, us or ns"},
        {"serve.feed_ca_file", T::string, R"("")",
         "PEM file of the CA certificates a wss:// feed trusts (a private CA); \"\" = the system's CAs"},
        {"serve.feed_idle_timeout", T::duration, R"("2m")",
         "a feed connection that delivers nothing for this long is taken as dead and reconnected; raise it for a "
         "feed that sends only closed bars of long intervals (e.g. \"2h\" for hourly bars)"},
        {"serve.window", T::integer, "60", "feature vectors kept per symbol for sequence models", at_least(1)},
        {"serve.ab_mode", T::string, R"("shadow")",
         "a loaded challenger: \"shadow\" = predicts on every symbol, logged, never served; \"split\" = served for "
         "ab_share of the symbols (by a stable hash of the name)"},
        {"serve.ab_share", T::real, "0.1", "split mode: the challenger's share of symbols, in [0, 1]"},
        {"serve.refresh_every", T::duration, R"("1h")", "how often the model manager checks the registry"},
        {"serve.snapshot_every", T::duration, R"("10s")", "how often the feature service snapshots its state"},
        {"serve.api_keys", T::string_list, "[]",
         "API keys as \"key:role\" (role read or admin); [] = no authentication (local use only)"},

        {"monitor.horizon", T::integer, "1",
         "bars after a prediction at which its outcome is resolved, for a champion registered without label "
         "parameters (otherwise its own horizon and thresholds score outcomes)",
         within(1, 1000)},
        {"monitor.threshold", T::real, "0.001",
         "return beyond which a resolved outcome is UP or DOWN, for the same champions (the fixed-threshold label "
         "rule)",
         within(0, 1)},
        {"monitor.webhook", T::string, R"("")", "URL that receives alerts as an HTTP POST of JSON; \"\" = none"},
        {"monitor.webhook_format", T::string, R"("json")", "alert payload: \"json\" or \"slack\" ({\"text\": ...})"},
        {"monitor.short_window", T::duration, R"("24h")",
         "recent window of the rolling metrics and drift checks; also the window a trained model's drift reference "
         "is fit for"},
        {"monitor.long_window", T::duration, R"("168h")", "long window the short one is compared with"},
        {"monitor.evaluate_every", T::duration, R"("1h")", "event time between metric and drift evaluations"},
        {"monitor.max_accuracy_drop", T::real, "0.05",
         "performance drift: short-window accuracy below the long window's by more than this"},
        {"monitor.min_samples", T::integer, "100", "resolved predictions the short window needs before it can alarm"},
        {"monitor.psi_alarm", T::real, "0.25", "data drift: a feature's PSI against the training reference above this"},
        {"monitor.ks_alarm", T::real, "0.25", "... and its Kolmogorov-Smirnov statistic above this"},
        {"monitor.retrain_on_drift", T::boolean, "false",
         "retrain on recent data when a drift alert fires and register the result as challenger (never champion)"},
        {"monitor.retrain_model", T::string, R"("gbdt")", "what retraining trains: gbdt, rf, lstm or ensemble"},
        {"monitor.retrain_window", T::duration, R"("168h")", "recent feature vectors kept to retrain on"},
        {"monitor.retrain_cooldown", T::duration, R"("24h")", "event time after a retrain before drift triggers another"},
        {"monitor.retrain_after_checks", T::integer, "1",
         "evaluations in a row (one per evaluate_every) that must find drift before retraining starts; 1: the first"},

        {"simulator.symbols", T::string_list, R"(["ACME", "BOLT"])", "simulated symbols"},
        {"simulator.seed", T::integer, "42", "random seed: the same seed gives the same market",
         at_least(0)},
        {"simulator.bars", T::integer, "1440", "bars per symbol written by `pricecast simulate`", within(1, 1e9)},
        {"simulator.interval", T::duration, R"("1m")", "bar interval"},
        {"simulator.start", T::string, R"("2024-01-02T00:00:00Z")", "event time of the first bar (ISO-8601)",
         iso8601_time()},
        {"simulator.news_rate", T::real, "0.02", "expected news items per symbol per bar", within(0, 10)},
        {"simulator.news_impact", T::real, "0.002",
         "log return per unit of news sentiment (0 with ar1 = ar2 = 0: a pure random walk)"},
        {"simulator.news_delay", T::integer, "2", "bars between a news item and the start of its price move",
         within(0, 60)},
        {"simulator.ar1", T::real, "0.0", "lag-1 autocorrelation planted in returns", within(-0.95, 0.95)},
        {"simulator.ar2", T::real, "0.0",
         "lag-2 autocorrelation planted in returns (`pricecast demo` plants 0.3 when this key is not set)",
         within(-0.95, 0.95), kChosenWhenUnset},
        {"simulator.switch_prob", T::real, "0.002",
         "probability per bar of a random switch between the calm, normal and turbulent regimes (`pricecast demo` "
         "uses 0 when this key is not set)",
         within(0, 1), kChosenWhenUnset},
    };
    return keys;
}

std::string_view to_string(ConfigType t) {
    switch (t) {
        case ConfigType::integer: return "integer";
        case ConfigType::real: return "number";
        case ConfigType::boolean: return "boolean (true or false)";
        case ConfigType::string: return "string";
        case ConfigType::string_list: return "list of strings";
        case ConfigType::duration: return "duration string (\"30s\", \"1m\", \"1h\")";
    }
    return "?";
}

namespace {

std::string a_type(ConfigType t) {
    const auto name = to_string(t);
    return (name.front() == 'i' ? "an " : "a ") + std::string(name);
}

const ConfigKey* find_key(std::string_view name) {
    for (const auto& k : config_keys())
        if (k.name == name) return &k;
    return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string suggestion(std::string_view name) {
    const ConfigKey* best = nullptr;
    std::size_t best_d = 4;
    for (const auto& k : config_keys())
        if (auto d = edit_distance(name, k.name); d < best_d) best_d = d, best = &k;
    return best ? fmt::format(" (did you mean '{}'?)", best->name) : "";
}

// The declared key whose variable is closest to `var`, if any is close.
const ConfigKey* closest_variable(std::string_view var) {
    const ConfigKey* best = nullptr;
    std::size_t best_d = 4;
    for (const auto& k : config_keys())
        if (auto d = edit_distance(var, Config::env_name(k.name)); d < best_d) best_d = d, best = &k;
    return best;
}

std::string where(const toml::node& n, const std::string& file) {
    const auto& s = n.source();
    return fmt::format("{}:{}:{}", file, s.begin.line, s.begin.column);
}

// Does the node hold a value of the key's type?
bool fits(const toml::node& n, ConfigType t) {
    switch (t) {
        case ConfigType::integer: return n.is_integer();
        case ConfigType::real: return n.is_floating_point() || n.is_integer();
        case ConfigType::boolean: return n.is_boolean();
        case ConfigType::string: return n.is_string();
        case ConfigType::duration: return n.is_string() && parse_duration(**n.as_string()).has_value();
        case ConfigType::string_list: {
            const auto* a = n.as_array();
            return a && std::all_of(a->begin(), a->end(), [](const toml::node& e) { return e.is_string(); });
        }
    }
    return false;
}

// What is wrong with a value of the key's type under the key's rule, if anything.
std::optional<std::string> rule_problem(const ConfigKey& k, const toml::node& n) {
    const ConfigRule& r = k.rule;
    if (const auto* s = n.as_string()) {
        const std::string& text = **s;
        const bool listed = r.one_of.empty() || std::find(r.one_of.begin(), r.one_of.end(), text) != r.one_of.end();
        if (!listed || (r.iso8601 && !parse_iso8601(text)))
            return fmt::format("{} must be {}, not \"{}\"", k.name, describe(r, k.type), text);
    }
    if (!r.min && !r.max) return std::nullopt;
    const double v = k.type == ConfigType::duration ? static_cast<double>(*parse_duration(**n.as_string())) / kSecond
                                                    : *n.value<double>();
    if (!(r.min && v < *r.min) && !(r.max && v > *r.max)) return std::nullopt;
    std::ostringstream shown;
    n.visit([&](const auto& x) { shown << toml::toml_formatter(x); });
    return fmt::format("{} must be {}, not {}", k.name, describe(r, k.type), shown.str());
}

// An environment value as TOML text of the key's type.
std::string env_as_toml(const std::string& raw, ConfigType t) {
    auto quote = [](std::string_view s) {
        std::string q = "\"";
        for (char c : s) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
        return q + "\"";
    };
    switch (t) {
        case ConfigType::string:
        case ConfigType::duration: return quote(raw);
        case ConfigType::string_list: {
            std::string out = "[";
            std::size_t start = 0;
            while (start <= raw.size() && !raw.empty()) {
                const auto comma = raw.find(',', start);
                const auto item = raw.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                out += (out.size() > 1 ? ", " : "") + quote(item);
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            return out + "]";
        }
        default: return raw;
    }
}

}  // namespace

std::string describe(const ConfigRule& r, ConfigType type) {
    if (!r.one_of.empty()) return fmt::format("one of {}", fmt::join(r.one_of, ", "));
    if (r.iso8601) return "an ISO-8601 time such as \"2024-01-02T00:00:00Z\"";
    const std::string what = type == ConfigType::duration ? "a duration (in seconds) " : "";
    if (r.min && r.max) return fmt::format("{}in [{}, {}]", what, *r.min, *r.max);
    if (r.min) return fmt::format("{}at least {}", what, *r.min);
    if (r.max) return fmt::format("{}at most {}", what, *r.max);
    return a_type(type);
}

const ConfigKey& config_key(std::string_view name) {
    if (const ConfigKey* k = find_key(name)) return *k;
    throw ConfigError(fmt::format("no configuration key '{}'{}", name, suggestion(name)));
}

std::optional<std::string> misspelt_variable(std::string_view name) {
    constexpr std::string_view prefix = "PRICECAST_";
    if (!name.starts_with(prefix)) return std::nullopt;
    bool in_a_section = false;
    for (const auto& k : config_keys()) {
        const std::string var = Config::env_name(k.name);
        if (var == name) return std::nullopt;
        const auto dot = k.name.find('.');
        if (dot != std::string::npos && name.starts_with(Config::env_name(k.name.substr(0, dot)) + "_"))
            in_a_section = true;
    }
    const ConfigKey* close = closest_variable(name);
    if (!close && !in_a_section) return std::nullopt;
    return fmt::format("{} is not a configuration variable and is ignored{}", name,
                       close ? fmt::format(" (did you mean {}?)", Config::env_name(close->name)) : "");
}

struct Config::Impl {
    toml::table defaults, file;
    std::string file_name;

    static toml::table parse(const std::string& text, const std::string& name) {
        try {
            return toml::parse(text, name);
        } catch (const toml::parse_error& e) {
            throw ConfigError(fmt::format("{}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column,
                                          e.description()));
        }
    }

    // The value of a key from the environment, parsed and type-checked; nullopt if unset.
    std::optional<toml::table> env(const ConfigKey& k) const {
        const std::string var = env_name(k.name);
        const char* raw = std::getenv(var.c_str());
        if (!raw) return std::nullopt;
        toml::table t;
        try {
            t = toml::parse("v = " + env_as_toml(raw, k.type));
        } catch (const toml::parse_error&) {
        }
        if (!t.contains("v") || !fits(*t.get("v"), k.type))
            throw ConfigError(fmt::format("env {}: '{}' is not {} (for {})", var, raw, a_type(k.type), k.name));
        return t;
    }

    // The node for a key and where it came from.
    std::pair<toml::node_view<const toml::node>, std::string> lookup(std::string_view name, toml::table& env_holder) const {
        if (auto e = env(config_key(name))) {
            env_holder = std::move(*e);
            return {toml::node_view<const toml::node>(env_holder.get("v")), "env " + env_name(name)};
        }
        if (auto n = file.at_path(name); n) return {n, where(*n.node(), file_name)};
        return {defaults.at_path(name), "default"};
    }

    // Every leaf of the file must be a declared key of the right type, within
    // the key's rule; each problem is one line of `problems`.
    void check(const toml::table& t, const std::string& prefix, std::vector<std::string>& problems) const {
        for (const auto& [key, node] : t) {
            const std::string name = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
            if (const auto* sub = node.as_table(); sub && !find_key(name)) {
                check(*sub, name, problems);
                continue;
            }
            const ConfigKey* k = find_key(name);
            if (!k)
                problems.push_back(fmt::format("{}: unknown key '{}'{}", where(node, file_name), name, suggestion(name)));
            else if (!fits(node, k->type))
                problems.push_back(fmt::format("{}: {} must be {}", where(node, file_name), name, a_type(k->type)));
            else if (auto p = rule_problem(*k, node))
                problems.push_back(fmt::format("{}: {}", where(node, file_name), *p));
        }
    }

    // The environment's values, as check() does the file's.
    void check_env(std::vector<std::string>& problems) const {
        for (const auto& k : config_keys()) {
            try {
                if (auto t = env(k))
                    if (auto p = rule_problem(k, *t->get("v"))) problems.push_back("env " + env_name(k.name) + ": " + *p);
            } catch (const ConfigError& e) {
                problems.push_back(e.what());
            }
        }
    }
};

namespace {

void throw_if_any(const std::vector<std::string>& problems) {
    if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
}

}  // namespace

Config::Config() : impl_(std::make_unique<Impl>()) {
    std::string text;
    for (const auto& k : config_keys()) text += fmt::format("\"{}\" = {}\n", k.name, k.default_value);
    // Dotted names in quotes are literal keys; re-nest them through at_path-friendly tables.
    const auto flat = Impl::parse(text, "defaults");
    for (const auto& [key, node] : flat) {
        const std::string name(key.str());
        const auto dot = name.find('.');
        if (dot == std::string::npos) {
            impl_->defaults.insert(name, node);
        } else {
            auto* section = impl_->defaults.emplace<toml::table>(name.substr(0, dot)).first->second.as_table();
            section->insert(name.substr(dot + 1), node);
        }
    }
    std::vector<std::string> problems;
    impl_->check_env(problems);  // bad environment values fail early
    throw_if_any(problems);
}

Config Config::load(const std::filesystem::path& file) {
    Config c;
    std::ifstream in;
    try {
        in = open_input(file);
    } catch (const InputError& e) {
        throw ConfigError(std::string(e.what()) + " (the configuration file)");
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    c.impl_->file_name = file.string();
    c.impl_->file = Impl::parse(text, file.string());
    std::vector<std::string> problems;
    c.impl_->check(c.impl_->file, "", problems);
    throw_if_any(problems);
    return c;
}

Config::~Config() = default;
Config::Config(Config&&) noexcept = default;
Config& Config::operator=(Config&&) noexcept = default;

std::string Config::env_name(std::string_view key) {
    std::string s = "PRICECAST_";
    for (char c : key) s += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

namespace {

template <class F>
auto typed(const Config::Impl& impl, std::string_view key, ConfigType want, F get) {
    toml::table env_holder;
    auto [node, from] = impl.lookup(key, env_holder);
    const ConfigKey* k = find_key(key);
    if (k->type != want && !(want == ConfigType::string && k->type == ConfigType::duration))
        throw std::logic_error(fmt::format("config key {} is a {}, read as a {}", key, to_string(k->type), to_string(want)));
    return get(*node.node());
}

}  // namespace

std::int64_t Config::integer(std::string_view key) const {
    return typed(*impl_, key, ConfigType::integer, [](const toml::node& n) { return **n.as_integer(); });
}
double Config::real(std::string_view key) const {
    return typed(*impl_, key, ConfigType::real, [](const toml::node& n) { return *n.value<double>(); });
}
bool Config::boolean(std::string_view key) const {
    return typed(*impl_, key, ConfigType::boolean, [](const toml::node& n) { return **n.as_boolean(); });
}
std::string Config::string(std::string_view key) const {
    return typed(*impl_, key, ConfigType::string, [](const toml::node& n) { return **n.as_string(); });
}
std::vector<std::string> Config::strings(std::string_view key) const {
    return typed(*impl_, key, ConfigType::string_list, [](const toml::node& n) {
        std::vector<std::string> out;
        for (const auto& e : *n.as_array()) out.push_back(**e.as_string());
        return out;
    });
}
Duration Config::duration(std::string_view key) const {
    return typed(*impl_, key, ConfigType::duration, [](const toml::node& n) { return *parse_duration(**n.as_string()); });
}

std::string Config::source(std::string_view key) const {
    toml::table env_holder;
    return impl_->lookup(key, env_holder).second;
}

std::string Config::value_text(std::string_view key) const {
    toml::table env_holder;
    auto [node, from] = impl_->lookup(key, env_holder);
    std::ostringstream out;
    node.visit([&](const auto& v) { out << toml::toml_formatter(v); });
    return out.str();
}

}  // namespace pricecast
