// A trained model is registered with its drift reference, and retraining on
// drift registers a challenger: the champion is untouched, the challenger
// predicts the champion's classes (same label rule), and too little data
// registers nothing.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "data/simulator.hpp"
#include "models/baseline.hpp"
#include "models/dataset.hpp"
#include "monitor/monitor.hpp"
#include "registry/registry.hpp"
#include "support/quick_features.hpp"
#include "support/temp_dir.hpp"
#include "training/retrain.hpp"

namespace fs = std::filesystem;
using namespace pricecast;

namespace {

constexpr const char* kModel = "trend";
constexpr Timestamp kT0 = 1'704'153'600 * kSecond;

Bar close_bar(Timestamp close_time, double close) {
    return {.symbol = "ACME", .interval = kMinute, .open_time = close_time - kMinute, .close_time = close_time,
            .open = close, .high = close, .low = close, .close = close, .volume = 1};
}

Prediction prediction(Timestamp bar_time, double close) {
    Prediction p;
    p.symbol = "ACME";
    p.bar_time = bar_time;
    p.model = kModel;
    p.version = 1;
    p.close = close;
    return p;
}

features::FeatureMatrix simulated_matrix(std::uint64_t seed, int steps) {
    auto cfg = data::default_simulator_config();
    cfg.symbols = {{"ACME", 100.0}, {"BOLT", 50.0}};
    cfg.seed = seed;
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
    for (int i = 0; i < steps; ++i) {
        auto s = sim.step();
        bars.insert(bars.end(), s.bars.begin(), s.bars.end());
        news.insert(news.end(), s.news.begin(), s.news.end());
    }
    const auto fc = test::quick_feature_config();
    return features::to_matrix(features::Pipeline(fc).schema(), features::build(fc, bars, news));
}

class RetrainTest : public ::testing::Test {
protected:
    void SetUp() override { reg_ = std::make_unique<registry::Registry>(dir_.path()); }
    // A champion trained with a label rule unlike the defaults (horizon 3, quantile).
    registry::ModelVersion champion(const features::FeatureMatrix& m) {
        const models::LabelConfig labels{.horizon = 3, .mode = models::ThresholdMode::quantile};
        training::WalkForwardConfig wf;
        wf.folds = 2;
        const auto r = training::walk_forward_train(m, labels, wf, training::model_factory(spec(), m.schema_hash));
        const auto v = training::register_trained(*reg_, kModel, r, m, 2 * kHour);
        reg_->promote(kModel, v.version, std::string(registry::kChampion), {.force = true}, "test champion");
        return v;
    }
    static training::ModelSpec spec() { return {.kind = "gbdt", .rounds = 30}; }
    training::RetrainOptions retrain_options() const {
        return {.model = kModel, .spec = spec(), .folds = 2, .short_window = 2 * kHour};
    }

    test::TempDir dir_{"retrain"};
    std::unique_ptr<registry::Registry> reg_;  // closed before its folder goes
};

// A registered version's label parameters, read back as the monitor's rule,
// resolve every live outcome to the class the trainer's Labeler gave that
// bar: fixed, quantile thresholds fit on a trending training split (both
// above zero), and volatility-scaled thresholds, over 1 and 3 bars.
TEST(LabelRule, OfARegisteredVersionResolvesOutcomesAsItsLabelerDid) {
    features::FeatureMatrix m;
    for (int i = 0; i <= 400; ++i) {
        const double drift = i <= 200 ? 0.006 : 0;  // the training split trends up
        const double calm = i % 100 < 50 ? 1 : 3;   // and the volatility changes
        m.closes.push_back(i == 0 ? 100 : m.closes.back() * (1 + 0.004 * calm * std::sin(i * 0.77) + drift));
        m.times.push_back(kT0 + (i + 1) * kMinute);
        m.symbols.push_back("ACME");
    }
    std::vector<std::size_t> train(200);
    std::iota(train.begin(), train.end(), 0);
    for (const auto mode : {models::ThresholdMode::fixed, models::ThresholdMode::quantile, models::ThresholdMode::volatility})
        for (const int horizon : {1, 3}) {
            SCOPED_TRACE(fmt::format("mode {} horizon {}", static_cast<int>(mode), horizon));
            const models::LabelConfig cfg{.horizon = horizon, .mode = mode, .threshold = 0.002, .quantile = 0.3};
            const auto returns = models::row_returns(m, cfg);
            models::Labeler labeler(cfg);
            labeler.fit(returns, train);
            const auto rule = monitor::LabelRule::of_model(labeler.to_json());
            ASSERT_TRUE(rule);
            EXPECT_EQ(rule->vol_window, mode == models::ThresholdMode::volatility ? cfg.vol_window : 0);
            if (mode == models::ThresholdMode::quantile) {
                EXPECT_GT(rule->down, 0) << "fit on a trending split";
            }
            std::map<Timestamp, int> resolved;
            monitor::OutcomeResolver resolver(*rule, [&](const monitor::Outcome& o) { resolved[o.bar_time] = o.cls; });
            for (std::size_t i = 0; i < m.rows(); ++i) {
                resolver.on_bar(close_bar(m.times[i], m.closes[i]));
                resolver.on_prediction(prediction(m.times[i], m.closes[i]));
            }
            int classes[3] = {}, unlabelled = 0;
            for (std::size_t i = 0; i < m.rows(); ++i) {
                const auto expected = labeler.forward_class(returns, i);
                const auto it = resolved.find(m.times[i]);
                ASSERT_EQ(it != resolved.end(), expected.has_value()) << "row " << i;
                if (!expected) {
                    ++unlabelled;
                    continue;
                }
                EXPECT_EQ(it->second, static_cast<int>(*expected)) << "row " << i;
                ++classes[it->second];
            }
            EXPECT_GT(classes[0] * classes[1] * classes[2], 0) << "every class occurs";
            const int no_scale = mode == models::ThresholdMode::volatility ? cfg.vol_window : 0;
            EXPECT_EQ(unlabelled, horizon + no_scale);
            EXPECT_EQ(resolver.stats().unscored, std::uint64_t(no_scale)) << "dropped, not left pending";
            EXPECT_EQ(resolver.pending(), std::size_t(horizon)) << "the newest bars wait";
        }
    EXPECT_FALSE(monitor::LabelRule::of_model(nlohmann::json::object()));
    EXPECT_THROW(monitor::LabelRule::of_model({{"mode", "fixed"}, {"horizon", "one"}, {"down", -0.01}, {"up", 0.01}}),
                 monitor::MonitorError);
    EXPECT_THROW(monitor::LabelRule::of_model({{"mode", "fixed"}, {"horizon", 1}, {"down", 0.01}, {"up", -0.01}}),
                 monitor::MonitorError);
    EXPECT_EQ(monitor::LabelRule::fixed(2, 0.001).describe(), "horizon 2, DOWN below -0.1%, UP above +0.1%");
}

TEST_F(RetrainTest, ATrainedVersionCarriesItsDriftReference) {
    const auto m = simulated_matrix(1, 1500);
    const auto v = champion(m);
    const auto ref = monitor::Reference::load(v.artifact_dir);
    ASSERT_TRUE(ref);
    ASSERT_EQ(ref->features().size(), m.columns.size());
    for (std::size_t c = 0; c < m.columns.size(); ++c) EXPECT_EQ(ref->features()[c].name, m.columns[c]);
    EXPECT_NO_THROW(reg_->verify(v, m.schema_hash));  // the reference is a checksummed artifact like the model's files
    EXPECT_EQ(v.data_from, m.times.front());
    EXPECT_EQ(v.data_to, m.times.back());
    // The data it saw, hashed: the same matrix gives the same hash, one value changed another.
    EXPECT_EQ(v.data_hash.size(), 64u) << v.data_hash;
    auto changed = m;
    changed.values[changed.values.size() / 2] += 1;
    const auto same = champion(m), other = champion(changed);
    EXPECT_EQ(same.data_hash, v.data_hash);
    EXPECT_NE(other.data_hash, v.data_hash);
    EXPECT_EQ(models::Labeler::from_json(v.params).config().horizon, 3);
    // What the live monitor scores this champion's outcomes with: its own fitted thresholds.
    const auto rule = monitor::LabelRule::of_model(v.params);
    ASSERT_TRUE(rule);
    EXPECT_EQ(rule->horizon, 3);
    EXPECT_EQ(rule->down, v.params.at("down").get<double>());
    EXPECT_EQ(rule->up, v.params.at("up").get<double>());
    EXPECT_LT(rule->down, rule->up);
    EXPECT_TRUE(v.metrics.contains("macro_f1"));
}

TEST_F(RetrainTest, AVersionWithoutAReferenceLoadsNone_ABrokenOneIsNamed) {
    const models::PersistenceModel model(7);
    const auto v = registry::register_model(*reg_, kModel, model, {});
    EXPECT_FALSE(monitor::Reference::load(v.artifact_dir));
    const auto broken = dir_ / "broken";
    fs::create_directories(broken);
    std::ofstream(broken / monitor::Reference::kFile) << R"({"format": "pricecast.drift_reference/1"})";
    try {
        monitor::Reference::load(broken);
        FAIL() << "a reference without features loaded";
    } catch (const monitor::MonitorError& e) {
        EXPECT_NE(std::string(e.what()).find("drift_reference.json"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("features"), std::string::npos) << e.what();
    }
}

TEST_F(RetrainTest, AnExtraFileMayNotReplaceTheModelsOwn) {
    const models::PersistenceModel model(7);
    const auto scratch = dir_ / "saved";
    model.save(scratch);
    const auto own = fs::directory_iterator(scratch)->path().filename().string();
    for (const std::string& name : {own, std::string("sub/x.json"), std::string()}) {
        registry::NewVersion meta;
        meta.extra_files[name] = "{}";
        EXPECT_THROW(registry::register_model(*reg_, kModel, model, meta), registry::RegistryError) << name;
    }
    EXPECT_TRUE(reg_->list_models().empty() || reg_->list_versions(kModel).empty());
}

TEST_F(RetrainTest, RetrainingRegistersAChallengerAndLeavesTheChampion) {
    const auto old = champion(simulated_matrix(1, 1500));
    const auto recent = simulated_matrix(2, 1200);
    const auto r = training::retrain_challenger(*reg_, recent, retrain_options(), "data drift: rsi_14");
    EXPECT_EQ(reg_->alias_version(kModel, std::string(registry::kChampion)), old.version);
    EXPECT_EQ(reg_->alias_version(kModel, std::string(registry::kChallenger)), r.version.version);
    EXPECT_GT(r.version.version, old.version);
    EXPECT_EQ(models::Labeler::from_json(r.version.params).config().to_json(),
              models::Labeler::from_json(old.params).config().to_json());
    EXPECT_EQ(r.version.data_from, recent.times.front());
    EXPECT_EQ(r.version.data_to, recent.times.back());
    EXPECT_EQ(r.version.tags.at("trigger"), "drift");
    EXPECT_NE(r.version.description.find("rsi_14"), std::string::npos);
    EXPECT_TRUE(monitor::Reference::load(r.version.artifact_dir));
    const auto history = reg_->history(kModel);
    ASSERT_FALSE(history.empty());
    EXPECT_EQ(history.back().alias, registry::kChallenger);
    EXPECT_NE(history.back().reason.find("retrained on drift"), std::string::npos);
}

TEST_F(RetrainTest, TooFewRecentRowsRegisterNothing) {
    const auto old = champion(simulated_matrix(1, 1500));
    const auto recent = simulated_matrix(2, 40);
    EXPECT_THROW(training::retrain_challenger(*reg_, recent, retrain_options(), "data drift"), std::invalid_argument);
    EXPECT_EQ(reg_->list_versions(kModel).size(), 1u);
    EXPECT_FALSE(reg_->alias_version(kModel, std::string(registry::kChallenger)));
    EXPECT_EQ(reg_->alias_version(kModel, std::string(registry::kChampion)), old.version);
}

}  // namespace
