// The live services end to end: a simulated market through the price,
// sentiment, feature and inference services and the API store feed, on the
// in-process bus and on librdkafka's mock cluster. What clients see must be
// exactly the batch computation (features::build + the model over the same
// history): every bar predicted once, with bit-identical probabilities.
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "bus/bus.hpp"
#include "models/xgboost_model.hpp"
#include "registry/registry.hpp"
#include "sentiment/sentiment.hpp"
#include "serving/live.hpp"

namespace pricecast::serving {
namespace {

using namespace std::chrono_literals;
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

features::FeatureConfig feature_config() {
    features::FeatureConfig fc;
    fc.timeframes = {"1m", "5m"};
    fc.indicators = {"rsi(14)", "ema(10)", "5m:roc(3)"};
    fc.sentiment_windows = {"10m"};
    return fc;
}

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

class LivePipeline : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("pricecast-live-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
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
        registry::Registry reg(dir_);
        const auto v = registry::register_model(reg, kModel, *model_, {});
        reg.promote(kModel, v.version, "champion", {.force = true}, "test");
        expected_ = batch_predictions();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

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
        ModelManager models(dir_, models::load_model);
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
        StoreFeed feed(bus, store, nullptr);
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
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (count() < expected_.size() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
        for (auto it = threads.rbegin(); it != threads.rend(); ++it) {
            it->request_stop();
            it->join();
        }
        std::map<Key, Prediction> got;
        for (const auto& s : store.symbols())
            for (const auto& p : store.range(s, 0, std::numeric_limits<Timestamp>::max())) got[{p.symbol, p.bar_time}] = p;
        EXPECT_EQ(store.duplicates(), 0u);
        return got;
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

    std::filesystem::path dir_;
    sentiment::LexiconScorer scorer_ = sentiment::LexiconScorer::load();
    features::FeatureSchema schema_;
    std::unique_ptr<models::XgboostModel> model_;
    std::map<Key, models::ClassProbs> expected_;
};

TEST_F(LivePipeline, EmbeddedEqualsBatch) {
    ASSERT_GT(expected_.size(), 1000u);
    auto bus = bus::make_in_process_bus();
    expect_batch_equal(run_live(*bus));
}

TEST_F(LivePipeline, KafkaMockClusterEqualsBatch) {
    bus::MockCluster cluster(3);
    auto bus = bus::make_kafka_bus({.bootstrap = cluster.bootstrap()});
    expect_batch_equal(run_live(*bus));
}

}  // namespace
}  // namespace pricecast::serving
