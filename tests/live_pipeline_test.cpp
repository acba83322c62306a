// The live services end to end: a simulated market through the price,
// sentiment, feature and inference services and the API store feed, on the
// in-process bus and on librdkafka's mock cluster. What clients see must be
// exactly the batch computation (features::build + the model over the same
// history): every bar predicted once, with bit-identical probabilities.
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/quick_features.hpp"
#include "support/api_client.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "core/metrics.hpp"
#include "models/xgboost_model.hpp"
#include "registry/registry.hpp"
#include "sentiment/sentiment.hpp"
#include "serving/live.hpp"

namespace pricecast::serving {
namespace {

using namespace std::chrono_literals;
using test::Process;
constexpr long kHistory = 300;  // bars per symbol the model is trained on
constexpr long kLive = 500;     // bars per symbol the live run publishes
const std::string kModel = "trend";

data::SimulatorConfig market() {
    auto cfg = data::default_simulator_config();
    cfg.symbols = {{"AAA", 100}, {"BBB", 40}, {"CCC", 7}};
    cfg.seed = 5;
    cfg.news_rate = 0.1;
    cfg.news_impact = 0.004;
    cfg.trades = false;
    return cfg;
}

features::FeatureConfig feature_config() { return test::quick_feature_config(); }

struct Market {
    std::vector<Bar> bars;
    std::vector<NewsItem> news;  // scored by the lexicon, as the sentiment service does
};

Market simulate(long steps, const sentiment::SentimentScorer& scorer) {
    data::MarketSimulator sim(market());
    Market m;
    for (long t = 0; t < steps; ++t) {
        auto s = sim.step();
        m.bars.insert(m.bars.end(), s.bars.begin(), s.bars.end());
        for (auto& n : s.news) {
            n.sentiment = scorer.score(n).score;
            m.news.push_back(std::move(n));
        }
    }
    return m;
}

using Key = std::pair<std::string, Timestamp>;

// The port line of a role process started with --metrics-port.
const std::string kOpsPort = "/metrics on http://127\\.0\\.0\\.1:(\\d+)/";

class LivePipeline : public ::testing::Test {
protected:
    void SetUp() override {
        schema_ = features::Pipeline(feature_config()).schema();
        // Train on the first kHistory bars and register the model as champion.
        const auto history = simulate(kHistory, scorer_);
        const auto rows = features::build(feature_config(), history.bars, history.news);
        const auto matrix = features::to_matrix(schema_, rows);
        models::SampleSet train;
        train.steps = 1;
        train.width = matrix.columns.size();
        for (std::size_t r = 0; r < matrix.rows(); ++r) {
            bool complete = true;
            for (std::size_t c = 0; c < train.width; ++c) complete = complete && std::isfinite(matrix.values[r * train.width + c]);
            if (!complete || r + 3 >= matrix.rows()) continue;
            train.values.insert(train.values.end(), matrix.values.begin() + static_cast<std::ptrdiff_t>(r * train.width),
                                matrix.values.begin() + static_cast<std::ptrdiff_t>((r + 1) * train.width));
            // Any label that depends on the features works: this test is about the plumbing.
            const float rsi = matrix.values[r * train.width];
            train.labels.push_back(rsi < 45 ? models::Trend::down : rsi > 55 ? models::Trend::up : models::Trend::stable);
        }
        models::XgboostConfig xc;
        xc.rounds = 15;
        xc.early_stopping = 0;
        xc.feature_schema_hash = schema_.hash();
        model_ = std::make_unique<models::XgboostModel>(xc);
        model_->fit(train, train, {});
        registry::Registry reg(dir_.path());
        const auto v = registry::register_model(reg, kModel, *model_, {});
        reg.promote(kModel, v.version, "champion", {.force = true}, "test");
        expected_ = batch_predictions();
        live_bars_ = simulate(kLive, scorer_).bars;
    }

    // The batch answer: features over the whole live run, the model on every
    // complete vector.
    std::map<Key, models::ClassProbs> batch_predictions() const {
        const auto run = simulate(kLive, scorer_);
        std::map<Key, models::ClassProbs> out;
        for (const auto& v : features::build(feature_config(), run.bars, run.news)) {
            if (!v.complete) continue;
            models::SampleSet one;
            one.width = v.values.size();
            one.values.assign(v.values.begin(), v.values.end());
            out[{v.symbol, v.close_time}] = model_->predict_proba(one).front();
        }
        return out;
    }

    // Runs every service on `bus` until the price source is through and the
    // store has every expected prediction (or a generous timeout).
    std::map<Key, Prediction> run_live(bus::Bus& bus) {
        ModelManager models(dir_.path(), models::load_model);
        models.watch(kModel, schema_.hash());
        models.refresh();
        PriceSourceOptions po;
        po.simulator = market();
        po.max_steps = kLive;
        PriceService price(bus, po);
        SentimentService sentiment(bus, scorer_);
        FeatureService features(bus, {feature_config(), dir_ / "features.snapshot", 1000ms});
        InferenceService inference(bus, models, {kModel});
        PredictionStore store;
        BarStore bars;
        StoreFeed feed(bus, store, nullptr, "api", &bars);
        std::vector<std::jthread> threads;
        threads.reserve(5);
        threads.emplace_back([&](std::stop_token s) { feed.run(s); });
        threads.emplace_back([&](std::stop_token s) { inference.run(s); });
        threads.emplace_back([&](std::stop_token s) { features.run(s); });
        threads.emplace_back([&](std::stop_token s) { sentiment.run(s); });
        threads.emplace_back([&](std::stop_token s) { price.run(s); });
        auto count = [&] {
            std::size_t n = 0;
            for (const auto& s : store.symbols()) n += store.range(s, 0, std::numeric_limits<Timestamp>::max()).size();
            return n;
        };
        auto bar_count = [&] {
            std::size_t n = 0;
            for (const auto& s : bars.symbols()) n += bars.range(s, 0, std::numeric_limits<Timestamp>::max()).size();
            return n;
        };
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while ((count() < expected_.size() || bar_count() < live_bars_.size()) &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        for (auto it = threads.rbegin(); it != threads.rend(); ++it) {
            it->request_stop();
            it->join();
        }
        std::map<Key, Prediction> got;
        for (const auto& s : store.symbols())
            for (const auto& p : store.range(s, 0, std::numeric_limits<Timestamp>::max())) got[{p.symbol, p.bar_time}] = p;
        EXPECT_EQ(store.duplicates(), 0u);
        expect_bars_served(bars, bar_count());
        return got;
    }

    // The API's bar store holds every published bar once, as simulated (the
    // bad bar of publish_bad_input is not among them).
    void expect_bars_served(const BarStore& bars, std::size_t count) const {
        EXPECT_EQ(count, live_bars_.size());
        for (const auto& b : live_bars_) {
            const auto got = bars.range(b.symbol, b.close_time, b.close_time);
            ASSERT_EQ(got.size(), 1u) << b.symbol << " " << format_iso8601(b.close_time);
            EXPECT_EQ(std::tie(got[0].open, got[0].high, got[0].low, got[0].close, got[0].volume),
                      std::tie(b.open, b.high, b.low, b.close, b.volume));
        }
    }

    void expect_batch_equal(const std::map<Key, Prediction>& got) const {
        ASSERT_EQ(got.size(), expected_.size());
        for (const auto& [key, probs] : expected_) {
            const auto it = got.find(key);
            ASSERT_NE(it, got.end()) << key.first << " " << format_iso8601(key.second) << " was not predicted";
            EXPECT_EQ(it->second.probs, probs) << key.first << " " << format_iso8601(key.second);
            EXPECT_EQ(it->second.version, 1);
            EXPECT_EQ(it->second.model, kModel);
            EXPECT_GE(it->second.latency, 0);
        }
    }

    test::TempDir dir_{"live"};
    sentiment::LexiconScorer scorer_ = sentiment::LexiconScorer::load();
    features::FeatureSchema schema_;
    std::unique_ptr<models::XgboostModel> model_;
    std::map<Key, models::ClassProbs> expected_;
    std::vector<Bar> live_bars_;
};

// One message of each kind of bad input on every topic, ahead of the stream:
// each service counts and skips it and no valid data is lost.
void publish_bad_input(bus::Bus& bus) {
    for (const char* topic : {bus::topics::prices, bus::topics::news, bus::topics::sentiment, bus::topics::features,
                              bus::topics::predictions}) {
        bus.publish(topic, "AAA", "not json");
        bus.publish(topic, "AAA", R"([1, 2, 3])");
        bus.publish(topic, "AAA", R"({"v": 99})");
        bus.publish(topic, "AAA", R"({"v": 1, "symbol": 5})");
    }
    // Well-formed but invalid: a negative price, news without text, a clock without a time.
    bus.publish(bus::topics::prices, "AAA",
                R"({"v":1,"symbol":"AAA","interval":60000000000,"open_time":946684800000000000,)"
                R"("close_time":946684860000000000,"open":-1,"high":1,"low":1,"close":1,"volume":1})");
    bus.publish(bus::topics::news, "", R"({"v":1,"id":"x","event_time":946684800000000000,"symbols":["AAA"]})");
    bus.publish(bus::topics::sentiment, "", R"({"v":1,"type":"clock"})");
}

TEST_F(LivePipeline, EmbeddedEqualsBatch) {
    ASSERT_GT(expected_.size(), 1000u);
    auto bus = bus::make_in_process_bus();
    publish_bad_input(*bus);
    expect_batch_equal(run_live(*bus));
}

TEST_F(LivePipeline, KafkaMockClusterEqualsBatch) {
    bus::MockCluster cluster(3);
    auto bus = bus::make_kafka_bus({.bootstrap = cluster.bootstrap()});
    expect_batch_equal(run_live(*bus));
}

// Every role in its own process over a `pricecast kafka-mock` cluster; the
// inference process is killed with SIGKILL mid-stream and restarted. Every
// bar's prediction is on the topic once and served once (REST), equal to the
// batch answer.
TEST_F(LivePipeline, SeparateProcessesSurviveAKilledInferenceProcess) {
    Process cluster({"kafka-mock", "--brokers", "3"}, dir_ / "kafka.log");
    const auto bootstrap = cluster.wait_for("bootstrap: (\\S+)");
    ASSERT_FALSE(bootstrap.empty());
    const auto config = dir_ / "quick.toml";
    std::ofstream(config) << "[features]\ntimeframes = [\"1m\", \"5m\"]\n"
                             "indicators = [\"rsi(14)\", \"ema(10)\", \"5m:roc(3)\"]\nsentiment_windows = [\"10m\"]\n";
    const std::vector<std::string> common{"--kafka", bootstrap, "--data-dir", dir_.path().string(),
                                          "--config", config.string(), "--model", kModel};
    auto role = [&](const std::string& name, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"serve", "--role", name};
        args.insert(args.end(), common.begin(), common.end());
        args.insert(args.end(), extra.begin(), extra.end());
        return std::make_unique<Process>(args, dir_ / (name + ".log"));
    };
    auto api = role("api", {"--port", "0", "--ws-port", "-1"});
    const int port = std::stoi(api->wait_for("http://127\\.0\\.0\\.1:(\\d+)/"));
    auto sentiment = role("sentiment");
    auto features = role("features");
    auto inference = role("inference");
    auto price = role("price", {"--steps", std::to_string(kLive), "--speed", "1500x", "--symbols", "AAA,BBB,CCC",
                                "--seed", "5", "--news-rate", "0.1", "--news-impact", "0.004"});
    auto served = [&] {
        std::size_t n = 0;
        for (const char* symbol : {"AAA", "BBB", "CCC"}) {
            const auto r = test::get(port, std::string("/v1/predictions?symbol=") + symbol);
            if (r.status == 200) n += r.json()["predictions"].size();
        }
        return n;
    };
    auto wait_served = [&](std::size_t at_least) {
        for (int i = 0; i < 1500 && served() < at_least; ++i) std::this_thread::sleep_for(100ms);
        return served();
    };
    ASSERT_GE(wait_served(200), 200u) << "predictions reach the API";
    inference->stop(SIGKILL);
    const auto at_kill = served();
    inference = role("inference", {"--metrics-port", "0"});
    const int ops = std::stoi(inference->wait_for(kOpsPort));
    const auto ready = test::get(ops, "/ready");
    EXPECT_EQ(ready.status, 200) << "the champion is loaded before the port opens: " << ready.body;
    EXPECT_EQ(wait_served(expected_.size()), expected_.size()) << at_kill << " served when inference was killed";

    for (const char* symbol : {"AAA", "BBB", "CCC"}) {
        const auto body = test::get(port, std::string("/v1/predictions?symbol=") + symbol).json();
        for (const auto& p : body["predictions"]) {
            const auto t = parse_iso8601(p["bar_time"].get<std::string>());
            ASSERT_TRUE(t);
            const auto it = expected_.find({symbol, *t});
            ASSERT_NE(it, expected_.end()) << symbol << " " << p["bar_time"];
            const auto& probs = p["probabilities"];
            EXPECT_EQ((models::ClassProbs{probs["down"].get<float>(), probs["stable"].get<float>(), probs["up"].get<float>()}),
                      it->second)
                << symbol << " " << p["bar_time"];
        }
    }
    EXPECT_NE(test::get(ops, "/metrics").body.find("pricecast_messages_consumed_total{role=\"inference\"}"),
              std::string::npos);
    for (const char* symbol : {"AAA", "BBB", "CCC"}) {
        const auto r = test::get(port, std::string("/v1/bars?symbol=") + symbol);
        ASSERT_EQ(r.status, 200) << "the api role serves the price bars: " << r.body;
        EXPECT_EQ(r.json()["bars"].size(), static_cast<std::size_t>(kLive)) << symbol;
    }
    // The topic itself: the restarted process replayed its window to rebuild
    // it, but published none of those bars again (it read the topic first).
    auto bus = bus::make_kafka_bus({.bootstrap = bootstrap});
    std::map<Key, int> seen;
    bus->read_retained(bus::topics::predictions, [&](const bus::Message& m) {
        const auto p = bus::decode_prediction(m.value);
        if (p.slot == "champion") ++seen[{p.symbol, p.bar_time}];
    }, 60s);
    std::size_t twice = 0;
    for (const auto& [key, n] : seen) twice += n > 1;
    EXPECT_EQ(seen.size(), expected_.size()) << "every bar reached the topic";
    EXPECT_EQ(twice, 0u) << "bars published more than once on the topic; inference killed at " << at_kill
                         << " served predictions";
}

// A process without the api role answers the probes and the scraper on
// --metrics-port, with its role's metrics, and nothing else there. Its /ready
// is the bus, and for inference the served model's champion.
TEST(RoleProcess, AnswersHealthReadyAndMetricsOnTheMetricsPort) {
    const test::TempDir dir("ops-port");
    {
        Process cluster({"kafka-mock", "--brokers", "1"}, dir / "kafka.log");
        const auto bootstrap = cluster.wait_for("bootstrap: (\\S+)");
        ASSERT_FALSE(bootstrap.empty());
        auto serve = [&](const std::string& role) {
            return std::make_unique<Process>(
                std::vector<std::string>{"serve", "--role", role, "--kafka", bootstrap, "--data-dir",
                                         dir.path().string(), "--metrics-port", "0"},
                dir / (role + ".log"));
        };
        auto features = serve("features");
        const int port = std::stoi(features->wait_for(kOpsPort));
        EXPECT_EQ(test::get(port, "/health").status, 200);
        const auto ready = test::get(port, "/ready");
        EXPECT_EQ(ready.status, 200) << "on the bus, and no model to wait for: " << ready.body;
        // The role registers its counter once its consumer is up, after the port opened.
        const std::string counter = "pricecast_messages_consumed_total{role=\"features\"}";
        std::string metrics;
        for (int i = 0; i < 600 && metrics.find(counter) == std::string::npos; ++i) {
            const auto m = test::get(port, "/metrics");
            ASSERT_EQ(m.status, 200);
            metrics = m.body;
            if (metrics.find(counter) == std::string::npos) std::this_thread::sleep_for(100ms);
        }
        EXPECT_NE(metrics.find(counter), std::string::npos) << metrics;
        for (const char* target : {"/v1/predictions/latest?symbol=AAA", "/"}) {
            const auto r = test::get(port, target);
            EXPECT_EQ(r.status, 404) << target;
            EXPECT_NE(r.body.find("only /health, /ready and /metrics"), std::string::npos) << r.body;
        }
        auto inference = serve("inference");  // nothing registered in `dir`
        const int inference_port = std::stoi(inference->wait_for(kOpsPort));
        EXPECT_EQ(test::get(inference_port, "/health").status, 200);
        const auto unready = test::get(inference_port, "/ready");
        EXPECT_EQ(unready.status, 503);
        EXPECT_NE(unready.body.find("no champion of 'trend'"), std::string::npos) << unready.body;
    }
}

// A snapshot that cannot be written (its folder is a file here; a full disk
// or no file handles left alike) does not stop the feature service: vectors
// keep coming, the failure is counted, and no snapshot appears.
TEST(FeatureServiceSnapshot, ASnapshotThatCannotBeWrittenDoesNotStopTheService) {
    const test::TempDir dir("snapshot-blocked");
    std::ofstream(dir / "blocked") << "a file where the snapshot's folder should be";
    auto& failures = metrics::registry().counter("pricecast_snapshot_failures_total",
                                                 "Checkpoints whose state could not be written", {{"role", "features"}});
    const double before = failures.value();
    auto bus = bus::make_in_process_bus();
    auto out = bus->subscribe("test", {bus::topics::features});
    PriceSourceOptions po;
    po.simulator = market();
    po.max_steps = 200;
    PriceService price(*bus, po);
    const auto scorer = sentiment::LexiconScorer::load();
    SentimentService sentiment(*bus, scorer);
    FeatureService features(*bus, {feature_config(), dir / "blocked" / "features.snapshot", 1ms});
    std::size_t vectors = 0;
    {
        std::vector<std::jthread> threads;
        threads.reserve(3);
        threads.emplace_back([&](std::stop_token s) { features.run(s); });
        threads.emplace_back([&](std::stop_token s) { sentiment.run(s); });
        threads.emplace_back([&](std::stop_token s) { price.run(s); });
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        // Before the fix the first checkpoint ended the service: a few vectors at most.
        while (vectors < 3 * 190 && std::chrono::steady_clock::now() < deadline)
            if (out->poll(20ms)) ++vectors;
        for (auto it = threads.rbegin(); it != threads.rend(); ++it) {
            it->request_stop();
            it->join();
        }
    }
    EXPECT_GE(vectors, 3u * 190);
    EXPECT_GT(failures.value(), before);
    EXPECT_FALSE(std::filesystem::exists(dir / "blocked" / "features.snapshot"));
}

// A snapshot the feature service cannot use (another release's, another
// feature configuration's, or damaged) stops it with the file named and what
// to do, rather than resuming from wrong state or silently starting cold.
TEST(FeatureServiceSnapshot, AnUnusableSnapshotIsNamedWithTheWayOut) {
    const test::TempDir dir("snapshot");
    const auto file = dir / "features.bin";
    std::ofstream(file) << "not a snapshot";
    auto bus = bus::make_in_process_bus();
    try {
        FeatureService features(*bus, {feature_config(), file, 1000ms});
        ADD_FAILURE() << "a damaged snapshot was accepted";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(file.string()), std::string::npos) << what;
        EXPECT_NE(what.find("delete it"), std::string::npos) << what;
    }
}

}  // namespace
}  // namespace pricecast::serving
