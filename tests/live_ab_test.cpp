// A/B traffic in the inference service: which symbols a split sends to the
// challenger (a stable hash, the same after a restart, about `share` of
// them), what is served and what is only logged in each mode. And must-show 2
// of issue 7: the inference service and the monitor role on one in-process
// bus, on a simulated market with a planted news signal. In shadow mode a
// challenger that sees the news is detected as significantly better than a
// champion that cannot; the same model against itself is not.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "features/features.hpp"
#include "models/baseline.hpp"
#include "models/xgboost_model.hpp"
#include "monitor/monitor.hpp"
#include "registry/registry.hpp"
#include "serving/live.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::serving {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(AbArm, PointIsFnv1aMixedByFmix64) {
    // FNV-1a 64 of "" is cbf29ce484222325 and of "a" af63dc4c8601ec8c (the
    // published test vectors); fmix64 of those, computed in Python, are:
    EXPECT_EQ(ab_point(""), std::ldexp(static_cast<double>(0xefd01f60ba992926ull >> 11), -53));
    EXPECT_EQ(ab_point("a"), std::ldexp(static_cast<double>(0x82a2a958a9bece5bull >> 11), -53));
    EXPECT_EQ(ab_point("BTCUSDT"), std::ldexp(static_cast<double>(0x094e13c8beca0692ull >> 11), -53));
}

TEST(AbArm, ShareOfManySymbolsIsAboutTheConfiguredShare) {
    for (const double share : {0.1, 0.3, 0.5}) {
        std::size_t challenger = 0;
        constexpr std::size_t n = 20'000;
        for (std::size_t i = 0; i < n; ++i)
            challenger += ab_arm(fmt::format("SYM{:05d}", i), share) == Slot::challenger;
        // Binomial sd at n = 20000 is at most 0.0036: 0.015 is over 4 sd.
        EXPECT_NEAR(static_cast<double>(challenger) / n, share, 0.015) << "share " << share;
    }
    EXPECT_EQ(ab_arm("BTCUSDT", 0.0), Slot::champion);
    EXPECT_EQ(ab_arm("BTCUSDT", 1.0), Slot::challenger);
}

TEST(AbArm, ModeNamesAndBadShare) {
    EXPECT_EQ(parse_ab_mode("shadow"), AbMode::shadow);
    EXPECT_EQ(parse_ab_mode("split"), AbMode::split);
    EXPECT_FALSE(parse_ab_mode("Split"));
    EXPECT_EQ(to_string(AbMode::split), "split");
    auto bus = bus::make_in_process_bus();
    const test::TempDir dir("ab-bad-share");
    ModelManager models(dir.path(), models::load_model);
    for (const double bad : {-0.1, 1.5, std::nan("")}) {
        try {
            InferenceService s(*bus, models, {.model = "m", .ab_mode = AbMode::split, .ab_share = bad});
            ADD_FAILURE() << "accepted ab_share " << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("ab_share"), std::string::npos) << e.what();
        }
    }
}

TEST(AbArm, SplitFlagCrossesTheBusAndDefaultsToUnservedWhenAbsent) {
    Prediction p;
    p.slot = "challenger";
    p.ab_split = true;
    EXPECT_TRUE(bus::decode_prediction(bus::encode(p)).ab_split);
    auto j = nlohmann::json::parse(bus::encode(p));
    j.erase("ab_split");  // a message from before A/B splits
    EXPECT_FALSE(bus::decode_prediction(j.dump()).ab_split);
    j["ab_split"] = "yes";
    EXPECT_THROW(bus::decode_prediction(j.dump()), bus::MessageError);
}

// `pricecast serve` reads serve.ab_mode and serve.ab_share before starting anything.
TEST(AbArm, ServeRejectsABadModeOrShareNamingTheKey) {
    const test::TempDir dir("ab-serve");
    for (const auto& [env, key] : std::vector<std::pair<std::string, std::string>>{
             {"PRICECAST_SERVE_AB_MODE=paired", "serve.ab_mode"}, {"PRICECAST_SERVE_AB_SHARE=1.5", "serve.ab_share"}}) {
        const auto err = dir / "stderr.txt";
        const auto cmd = fmt::format("{} {} serve --data-dir '{}' 2>'{}'", env, test::pricecast_binary().string(),
                                     (dir / "data").string(), err.string());
        EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2) << env;
        std::ifstream in(err);
        std::ostringstream text;
        text << in.rdbuf();
        EXPECT_NE(text.str().find(key), std::string::npos) << env << ": " << text.str();
    }
}

constexpr std::uint64_t kSchema = 77;
const std::string kModel = "ab";

// Two majority models told apart by their answer: the champion always says
// DOWN, the challenger UP.
int register_constant(registry::Registry& reg, models::Trend answer) {
    models::MajorityModel m(kSchema);
    models::SampleSet train;
    train.width = 1;
    train.values = {0.f};
    train.labels = {answer};
    m.fit(train, {}, {});
    return registry::register_model(reg, kModel, m, {}).version;
}

class AbTraffic : public ::testing::Test {
protected:
    void SetUp() override {
        registry::Registry reg(dir_.path());
        reg.promote(kModel, register_constant(reg, models::Trend::down), "champion", {.force = true}, "test");
        reg.promote(kModel, register_constant(reg, models::Trend::up), "challenger");
        for (int i = 0; i < 60; ++i) symbols_.push_back(fmt::format("S{:02d}", i));
    }

    // One bar of every symbol through a fresh service (as after a restart);
    // returns the predictions it published, by (symbol, slot).
    std::map<std::pair<std::string, std::string>, Prediction> run(AbMode mode, double share) {
        auto bus = bus::make_in_process_bus();
        ModelManager models(dir_.path(), models::load_model);
        models.watch(kModel, kSchema);
        models.refresh();
        InferenceService service(*bus, models, {.model = kModel, .ab_mode = mode, .ab_share = share});
        auto out = bus->subscribe("test", {bus::topics::predictions});
        for (const auto& s : symbols_) {
            features::FeatureVector v{.schema_hash = kSchema, .symbol = s, .close_time = kMinute, .close = 10,
                                      .values = {1.0}, .complete = true};
            bus->publish(bus::topics::features, s, bus::encode(v));
        }
        std::jthread worker([&](std::stop_token stop) { service.run(stop); });
        const std::size_t expected = mode == AbMode::shadow ? 2 * symbols_.size() : symbols_.size();
        std::map<std::pair<std::string, std::string>, Prediction> got;
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (got.size() < expected && std::chrono::steady_clock::now() < deadline)
            if (auto m = out->poll(100ms)) {
                auto p = bus::decode_prediction(m->value);
                got[{p.symbol, p.slot}] = p;
            }
        return got;
    }

    test::TempDir dir_{"ab"};
    std::vector<std::string> symbols_;
};

TEST_F(AbTraffic, SplitServesTheChallengerForItsSymbolsTheSameAfterARestart) {
    const auto first = run(AbMode::split, 0.3);
    ASSERT_EQ(first.size(), symbols_.size());
    PredictionStore store;
    std::size_t to_challenger = 0;
    for (const auto& s : symbols_) {
        const bool challenger = ab_arm(s, 0.3) == Slot::challenger;
        to_challenger += challenger;
        const auto it = first.find({s, challenger ? "challenger" : "champion"});
        ASSERT_NE(it, first.end()) << s;
        EXPECT_EQ(it->second.cls, challenger ? 2 : 0) << s;
        EXPECT_EQ(it->second.ab_split, challenger) << s;
        EXPECT_TRUE(store.add(it->second));
        ASSERT_TRUE(store.latest(s)) << s << " is not served";
        EXPECT_EQ(store.latest(s)->slot, it->second.slot);
    }
    EXPECT_GT(to_challenger, 0u);
    EXPECT_LT(to_challenger, symbols_.size());
    const auto again = run(AbMode::split, 0.3);
    ASSERT_EQ(again.size(), first.size());
    for (const auto& [key, p] : first) EXPECT_TRUE(again.contains(key)) << key.first << " changed arm";
}

TEST_F(AbTraffic, AFailingChallengerLeavesItsSymbolsToTheChampion) {
    {
        // Persistence needs the realized classes, which live batches lack: it throws.
        registry::Registry reg(dir_.path());
        const int v = registry::register_model(reg, kModel, models::PersistenceModel(kSchema), {}).version;
        reg.promote(kModel, v, "challenger");
    }
    const auto got = run(AbMode::split, 0.3);
    ASSERT_EQ(got.size(), symbols_.size());
    for (const auto& s : symbols_) {
        const auto it = got.find({s, "champion"});
        ASSERT_NE(it, got.end()) << s << " not served by the champion";
        EXPECT_EQ(it->second.cls, 0);
    }
}

TEST_F(AbTraffic, ShadowPredictsBothOnEverySymbolAndServesTheChampion) {
    const auto got = run(AbMode::shadow, 0.3);
    ASSERT_EQ(got.size(), 2 * symbols_.size());
    PredictionStore store;
    for (const auto& s : symbols_) {
        const auto& champion = got.at({s, "champion"});
        const auto& challenger = got.at({s, "challenger"});
        EXPECT_EQ(champion.cls, 0);
        EXPECT_EQ(challenger.cls, 2);
        EXPECT_FALSE(challenger.ab_split);
        store.add(challenger);
        EXPECT_FALSE(store.latest(s)) << "a shadow prediction was served";
        store.add(champion);
        EXPECT_EQ(store.latest(s)->slot, "champion");
    }
}

// ---- must-show 2: shadow mode on the simulator with a planted signal ----------------

constexpr long kTrainSteps = 3000, kLiveSteps = 1500;
// News moves prices 2 to 4 bars after it: a 4-bar horizon holds the move.
const monitor::LabelRule kRule = monitor::LabelRule::fixed(4, 0.002);

data::SimulatorConfig planted_market() {
    auto cfg = data::default_simulator_config();
    cfg.symbols = {{"AAA", 100}, {"BBB", 40}, {"CCC", 7}, {"DDD", 20}};
    cfg.seed = 11;
    cfg.regimes = {{"calm", 0.0, 0.001}};
    cfg.news_rate = 0.05;
    cfg.news_impact = 0.01;
    cfg.trades = false;
    return cfg;
}

features::FeatureConfig signal_features() {
    features::FeatureConfig fc;
    fc.timeframes = {"1m"};
    fc.indicators = {"rsi(14)", "roc(3)"};
    fc.sentiment_windows = {"5m"};
    return fc;
}

// The simulated market's bars and feature vectors (news with the simulator's
// own sentiment: the planted signal, as the sentiment service would pass it on).
struct PlantedMarket {
    std::vector<Bar> bars;
    std::vector<features::FeatureVector> vectors;
    Timestamp train_end = 0;  // close time of the last training bar
};

PlantedMarket simulate_planted() {
    data::MarketSimulator sim(planted_market());
    PlantedMarket m;
    std::vector<NewsItem> news;
    for (long t = 0; t < kTrainSteps + kLiveSteps; ++t) {
        auto step = sim.step();
        if (t == kTrainSteps - 1) m.train_end = step.bars.front().close_time;
        m.bars.insert(m.bars.end(), step.bars.begin(), step.bars.end());
        news.insert(news.end(), step.news.begin(), step.news.end());
    }
    m.vectors = features::build(signal_features(), m.bars, news);
    return m;
}

// Complete training vectors labelled by the monitor's own label rule.
models::SampleSet training_set(const PlantedMarket& m) {
    std::map<std::string, std::vector<const features::FeatureVector*>> by_symbol;
    for (const auto& v : m.vectors) by_symbol[v.symbol].push_back(&v);
    models::SampleSet s;
    for (const auto& [symbol, rows] : by_symbol) {
        for (std::size_t i = 0; i + kRule.horizon < rows.size(); ++i) {
            const auto& v = *rows[i];
            if (!v.complete || rows[i + kRule.horizon]->close_time > m.train_end) continue;
            s.width = v.values.size();
            s.values.insert(s.values.end(), v.values.begin(), v.values.end());
            s.labels.push_back(static_cast<models::Trend>(
                monitor::realized_class(v.close, rows[i + kRule.horizon]->close, kRule)));
        }
    }
    return s;
}

// The tail as validation for early stopping.
std::pair<models::SampleSet, models::SampleSet> split_tail(const models::SampleSet& all) {
    models::SampleSet train = all, valid = all;
    const std::size_t cut = all.size() * 4 / 5;
    train.values.resize(cut * all.width);
    train.labels.resize(cut);
    valid.values.erase(valid.values.begin(), valid.values.begin() + static_cast<std::ptrdiff_t>(cut * all.width));
    valid.labels.erase(valid.labels.begin(), valid.labels.begin() + static_cast<std::ptrdiff_t>(cut));
    return {train, valid};
}

class ShadowOnSimulator : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        market_ = new PlantedMarket(simulate_planted());
        schema_ = features::Pipeline(signal_features()).schema().hash();
        const auto [train, valid] = split_tail(training_set(*market_));
        models::XgboostConfig xc;
        xc.rounds = 200;
        xc.feature_schema_hash = schema_;
        gbdt_ = new models::XgboostModel(xc);
        gbdt_->fit(train, valid, {});
        majority_ = new models::MajorityModel(schema_);
        majority_->fit(train, valid, {});
    }
    static void TearDownTestSuite() {
        delete market_;
        delete gbdt_;
        delete majority_;
    }
    // The live period through the inference service and the monitor role on
    // one in-process bus: the monitor logs every prediction and resolves it
    // from the price stream; the report reads its log.
    monitor::AbReport run_live(const models::Model& champion, const models::Model& challenger,
                               AbMode mode = AbMode::shadow) {
        {
            registry::Registry reg(dir_.path());
            reg.promote(kModel, registry::register_model(reg, kModel, champion, {}).version, "champion");
            reg.promote(kModel, registry::register_model(reg, kModel, challenger, {}).version, "challenger");
        }
        ModelManager models(dir_.path(), models::load_model);
        models.watch(kModel, schema_);
        models.refresh();
        auto bus = bus::make_in_process_bus();
        InferenceService service(*bus, models, {.model = kModel, .ab_mode = mode, .ab_share = 0.5});
        monitor::AlertManager alerts;
        monitor::MonitorOptions mo;
        mo.log_file = dir_ / "predictions.sqlite";
        mo.rule = kRule;
        monitor::MonitorService monitor(mo, alerts);
        auto out = bus->subscribe("test", {bus::topics::predictions});
        std::size_t live = 0;
        for (const auto& v : market_->vectors) {
            if (v.close_time <= market_->train_end || !v.complete) continue;
            bus->publish(bus::topics::features, v.symbol, bus::encode(v));
            ++live;
        }
        for (const auto& b : market_->bars)
            if (b.close_time > market_->train_end) bus->publish(bus::topics::prices, b.symbol, bus::encode(b));
        std::jthread inference([&](std::stop_token stop) { service.run(stop); });
        std::jthread monitoring([&](std::stop_token stop) { monitor.run(*bus, stop); });
        const std::size_t arms = mode == AbMode::shadow ? 2 : 1, expected = arms * live;
        // The last `horizon` bars of each symbol have no outcome yet.
        const std::size_t resolvable = expected - arms * planted_market().symbols.size() * kRule.horizon;
        std::size_t got = 0;
        const auto deadline = std::chrono::steady_clock::now() + 300s;
        while (got < expected && std::chrono::steady_clock::now() < deadline) {
            if (auto m = out->poll(100ms)) {
                const auto p = bus::decode_prediction(m->value);
                EXPECT_EQ(p.ab_split, mode == AbMode::split && p.slot == "challenger");
                ++got;
            }
        }
        EXPECT_EQ(got, expected) << "every live bar predicted by both arms (shadow) or by its symbol's arm (split)";
        while (monitor.log().query({.resolved_only = true}).size() < resolvable &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(50ms);
        inference.request_stop();
        monitoring.request_stop();
        inference.join();
        monitoring.join();
        EXPECT_EQ(monitor.log().query({}).size(), expected);
        EXPECT_EQ(monitor.log().query({.resolved_only = true}).size(), resolvable);
        return monitor::ab_report(monitor.log(), {.model = kModel, .window = 30 * kDay});
    }

    static void print(const char* what, const monitor::AbReport& r) {
        std::printf("%s: %zu pairs, champion v%d accuracy %.4f (n=%zu), challenger v%d accuracy %.4f (n=%zu), %s, "
                    "p=%.3g, %s\n",
                    what, r.pairs, r.champion->key.version, r.champion->metrics.accuracy, r.champion->metrics.resolved,
                    r.challenger->key.version, r.challenger->metrics.accuracy, r.challenger->metrics.resolved,
                    r.mcnemar ? fmt::format("b={} c={}", r.mcnemar->b, r.mcnemar->c).c_str()
                              : fmt::format("z={:.3f}", r.z_test->z).c_str(),
                    r.p_value, std::string(monitor::to_string(r.verdict)).c_str());
    }

    static inline PlantedMarket* market_ = nullptr;
    static inline std::uint64_t schema_ = 0;
    static inline models::XgboostModel* gbdt_ = nullptr;
    static inline models::MajorityModel* majority_ = nullptr;
    test::TempDir dir_{"shadow"};
};

TEST_F(ShadowOnSimulator, ChallengerThatSeesTheNewsIsSignificantlyBetter) {
    const auto r = run_live(*majority_, *gbdt_);
    ASSERT_EQ(r.mode, monitor::AbMode::shadow);
    ASSERT_TRUE(r.champion && r.challenger && r.mcnemar);
    print("majority vs news-aware GBDT", r);
    EXPECT_GT(r.pairs, 5000u);
    EXPECT_GT(r.challenger->metrics.accuracy, r.champion->metrics.accuracy);
    EXPECT_LT(r.p_value, 1e-3);
    EXPECT_EQ(r.verdict, monitor::AbVerdict::challenger_better);
}

TEST_F(ShadowOnSimulator, TheSameModelTwiceIsNotSignificant) {
    const auto r = run_live(*gbdt_, *gbdt_);
    ASSERT_TRUE(r.champion && r.challenger && r.mcnemar);
    print("GBDT vs the same GBDT", r);
    EXPECT_EQ(r.champion->key.version, 1);
    EXPECT_EQ(r.challenger->key.version, 2);
    EXPECT_GT(r.pairs, 5000u);
    EXPECT_EQ(r.mcnemar->b + r.mcnemar->c, 0u) << "identical models disagree on no bar";
    EXPECT_EQ(r.p_value, 1.0);
    EXPECT_EQ(r.verdict, monitor::AbVerdict::no_significant_difference);
}

// The same models on split traffic: AAA and CCC hash below 0.5 and go to the
// challenger, BBB and DDD stay with the champion; no bar is paired.
TEST_F(ShadowOnSimulator, SplitTrafficDetectsTheBetterChallengerByTheZTest) {
    const auto r = run_live(*majority_, *gbdt_, AbMode::split);
    ASSERT_EQ(r.mode, monitor::AbMode::split);
    ASSERT_TRUE(r.champion && r.challenger && r.z_test);
    print("split: majority vs news-aware GBDT", r);
    EXPECT_EQ(r.pairs, 0u);
    EXPECT_GT(r.champion->metrics.resolved, 2500u);
    EXPECT_GT(r.challenger->metrics.resolved, 2500u);
    EXPECT_LT(r.p_value, 1e-3);
    EXPECT_EQ(r.verdict, monitor::AbVerdict::challenger_better);
}

}  // namespace
}  // namespace pricecast::serving
