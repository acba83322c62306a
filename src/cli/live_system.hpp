// The running system of `pricecast serve` and `pricecast demo`: the chosen
// roles on one bus (in-process, or Kafka when a bootstrap is given), each on
// its own thread, stopped gracefully in data-flow order.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "bus/bus.hpp"
#include "monitor/monitor.hpp"
#include "cli/commands.hpp"
#include "serving/exchange_feed.hpp"
#include "serving/live.hpp"

namespace pricecast::cli {

struct LiveOptions {
    std::set<std::string> roles;  // price, sentiment, features, inference, monitor, api
    std::string kafka;            // bootstrap servers; empty: in-process bus
    std::vector<std::pair<std::string, std::string>> kafka_settings;
    std::string model;            // registered model served
    std::string host = "127.0.0.1";
    int port = 8080, ws_port = -1;
    int metrics_port = -1;        // /health, /ready, /metrics of a process without the api role; -1: none
    std::size_t max_connections = 0;  // of the api; 0: three quarters of the open-file limit
    std::vector<api::ApiKey> keys;
    serving::PriceSourceOptions source;
    std::optional<serving::KlineFeedOptions> feed;  // the price role reads an exchange instead of `source`
    std::size_t window = 60;
    serving::AbMode ab_mode = serving::AbMode::shadow;
    double ab_share = 0.1;
    Duration refresh_every = kHour, snapshot_every = 10 * kSecond;
    std::string data_dir;
    features::FeatureConfig features;
    std::string sentiment_model;  // "" = the configured scorer
    monitor::LabelRule outcome_rule;  // monitor.horizon and monitor.threshold
    monitor::DriftConfig drift;
    Duration evaluate_every = kHour;
    std::string webhook, webhook_format = "json";
    // Retraining on drift: a challenger trained on the last retrain_window of features.
    bool retrain_on_drift = false;
    std::string retrain_model = "gbdt";
    Duration retrain_window = 168 * kHour, retrain_cooldown = 24 * kHour;
    int retrain_after_checks = 1;  // drifting evaluations in a row before retraining starts
};

// "60x" -> 60, "1.5x" -> 1.5, "max" -> 0; otherwise UsageError naming the
// option or key `name` it came from.
double parse_speed(const std::string& text, std::string_view name = "--speed");

// Every role name, in data-flow order.
const std::vector<std::string>& all_roles();

// Roles from "--role a,b" ("all" = every role); UsageError naming an unknown one.
std::set<std::string> parse_roles(const std::vector<std::string>& names);

// The [serve] configuration (flags are applied by the caller).
LiveOptions live_options(CommonOptions& common);

// The exchange feed at `url` with the serve.feed_* settings; UsageError naming a bad one.
serving::KlineFeedOptions feed_options(const Config& cfg, const std::string& url);

class LiveSystem {
public:
    LiveSystem(LiveOptions options, CommonOptions& common);
    ~LiveSystem();
    void start();
    // Stops intake first, lets the rest drain, then stops the consumers (each
    // commits and snapshots on its way out) and the API.
    void stop();
    // True once the price source has published everything (file replay, or
    // the simulator's step limit).
    bool source_done() const;

    serving::PredictionStore& predictions() { return predictions_; }
    const features::FeatureSchema& schema() const { return schema_; }
    serving::ModelManager* models() { return models_.get(); }
    api::Server* server() { return server_.get(); }
    // The /health, /ready and /metrics port of a process without the api role, if asked for.
    api::Server* ops_server() { return ops_server_.get(); }
    bus::Bus& bus() { return *bus_; }

private:
    void launch(const std::string& role, std::function<void(std::stop_token)> body);
    void wait_idle();
    void start_api();
    void start_ops_server();
    void start_monitor();
    void retrain_after(const monitor::Alert& alert);

    LiveOptions options_;
    features::FeatureSchema schema_;
    std::unique_ptr<bus::Bus> bus_;
    std::unique_ptr<sentiment::SentimentScorer> scorer_;
    std::unique_ptr<serving::ModelManager> models_;
    serving::PredictionStore predictions_;
    serving::FeatureStore features_;
    serving::BarStore bars_;
    std::unique_ptr<serving::PriceService> price_;
    std::unique_ptr<serving::KlineFeed> kline_feed_;
    std::unique_ptr<serving::SentimentService> sentiment_;
    std::unique_ptr<serving::FeatureService> feature_service_;
    std::unique_ptr<serving::InferenceService> inference_;
    std::unique_ptr<serving::StoreFeed> feed_;
    std::unique_ptr<monitor::AlertManager> alerts_;
    std::unique_ptr<monitor::MonitorService> monitor_;
    std::unique_ptr<monitor::PredictionLog> api_log_;  // read by GET /v1/monitor/metrics
    std::unique_ptr<api::Server> server_;
    std::unique_ptr<api::Server> ops_server_;
    std::vector<std::pair<std::string, std::jthread>> threads_;  // data-flow order
    std::atomic<bool> source_done_{false};
    // Retraining on drift, one job at a time; last_retrain_ is the monitor thread's.
    std::jthread retrain_job_;
    std::atomic<bool> retraining_{false};
    Timestamp last_retrain_ = INT64_MIN;
};

// Blocks until SIGINT or SIGTERM (or `until` returns true, polled every 100 ms).
void wait_for_signal(const std::function<bool()>& until = {});

}  // namespace pricecast::cli
