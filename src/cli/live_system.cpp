#include "cli/live_system.hpp"

#include <algorithm>
#include <csignal>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "models/model.hpp"
#include "registry/registry.hpp"
#include "training/retrain.hpp"
#include "training/trainer.hpp"

namespace pricecast::cli {
namespace {

using namespace std::chrono_literals;

std::atomic<bool> g_signalled{false};
extern "C" void on_signal(int) { g_signalled = true; }

api::ApiKey parse_key(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0)
        throw UsageError("serve.api_keys: '" + text + "' is not \"key:role\"");
    const auto role = text.substr(colon + 1);
    if (role != "read" && role != "admin")
        throw UsageError("serve.api_keys: role '" + role + "' is not read or admin");
    return {text.substr(0, colon), role == "admin" ? api::Role::admin : api::Role::read};
}

features::FeatureConfig configured_features(const Config& cfg) {
    features::FeatureConfig c;
    c.timeframes = cfg.strings("features.timeframes");
    if (auto refs = cfg.strings("features.indicators"); !refs.empty()) c.indicators = std::move(refs);
    c.sentiment_windows = cfg.strings("features.sentiment_windows");
    c.lateness = cfg.string("features.lateness");
    c.symbols = cfg.strings("features.symbols");
    return c;
}

Duration positive_duration(const Config& cfg, std::string_view key) {
    const auto d = cfg.duration(key);
    if (d <= 0) throw UsageError(fmt::format("{}: must be a positive duration", key));
    return d;
}

monitor::DriftConfig drift_config(const Config& cfg) {
    monitor::DriftConfig d;
    d.short_window = positive_duration(cfg, "monitor.short_window");
    d.long_window = positive_duration(cfg, "monitor.long_window");
    d.max_accuracy_drop = cfg.real("monitor.max_accuracy_drop");
    const auto min_samples = cfg.integer("monitor.min_samples");
    if (min_samples < 1) throw UsageError("monitor.min_samples: must be at least 1");
    d.min_samples = static_cast<std::size_t>(min_samples);
    d.psi_alarm = cfg.real("monitor.psi_alarm");
    d.ks_alarm = cfg.real("monitor.ks_alarm");
    try {
        monitor::validate(d);
    } catch (const monitor::MonitorError& e) {
        throw UsageError(e.what());
    }
    return d;
}

}  // namespace

double parse_speed(const std::string& text, std::string_view name) {
    if (text == "max") return 0;
    if (text.size() > 1 && text.back() == 'x') {
        try {
            std::size_t used = 0;
            const double v = std::stod(text.substr(0, text.size() - 1), &used);
            if (used == text.size() - 1 && v > 0) return v;
        } catch (const std::exception&) {
        }
    }
    throw UsageError(fmt::format("{}: '{}' is not a speed like \"60x\" or \"max\"", name, text));
}

const std::vector<std::string>& all_roles() {
    static const std::vector<std::string> roles = {"price", "sentiment", "features", "inference", "monitor", "api"};
    return roles;
}

std::set<std::string> parse_roles(const std::vector<std::string>& names) {
    std::set<std::string> out;
    for (const auto& n : names) {
        if (n == "all") {
            out.insert(all_roles().begin(), all_roles().end());
        } else if (std::find(all_roles().begin(), all_roles().end(), n) != all_roles().end()) {
            out.insert(n);
        } else {
            throw UsageError(
                fmt::format("--role: unknown role '{}' (price, sentiment, features, inference, monitor, api, all)", n));
        }
    }
    if (out.empty()) throw UsageError("--role: no role given");
    return out;
}

serving::KlineFeedOptions feed_options(const Config& cfg, const std::string& url) {
    serving::KlineFeedOptions f{.url = url, .subscribe = cfg.strings("serve.feed_subscribe")};
    f.time_unit = cfg.string("serve.feed_time_unit");
    f.ca_file = cfg.string("serve.feed_ca_file");
    f.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(cfg.duration("serve.feed_idle_timeout")));
    try {
        for (const auto& a : cfg.strings("serve.feed_fields")) f.fields.set(a);
        serving::check(f);
    } catch (const serving::FeedError& e) {
        throw UsageError(std::string("serve.feed_*: ") + e.what());
    }
    return f;
}

LiveOptions live_options(CommonOptions& common) {
    const Config& cfg = common.config();
    LiveOptions o;
    o.model = cfg.string("serve.model");
    o.kafka = cfg.string("serve.kafka");
    o.host = cfg.string("serve.host");
    o.port = static_cast<int>(cfg.integer("serve.port"));
    o.ws_port = static_cast<int>(cfg.integer("serve.ws_port"));
    o.metrics_port = static_cast<int>(cfg.integer("serve.metrics_port"));
    o.max_connections = static_cast<std::size_t>(cfg.integer("serve.max_connections"));
    o.source.speed = parse_speed(cfg.string("serve.speed"), "serve.speed");
    o.window = static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.integer("serve.window")));
    const auto ab_mode = serving::parse_ab_mode(cfg.string("serve.ab_mode"));
    if (!ab_mode) throw UsageError("serve.ab_mode: '" + cfg.string("serve.ab_mode") + "' is not shadow or split");
    o.ab_mode = *ab_mode;
    o.ab_share = cfg.real("serve.ab_share");
    if (!(o.ab_share >= 0 && o.ab_share <= 1))
        throw UsageError(fmt::format("serve.ab_share: {} is not in [0, 1]", o.ab_share));
    o.refresh_every = cfg.duration("serve.refresh_every");
    o.snapshot_every = cfg.duration("serve.snapshot_every");
    for (const auto& k : cfg.strings("serve.api_keys")) o.keys.push_back(parse_key(k));
    for (const auto& kv : cfg.strings("serve.kafka_settings")) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError("serve.kafka_settings: '" + kv + "' is not \"key=value\"");
        o.kafka_settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (const auto url = cfg.string("serve.feed_url"); !url.empty()) o.feed = feed_options(cfg, url);
    o.data_dir = common.data_dir();
    o.features = configured_features(cfg);
    o.sentiment_model = cfg.string("sentiment.model");
    o.outcome_rule = monitor::LabelRule::fixed(static_cast<int>(cfg.integer("monitor.horizon")),
                                               cfg.real("monitor.threshold"));
    o.webhook = cfg.string("monitor.webhook");
    o.webhook_format = cfg.string("monitor.webhook_format");
    if (o.webhook_format != "json" && o.webhook_format != "slack")
        throw UsageError("monitor.webhook_format: '" + o.webhook_format + "' is not json or slack");
    o.drift = drift_config(cfg);
    o.evaluate_every = positive_duration(cfg, "monitor.evaluate_every");
    o.retrain_on_drift = cfg.boolean("monitor.retrain_on_drift");
    o.retrain_model = cfg.string("monitor.retrain_model");
    if (std::find(training::kLearntKinds.begin(), training::kLearntKinds.end(), o.retrain_model) ==
        training::kLearntKinds.end())
        throw UsageError("monitor.retrain_model: '" + o.retrain_model + "' is not gbdt, rf, lstm or ensemble");
    o.retrain_window = positive_duration(cfg, "monitor.retrain_window");
    o.retrain_cooldown = cfg.duration("monitor.retrain_cooldown");
    const auto checks = cfg.integer("monitor.retrain_after_checks");
    if (checks < 1 || checks > 10000)
        throw UsageError("monitor.retrain_after_checks: " + std::to_string(checks) + " is not in [1, 10000]");
    o.retrain_after_checks = static_cast<int>(checks);
    return o;
}

LiveSystem::LiveSystem(LiveOptions options, CommonOptions& common) : options_(std::move(options)) {
    try {
        schema_ = features::Pipeline(options_.features).schema();
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    // In-process, inference keeps a window of vectors per symbol uncommitted:
    // the capacity leaves room for 60 vectors of 4,000 symbols.
    bus_ = options_.kafka.empty()
               ? bus::make_in_process_bus({.capacity = 1 << 18})
               : bus::make_kafka_bus({.bootstrap = options_.kafka, .settings = options_.kafka_settings});
    if (options_.roles.contains("sentiment")) scorer_ = make_sentiment_scorer(options_.sentiment_model, common);
    if (options_.roles.contains("inference") || options_.roles.contains("api")) {
        serving::ManagerOptions mo;
        mo.interval = std::chrono::nanoseconds(options_.refresh_every) > 0ns
                          ? std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(options_.refresh_every))
                          : std::chrono::milliseconds(std::chrono::hours(1));
        models_ = std::make_unique<serving::ModelManager>(options_.data_dir, models::load_model, mo);
        models_->watch(options_.model, schema_.hash());
    }
}

LiveSystem::~LiveSystem() { stop(); }

void LiveSystem::launch(const std::string& role, std::function<void(std::stop_token)> body) {
    threads_.emplace_back(role, std::jthread([role, body = std::move(body)](std::stop_token stop) {
                              try {
                                  body(stop);
                              } catch (const std::exception& e) {
                                  spdlog::error("{}: stopped: {}", role, e.what());
                              }
                          }));
}

void LiveSystem::start() {
    const auto& roles = options_.roles;
    if (models_) {
        models_->refresh();
        if (auto err = models_->last_error(options_.model)) spdlog::warn("model manager: {}", *err);
        models_->start();
    }
    if (roles.contains("api"))
        start_api();
    else if (options_.metrics_port >= 0)
        start_ops_server();
    if (roles.contains("monitor")) start_monitor();
    if (roles.contains("inference")) {
        serving::InferenceOptions io{options_.model, options_.window};
        io.ab_mode = options_.ab_mode;
        io.ab_share = options_.ab_share;
        inference_ = std::make_unique<serving::InferenceService>(*bus_, *models_, io);
        launch("inference", [this](std::stop_token s) { inference_->run(s); });
    }
    if (roles.contains("features")) {
        serving::FeatureServiceOptions fo;
        fo.config = options_.features;
        fo.snapshot_file = std::filesystem::path(options_.data_dir) / "snapshots" / "features.bin";
        fo.snapshot_every = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(options_.snapshot_every));
        feature_service_ = std::make_unique<serving::FeatureService>(*bus_, fo);
        launch("features", [this](std::stop_token s) { feature_service_->run(s); });
    }
    if (roles.contains("sentiment")) {
        sentiment_ = std::make_unique<serving::SentimentService>(*bus_, *scorer_);
        launch("sentiment", [this](std::stop_token s) { sentiment_->run(s); });
    }
    if (roles.contains("price") && options_.feed) {
        kline_feed_ = std::make_unique<serving::KlineFeed>(*bus_, *options_.feed);
        launch("price", [this](std::stop_token s) { kline_feed_->run(s); });
    } else if (roles.contains("price")) {
        price_ = std::make_unique<serving::PriceService>(*bus_, options_.source);
        launch("price", [this](std::stop_token s) {
            price_->run(s);
            source_done_ = true;
        });
    }
}

// The REST and WebSocket API with the store feed it serves from.
void LiveSystem::start_api() {
    if (options_.metrics_port >= 0)
        spdlog::warn("serve.metrics_port is ignored in a process with the api role: its port serves /health, /ready "
                     "and /metrics");
    feed_ = std::make_unique<serving::StoreFeed>(*bus_, predictions_, &features_, "api", &bars_);
    launch("api-feed", [this](std::stop_token s) { feed_->run(s); });
    // Its own connection to the monitor role's log (in this process or another): SQLite WAL readers.
    api_log_ = std::make_unique<monitor::PredictionLog>(monitor::PredictionLog::default_path(options_.data_dir));
    api::Services services{&predictions_, &features_, models_.get(), options_.model, &schema_, options_.data_dir,
                           bus_.get(), api_log_.get(), &bars_, options_.features.symbols};
    api::ServerOptions so;
    so.host = options_.host;
    so.port = options_.port;
    so.ws_port = options_.ws_port;
    so.max_connections = options_.max_connections;
    so.keys = options_.keys;
    so.web_root = std::filesystem::path(PRICECAST_WEB_DIR);
    server_ = std::make_unique<api::Server>(services, so);
    server_->start();
}

// For the probes and the scraper of a process that runs no api role: only the
// bus and, for inference, the served model, so /ready means what it says.
void LiveSystem::start_ops_server() {
    api::Services services;
    services.models = models_.get();
    services.model_name = options_.model;
    services.bus = bus_.get();
    api::ServerOptions so;
    so.host = options_.host;
    so.port = options_.metrics_port;
    so.ws_port = -1;
    so.keys = options_.keys;  // /metrics asks for a read key where the api port does
    so.ops_only = true;
    so.threads = 1;  // probes and a scraper, a few requests a minute
    ops_server_ = std::make_unique<api::Server>(services, so);
    ops_server_->start();
}

namespace {

// Outcomes are scored with the label the serving champion was trained on (its
// fixed, fitted quantile or volatility-scaled thresholds), so live accuracy
// means what the training report's does; a version registered without label
// parameters gets monitor.horizon and monitor.threshold (`configured`).
monitor::LabelRule version_rule(const std::string& data_dir, const monitor::LabelRule& configured,
                                const std::string& model, int version) {
    registry::Registry reg(data_dir);
    return monitor::LabelRule::of_model(reg.get(model, version).params).value_or(configured);
}

// The rule at start, said in the log.
monitor::LabelRule champion_rule(const LiveOptions& o) {
    registry::Registry reg(o.data_dir);
    const auto version = reg.alias_version(o.model, std::string(registry::kChampion));
    if (!version) return o.outcome_rule;
    if (const auto rule = monitor::LabelRule::of_model(reg.get(o.model, *version).params)) {
        spdlog::info("monitor: outcomes scored with the label rule of {} v{}: {}", o.model, *version, rule->describe());
        return *rule;
    }
    spdlog::warn("monitor: {} v{} was registered without label parameters; outcomes scored with monitor.horizon and "
                 "monitor.threshold: {}",
                 o.model, *version, o.outcome_rule.describe());
    return o.outcome_rule;
}

}  // namespace

// Prediction log, outcomes and drift in the data directory; alerts to the log,
// Prometheus and the configured webhook.
void LiveSystem::start_monitor() {
    const std::filesystem::path dir(options_.data_dir);
    std::filesystem::create_directories(dir / "snapshots");
    alerts_ = std::make_unique<monitor::AlertManager>();
    alerts_->add_sink(monitor::make_log_sink());
    alerts_->add_sink(monitor::make_metrics_sink());
    try {
        if (!options_.webhook.empty())
            alerts_->add_sink(monitor::make_webhook_sink(
                options_.webhook, options_.webhook_format == "slack" ? monitor::WebhookFormat::slack
                                                                     : monitor::WebhookFormat::json));
        monitor::MonitorOptions mo;
        mo.log_file = dir / "predictions.sqlite";
        mo.state_file = dir / "snapshots" / "monitor.bin";
        monitor::validate(options_.outcome_rule);
        mo.rule = champion_rule(options_);
        mo.drift = options_.drift;
        mo.evaluate_every = options_.evaluate_every;
        for (const auto& c : schema_.columns()) mo.feature_names.push_back(c.name);
        // Each champion version is checked against the reference stored with it at training time.
        mo.reference_of = [dir = options_.data_dir](const monitor::ModelKey& key) {
            registry::Registry reg(dir);
            return monitor::Reference::load(reg.get(key.model, key.version).artifact_dir);
        };
        mo.rule_of = [dir = options_.data_dir, configured = options_.outcome_rule](const monitor::ModelKey& key) {
            return version_rule(dir, configured, key.model, key.version);
        };
        // The demo's history replay, or a replay of files the model was trained on, is not live skill.
        mo.trained_to = [dir = options_.data_dir](const monitor::ModelKey& key) -> std::optional<Timestamp> {
            registry::Registry reg(dir);
            const auto to = reg.get(key.model, key.version).data_to;
            return to != 0 ? std::optional(to) : std::nullopt;
        };
        if (options_.retrain_on_drift) {
            mo.keep_features = options_.retrain_window;
            mo.on_drift = [this](const monitor::Alert& a) { retrain_after(a); };
            mo.on_drift_after = options_.retrain_after_checks;
        }
        monitor_ = std::make_unique<monitor::MonitorService>(mo, *alerts_);
    } catch (const monitor::MonitorError& e) {
        throw UsageError(e.what());
    }
    launch("monitor", [this](std::stop_token s) { monitor_->run(*bus_, s); });
}

// On the monitor thread, after a drift alert: trains a challenger on the
// kept features in the background. The model manager loads it at its next
// refresh and the A/B mode decides what it serves; the champion stays.
void LiveSystem::retrain_after(const monitor::Alert& alert) {
    if (retraining_ || (last_retrain_ != INT64_MIN && alert.time - last_retrain_ < options_.retrain_cooldown)) return;
    last_retrain_ = alert.time;
    retraining_ = true;
    if (retrain_job_.joinable()) retrain_job_.join();  // the previous job, already finished
    auto recent = features::to_matrix(schema_, monitor_->recent_features());
    spdlog::warn("retraining {} on {} recent feature vectors after: {}", options_.model, recent.rows(), alert.summary);
    retrain_job_ = std::jthread([this, m = std::move(recent), reason = alert.summary] {
        try {
            registry::Registry reg(options_.data_dir);
            training::RetrainOptions ro{.model = options_.model,
                                        .spec = {.kind = options_.retrain_model},
                                        .short_window = options_.drift.short_window,
                                        // for a champion without labels: the configured fixed rule
                                        .labels = {.horizon = options_.outcome_rule.horizon,
                                                   .threshold = options_.outcome_rule.up}};
            const auto r = training::retrain_challenger(reg, m, ro, reason);
            spdlog::warn("retrained {}: version {} is the challenger (out-of-sample accuracy {:.3f}, macro-F1 {:.3f})",
                         options_.model, r.version.version, r.result.model.accuracy, r.result.model.macro_f1);
        } catch (const std::exception& e) {
            spdlog::error("retraining {} failed: {}", options_.model, e.what());
        }
        retraining_ = false;
    });
}

bool LiveSystem::source_done() const { return source_done_; }

// Waits until no service has published for a moment (or 5 s pass).
void LiveSystem::wait_idle() {
    auto total = [this] {
        std::uint64_t n = 0;
        if (sentiment_) n += sentiment_->scored();
        if (feature_service_) n += feature_service_->published();
        if (inference_) n += inference_->published();
        return n;
    };
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (auto last = total(); std::chrono::steady_clock::now() < deadline;) {
        std::this_thread::sleep_for(300ms);
        const auto now = total();
        if (now == last) return;
        last = now;
    }
}

void LiveSystem::stop() {
    if (threads_.empty() && !server_ && !ops_server_) return;
    // Intake first (the price source is the last launched), then the rest in
    // data-flow order, each after the one before it has drained.
    for (auto it = threads_.rbegin(); it != threads_.rend(); ++it) {
        if (it->first != "price") continue;
        it->second.request_stop();
        it->second.join();
    }
    wait_idle();
    for (const auto& role : {"sentiment", "features", "inference", "monitor", "api-feed"}) {
        for (auto& [name, t] : threads_) {
            if (name != role || !t.joinable()) continue;
            t.request_stop();
            t.join();
        }
        if (std::string(role) == "sentiment" || std::string(role) == "features") wait_idle();
    }
    threads_.clear();
    if (retrain_job_.joinable()) {
        if (retraining_) spdlog::info("waiting for the retraining job to finish");
        retrain_job_.join();
    }
    if (server_) server_->stop();
    server_.reset();
    // Last: the probes and the scraper see the process until it has drained.
    ops_server_.reset();
    if (models_) models_->stop();
    bus_->flush(10s);
}

void wait_for_signal(const std::function<bool()>& until) {
    g_signalled = false;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    while (!g_signalled && !(until && until())) std::this_thread::sleep_for(100ms);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
}

}  // namespace pricecast::cli
