// The live services of the original design, each a loop over the bus:
//
//   PriceService      simulator or file replay  -> price-data, news-raw
//   SentimentService  news-raw                  -> sentiment-data
//   FeatureService    price-data + sentiment-data -> ml-features (snapshots its pipeline)
//   InferenceService  ml-features               -> predictions (model manager, batched per bar close)
//   StoreFeed         predictions + ml-features + price-data -> the API's in-memory stores
//
// Every consumer commits only after what it published is flushed, so a
// crash replays from the last commit (at least once); the stores and the
// inference windows drop what they already have by (symbol, bar time). The
// same classes run in one process over the in-process bus (embedded mode) or
// one role per process over Kafka.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "data/simulator.hpp"
#include "features/features.hpp"
#include "sentiment/sentiment.hpp"
#include "serving/model_manager.hpp"
#include "serving/stores.hpp"

namespace pricecast::serving {

// Wall clock, ns since the epoch.
Timestamp wall_now();

struct PriceSourceOptions {
    std::optional<data::SimulatorConfig> simulator;  // or replay files:
    std::vector<std::filesystem::path> price_files;
    std::filesystem::path news_file;
    // Event time per wall time: 60 replays a minute of market per second;
    // 0 publishes as fast as the bus takes it.
    double speed = 0;
    long max_steps = -1;  // simulator bars per symbol; -1: until stopped
    // Simulator bars published as fast as possible before pacing starts: the
    // history a demo model was trained on, so features are warm when live bars come.
    long fast_steps = 0;
};

class PriceService {
public:
    PriceService(bus::Bus& bus, PriceSourceOptions options);
    // Returns at the end of the source or when stop is requested.
    void run(std::stop_token stop);
    std::uint64_t bars() const { return bars_; }
    std::uint64_t news() const { return news_; }

private:
    void pace(Timestamp event_time);
    void publish_clock(Timestamp time, std::vector<std::string> symbols);
    void publish(const Bar& bar);
    void publish(NewsItem news);
    void run_simulator(std::stop_token stop);
    void run_files(std::stop_token stop);

    bus::Bus& bus_;
    PriceSourceOptions options_;
    Timestamp first_event_ = -1;
    std::chrono::steady_clock::time_point first_wall_;
    std::atomic<std::uint64_t> bars_{0}, news_{0};
};

class SentimentService {
public:
    SentimentService(bus::Bus& bus, const sentiment::SentimentScorer& scorer);
    void run(std::stop_token stop);
    std::uint64_t scored() const { return scored_; }
    std::uint64_t rejected() const { return rejected_; }

private:
    bus::Bus& bus_;
    const sentiment::SentimentScorer& scorer_;
    std::atomic<std::uint64_t> scored_{0}, rejected_{0};
};

struct FeatureServiceOptions {
    features::FeatureConfig config;
    std::filesystem::path snapshot_file;  // empty: no snapshots
    std::chrono::milliseconds snapshot_every{10'000};
    // How long a bar waits for the news clock to pass it (while a clock
    // source is alive) before it is used without waiting further.
    std::chrono::milliseconds news_wait{2'000};
};

class FeatureService {
public:
    // Restores the pipeline from the snapshot file when it exists (a schema
    // mismatch is an error: delete the snapshot to start afresh).
    FeatureService(bus::Bus& bus, FeatureServiceOptions options);
    void run(std::stop_token stop);
    const features::FeatureSchema& schema() const { return pipeline_.schema(); }
    std::uint64_t published() const { return published_; }
    std::uint64_t rejected() const { return rejected_; }

private:
    struct WaitingBar {
        Bar bar;
        std::int32_t partition = 0;
        std::int64_t offset = 0;
        Timestamp published = 0;
        std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
    };
    struct PendingClock {
        bus::NewsClock clock;
        // When the price stream reached the clock's time (a bar at or after
        // it came in): only then can a missing bar be given up on. A backlog
        // of prices behind the clocks is not a missing bar.
        std::optional<std::chrono::steady_clock::time_point> prices_reached;
    };
    void checkpoint(std::initializer_list<bus::Consumer*> inputs);  // prices, news
    void note(const bus::Message& m);
    void on_news(const bus::Message& m, const features::VectorSink& sink);
    void on_bar(const bus::Message& m);
    void push(const WaitingBar& w, const features::VectorSink& sink);
    void drain(const features::VectorSink& sink);

    bus::Bus& bus_;
    FeatureServiceOptions options_;
    features::Pipeline pipeline_;
    Duration lateness_ = 0;
    bool clock_source_ = false;     // a news clock has been seen: bars wait for theirs
    bool no_clock_source_ = false;  // the first bar waited news_wait without any clock
    Timestamp input_at_ = 0;     // publish time of the input being handled (latency)
    Timestamp newest_bar_ = std::numeric_limits<Timestamp>::min();  // newest close time received
    std::chrono::steady_clock::time_point last_clock_{};            // when the last clock came in
    std::map<std::pair<Timestamp, std::string>, WaitingBar> waiting_;  // by (close time, symbol)
    std::deque<PendingClock> clocks_;
    std::map<std::string, Timestamp> pushed_;  // newest bar pushed per symbol
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> processed_;  // last offset per partition
    std::atomic<std::uint64_t> published_{0}, rejected_{0};
};

// How a loaded challenger meets live traffic. shadow: it predicts on every
// symbol, logged (slot "challenger") but never served. split: a stable hash of
// the symbol sends about `share` of the symbols to it, and it is served for
// them; the champion predicts and is served for the rest. Without a loaded
// challenger, or when its prediction fails, the champion serves every symbol.
enum class AbMode : std::uint8_t { shadow, split };
std::optional<AbMode> parse_ab_mode(std::string_view text);  // "shadow", "split"
std::string_view to_string(AbMode m);

// The symbol's point in [0, 1): FNV-1a (64-bit) of its name, mixed by
// MurmurHash3's fmix64, over 2^64 — the same in every process and release
// (std::hash promises neither).
double ab_point(std::string_view symbol);
// The arm of a symbol in split mode: the challenger when ab_point < share.
Slot ab_arm(std::string_view symbol, double share);

struct InferenceOptions {
    std::string model;            // registered model name the manager watches
    std::size_t window = 60;      // vectors kept per symbol (>= the model's steps)
    std::size_t max_batch = 4096; // messages handled per model call at most
    // How long a bar close with fewer symbols in than the previous close had
    // waits for its next vector before its partial batch goes to the model.
    std::chrono::milliseconds batch_wait{20};
    std::chrono::milliseconds commit_every{200};
    AbMode ab_mode = AbMode::shadow;
    double ab_share = 0.1;        // split: the challenger's share of symbols, in [0, 1]
};

class InferenceService {
public:
    // Throws std::invalid_argument naming ab_share when it is outside [0, 1].
    InferenceService(bus::Bus& bus, ModelManager& models, InferenceOptions options);
    void run(std::stop_token stop);
    std::uint64_t published() const { return published_; }

private:
    struct Held {
        features::FeatureVector vector;
        std::int32_t partition = 0;
        std::int64_t offset = 0;
        Timestamp input_at = 0;
    };
    std::optional<std::string> handle(const bus::Message& m);
    static std::optional<std::string> peek_symbol(const bus::Message& m);
    void predict(const std::vector<std::string>& group);
    void predict_slot(const std::vector<std::string>& group, const LoadedModel* loaded, bool served);
    void commit(bus::Consumer& in);
    void recover_published();
    bool close_complete(Timestamp close) const;

    bus::Bus& bus_;
    ModelManager& models_;
    InferenceOptions options_;
    std::map<std::string, std::deque<Held>> windows_;
    // (symbol, slot) -> newest bar time on the predictions topic at start-up:
    // a restarted service rebuilds its windows from replayed vectors but does
    // not publish those bars' predictions again.
    std::map<std::pair<std::string, std::string>, Timestamp> published_until_;
    std::map<Timestamp, std::size_t> close_sizes_;  // vectors received per recent close time
    std::string features_topic_;
    std::atomic<std::uint64_t> published_{0}, rejected_{0};
    bool warned_no_model_ = false;
};

class StoreFeed {
public:
    // `features` and `bars` are optional: a null store's topic is not read.
    StoreFeed(bus::Bus& bus, PredictionStore& predictions, FeatureStore* features, std::string group = "api",
              BarStore* bars = nullptr);
    void run(std::stop_token stop);

private:
    void add(const bus::Message& m);
    void add_bar(const Bar& bar);

    bus::Bus& bus_;
    PredictionStore& predictions_;
    FeatureStore* features_;
    BarStore* bars_;
    std::string group_;
};

}  // namespace pricecast::serving
