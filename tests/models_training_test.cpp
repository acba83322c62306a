// Labels, windows, walk-forward splits, the XGBoost models and the whole
// walk-forward trainer: it must find a planted signal and find nothing in noise.
#include <cmath>
#include <limits>
#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "data/simulator.hpp"
#include "models/dataset.hpp"
#include "models/ensemble.hpp"
#include "models/xgboost_model.hpp"
#include "training/backtest_model.hpp"
#include "training/trainer.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::models {
namespace {

using features::FeatureMatrix;

// Two symbols interleaved by time; feature 0 is the signal x_t, feature 1 noise.
// close[t+1] = close[t] * (1 + strength * x_t + noise).
FeatureMatrix synthetic(std::size_t bars, double strength, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z(0, 1);
    FeatureMatrix m;
    m.columns = {"x", "noise"};
    double close[2] = {100, 50};
    for (std::size_t t = 0; t < bars; ++t)
        for (int s = 0; s < 2; ++s) {
            const double x = z(rng);
            m.symbols.push_back(s ? "B" : "A");
            m.times.push_back(static_cast<Timestamp>(t) * kMinute);
            m.closes.push_back(close[s]);
            m.values.push_back(x);
            m.values.push_back(z(rng));
            close[s] *= 1 + strength * x + 0.002 * z(rng);
        }
    return m;
}

TEST(Labels, PerSymbolReturnsAndThresholds) {
    FeatureMatrix m;
    m.columns = {"f"};
    const double a[] = {100, 102, 101, 101.5}, b[] = {10, 9, 9.5, 9.5};
    for (int t = 0; t < 4; ++t) {
        m.symbols.insert(m.symbols.end(), {"A", "B"});
        m.times.insert(m.times.end(), {t * kMinute, t * kMinute});
        m.closes.insert(m.closes.end(), {a[t], b[t]});
        m.values.insert(m.values.end(), {1.0, 1.0});
    }
    LabelConfig cfg;  // fixed 1%, horizon 1
    const auto r = row_returns(m, cfg);
    EXPECT_DOUBLE_EQ(r.forward[0], 102.0 / 100 - 1);       // A 100 -> 102
    EXPECT_DOUBLE_EQ(r.forward[1], -0.1);        // B 10 -> 9
    EXPECT_TRUE(std::isnan(r.forward[6]));       // A's last bar has no future
    EXPECT_DOUBLE_EQ(r.past[2], 102.0 / 100 - 1);          // A at t=1 looks back to t=0
    Labeler l(cfg);
    l.fit(r, std::vector<std::size_t>{0, 1, 2, 3});
    EXPECT_EQ(l.forward_class(r, 0), Trend::up);
    EXPECT_EQ(l.forward_class(r, 1), Trend::down);
    EXPECT_EQ(l.forward_class(r, 4), Trend::stable);  // A 101 -> 101.5 is 0.5%
    EXPECT_EQ(l.forward_class(r, 6), std::nullopt);

    cfg.mode = ThresholdMode::quantile;
    Labeler q(cfg);
    q.fit(r, std::vector<std::size_t>{0, 2, 4});  // A's known returns only
    auto r2 = r;
    r2.forward[1] = r2.forward[3] = 5.0;  // rows outside the training set cannot move the thresholds
    Labeler q2(cfg);
    q2.fit(r2, std::vector<std::size_t>{0, 2, 4});
    EXPECT_EQ(q.to_json()["up"], q2.to_json()["up"]);
    EXPECT_EQ(q.to_json()["down"], q2.to_json()["down"]);
}

TEST(Windows, NeverCrossSymbolsOrIncompleteRows) {
    FeatureMatrix m = synthetic(10, 0, 1);
    m.values[2 * 4] = std::nan("");  // row 4 = A at t=2 is incomplete
    const auto w = make_windows(m, 3);
    for (std::size_t i = 0; i < w.rows.size(); ++i) {
        const auto row = w.rows[i];
        EXPECT_NE(row, 4u);
        if (m.symbols[row] == "A") {
            EXPECT_GE(m.times[row], 5 * kMinute) << "A's windows restart after t=2";
        }
        // The window's last vector is the row's own.
        EXPECT_EQ(w.set.sample(i)[2 * 2], static_cast<float>(m.values[row * 2]));
    }
    EXPECT_EQ(w.rows.size(), (10u - 2) + (10u - 5));
}

TEST(Splits, OrderedPurgedAndDisjoint) {
    std::vector<Timestamp> times;
    for (int t = 0; t < 500; ++t) times.insert(times.end(), {t * kMinute, t * kMinute});
    training::WalkForwardConfig cfg;
    cfg.folds = 4;
    cfg.purge = 3 * kMinute;
    const auto splits = training::walk_forward(times, cfg);
    ASSERT_EQ(splits.size(), 4u);
    for (std::size_t k = 0; k < splits.size(); ++k) {
        const auto& s = splits[k];
        if (k) {
            EXPECT_EQ(s.test_from, splits[k - 1].test_to) << "test blocks tile the tail";
        }
        for (auto i : s.test) EXPECT_TRUE(times[i] >= s.test_from && times[i] < s.test_to);
        Timestamp valid_first = s.test_from;
        for (auto i : s.valid) {
            EXPECT_LT(times[i], s.test_from - cfg.purge + 1);
            valid_first = std::min(valid_first, times[i]);
        }
        for (auto i : s.train) EXPECT_LT(times[i], valid_first - cfg.purge + 1) << "purged before validation";
        EXPECT_FALSE(s.train.empty());
        EXPECT_FALSE(s.valid.empty());
        if (k) {
            EXPECT_GT(s.train.size(), splits[k - 1].train.size()) << "expanding window";
        }
    }
}

// ---- purging across gaps in a symbol's bars ----------------------------------------

// What a purged split promises: no label a model was fit on reads a bar at or
// after the first bar it is validated or tested on. The label of a row ends at
// its symbol's `horizon`-th next row, which across a gap (a weekend, a halt)
// is later than horizon x the bar interval.

// Each row's only feature is its own row index, so a model can say which rows it saw.
FeatureMatrix indexed(std::vector<std::pair<std::string, Timestamp>> rows) {
    std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second < b.second; });
    FeatureMatrix m;
    m.columns = {"row"};
    std::mt19937_64 rng(7);
    std::normal_distribution<double> z(0, 0.01);
    std::map<std::string, double> close;
    for (const auto& [symbol, time] : rows) {
        auto [it, fresh] = close.try_emplace(symbol, 100.0);
        if (!fresh) it->second *= 1 + z(rng);
        m.values.push_back(static_cast<double>(m.rows()));
        m.symbols.push_back(symbol);
        m.times.push_back(time);
        m.closes.push_back(it->second);
    }
    return m;
}

// The matrix row of the last bar the label of `row` reads (`horizon` rows of its symbol on).
std::optional<std::size_t> label_end(const FeatureMatrix& m, std::size_t row, int horizon) {
    for (std::size_t r = row + 1; r < m.rows(); ++r)
        if (m.symbols[r] == m.symbols[row] && --horizon == 0) return r;
    return std::nullopt;
}

struct SeenFit {
    std::vector<std::size_t> train, valid;  // matrix rows
    Timestamp first_predicted = std::numeric_limits<Timestamp>::max();  // the earliest bar predicted after the fit
};

// Records the rows each fit was given and the first bar predicted after it.
class RowRecorder final : public Model {
public:
    explicit RowRecorder(std::vector<SeenFit>& log) : log_(log) {}
    std::string kind() const override { return "recorder"; }
    std::size_t steps() const override { return 1; }
    void fit(const SampleSet& train, const SampleSet& valid, const ProgressFn&) override {
        SeenFit f;
        for (std::size_t i = 0; i < train.size(); ++i) f.train.push_back(static_cast<std::size_t>(train.sample(i)[0]));
        for (std::size_t i = 0; i < valid.size(); ++i) f.valid.push_back(static_cast<std::size_t>(valid.sample(i)[0]));
        log_.push_back(std::move(f));
    }
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override {
        for (auto t : batch.times) log_.back().first_predicted = std::min(log_.back().first_predicted, t);
        return std::vector<ClassProbs>(batch.size(), ClassProbs{0.25f, 0.5f, 0.25f});
    }
    void save(const std::filesystem::path&) const override {}
    std::uint64_t feature_schema_hash() const override { return 0; }
    nlohmann::json describe() const override { return {{"kind", "recorder"}}; }

private:
    std::vector<SeenFit>& log_;
};

void expect_purged(const FeatureMatrix& m, const std::vector<SeenFit>& fits, int horizon) {
    ASSERT_FALSE(fits.empty());
    for (std::size_t k = 0; k < fits.size(); ++k) {
        const auto& f = fits[k];
        ASSERT_FALSE(f.valid.empty());
        Timestamp valid_from = std::numeric_limits<Timestamp>::max();
        for (auto row : f.valid) valid_from = std::min(valid_from, m.times[row]);
        for (auto row : f.valid) {
            const auto end = label_end(m, row, horizon);
            ASSERT_TRUE(end);
            EXPECT_LT(m.times[*end], f.first_predicted)
                << "fit " << k << ": the label of validation row " << row << " (" << m.symbols[row] << " "
                << format_iso8601(m.times[row]) << ") reads " << format_iso8601(m.times[*end]) << ", a predicted bar";
        }
        for (auto row : f.train) {
            const auto end = label_end(m, row, horizon);
            ASSERT_TRUE(end);
            EXPECT_LT(m.times[*end], valid_from)
                << "fit " << k << ": the label of training row " << row << " (" << m.symbols[row] << " "
                << format_iso8601(m.times[row]) << ") reads " << format_iso8601(m.times[*end]) << ", a validation bar";
        }
    }
}

// Daily bars, Monday to Friday (as in GOOG.csv; EURUSD's hourly bars stop at
// weekends too): every weekend is a gap of three days.
TEST(WalkForward, PurgeCoversTheLabelAcrossAWeekend) {
    std::vector<std::pair<std::string, Timestamp>> rows;
    const Timestamp monday = 1704067200LL * kSecond;  // 2024-01-01
    for (int day = 0; static_cast<int>(rows.size()) < 600; ++day)
        if (day % 7 < 5) rows.emplace_back("GOOG", monday + day * 24 * kHour);
    const auto m = indexed(rows);
    LabelConfig lc;
    lc.horizon = 5;
    lc.mode = ThresholdMode::quantile;
    training::WalkForwardConfig wf;
    wf.folds = 4;
    std::vector<SeenFit> fits;
    training::walk_forward_train(m, lc, wf, [&] { return std::make_unique<RowRecorder>(fits); });
    ASSERT_EQ(fits.size(), 4u);
    expect_purged(m, fits, lc.horizon);
}

// Two symbols with a bar a minute; BBB halts for 20 minutes. The backtest's blocks
// are counted on the common time line, which AAA keeps dense.
TEST(BacktestModel, PurgeCoversTheLabelAcrossAHalt) {
    std::vector<std::pair<std::string, Timestamp>> rows;
    for (Timestamp t = 1; t <= 300; ++t) {
        rows.emplace_back("AAA", t * kMinute);
        if (t < 75 || t >= 95) rows.emplace_back("BBB", t * kMinute);
    }
    const auto m = indexed(rows);
    LabelConfig lc;
    lc.horizon = 3;
    const auto w = make_windows(m, 1);
    const auto returns = row_returns(m, lc);
    std::vector<Bar> bars;
    for (auto row : w.rows) {
        Bar b;
        b.symbol = m.symbols[row];
        b.interval = kMinute;
        b.close_time = m.times[row];
        b.open_time = b.close_time - kMinute;
        b.open = b.high = b.low = b.close = m.closes[row];
        bars.push_back(b);
    }
    backtest::EngineConfig cfg;
    cfg.min_train = 50;
    cfg.retrain_every = 30;
    cfg.horizon = static_cast<std::size_t>(lc.horizon);
    std::vector<SeenFit> fits;
    backtest::run(bars, cfg, training::backtest_model(w, returns, lc, [&] { return std::make_unique<RowRecorder>(fits); }));
    ASSERT_GE(fits.size(), 8u);
    expect_purged(m, fits, lc.horizon);
}

TEST(Xgboost, SaveLoadGivesIdenticalProbabilities) {
    const auto m = synthetic(800, 0.003, 2);
    LabelConfig lc;
    lc.mode = ThresholdMode::quantile;
    const auto r = row_returns(m, lc);
    const auto w = make_windows(m, 2);
    std::vector<std::size_t> all(w.rows.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    Labeler l(lc);
    l.fit(r, w.rows);
    const auto set = select(w, all, l, r);
    for (bool rf : {false, true}) {
        XgboostConfig cfg;
        cfg.random_forest = rf;
        cfg.rounds = 30;
        cfg.forest_trees = 20;
        cfg.steps = 2;
        cfg.feature_schema_hash = 0xabcdef;
        XgboostModel model(cfg);
        model.fit(set, set, {});
        const test::TempDir tmp(rf ? "xgb-rf" : "xgb-gb");
        const auto dir = tmp / "model";  // save creates it
        model.save(dir);
        const auto back = XgboostModel::load(dir);
        EXPECT_EQ(back->kind(), rf ? "rf" : "gbdt");
        EXPECT_EQ(back->feature_schema_hash(), 0xabcdefu);
        const auto p = model.predict_proba(set), q = back->predict_proba(set);
        ASSERT_EQ(p.size(), q.size());
        for (std::size_t i = 0; i < p.size(); ++i) {
            EXPECT_EQ(p[i], q[i]);
            EXPECT_NEAR(p[i][0] + p[i][1] + p[i][2], 1.0, 1e-5);
        }
    }
    EXPECT_THROW(XgboostModel::load("/nonexistent"), std::runtime_error);
}

XgboostConfig small_trees(bool rf) {
    XgboostConfig cfg;
    cfg.random_forest = rf;
    cfg.rounds = 60;
    cfg.forest_trees = 40;
    return cfg;
}

std::unique_ptr<Model> small_ensemble() {
    std::vector<std::unique_ptr<Model>> members;
    members.push_back(std::make_unique<XgboostModel>(small_trees(false)));
    members.push_back(std::make_unique<XgboostModel>(small_trees(true)));
    return std::make_unique<EnsembleModel>(std::move(members));
}

training::WalkForwardResult train_on(const FeatureMatrix& m, const std::string& kind) {
    LabelConfig lc;
    lc.mode = ThresholdMode::quantile;
    training::WalkForwardConfig wf;
    wf.folds = 3;
    return training::walk_forward_train(m, lc, wf, [&]() -> std::unique_ptr<Model> {
        if (kind == "ensemble") return small_ensemble();
        return std::make_unique<XgboostModel>(small_trees(kind == "rf"));
    });
}

TEST(Ensemble, WeightsOnTheSimplexAndLoadModelRoundTrip) {
    const auto m = synthetic(800, 0.003, 6);
    LabelConfig lc;
    lc.mode = ThresholdMode::quantile;
    const auto r = row_returns(m, lc);
    const auto w = make_windows(m, 1);
    std::vector<std::size_t> first, second;
    for (std::size_t i = 0; i < w.rows.size(); ++i) (i < w.rows.size() * 3 / 4 ? first : second).push_back(i);
    Labeler l(lc);
    l.fit(r, w.rows);
    auto e = small_ensemble();
    e->fit(select(w, first, l, r), select(w, second, l, r), {});
    const auto& weights = static_cast<EnsembleModel&>(*e).weights();
    EXPECT_NEAR(weights[0] + weights[1], 1.0, 1e-12);
    const test::TempDir tmp("ens");
    const auto dir = tmp / "model";
    e->save(dir);
    const auto back = load_model(dir);
    EXPECT_EQ(back->kind(), "ensemble");
    const auto test = select(w, second, l, r);
    EXPECT_EQ(back->predict_proba(test), e->predict_proba(test));
    std::filesystem::remove_all(dir);
    EXPECT_THROW(load_model(dir), std::runtime_error);
}

// Two-proportion bound: how far apart two accuracies on n bars may be by chance (95%).
double chance_margin(double p, std::size_t n) { return 1.96 * std::sqrt(2 * p * (1 - p) / static_cast<double>(n)); }

TEST(WalkForward, FindsAPlantedSignalAndBeatsBothBaselines) {
    const auto m = synthetic(3000, 0.004, 3);
    for (const char* kind : {"gbdt", "rf", "ensemble"}) {
        const auto r = train_on(m, kind);
        std::printf("%s planted: accuracy %.3f, majority %.3f, persistence %.3f (n=%zu)\n", kind,
                    r.model.accuracy, r.majority.accuracy, r.persistence.accuracy, r.model.n);
        EXPECT_GT(r.intervals.minus_majority.low, 0) << "beats majority beyond its 95% interval";
        EXPECT_GT(r.intervals.minus_persistence.low, 0) << "beats persistence beyond its 95% interval";
        EXPECT_LT(r.intervals.accuracy.low, r.model.accuracy);
        EXPECT_GT(r.intervals.accuracy.high, r.model.accuracy);
        EXPECT_GT(r.model.macro_f1, 0.55);
        EXPECT_GT(r.model.sign_accuracy, 0.9) << "the planted signal is directional";
    }
}

// EVALUATION.md's leak detector: with tomorrow's return among the features the
// harness must report near-perfect accuracy, or it is not passing data through.
TEST(WalkForward, LeakDetectorSeesTheFuture) {
    auto m = synthetic(2000, 0.0, 5);
    const auto r = row_returns(m, LabelConfig{});
    for (std::size_t i = 0; i < m.rows(); ++i) m.values[i * 2 + 1] = std::isfinite(r.forward[i]) ? r.forward[i] : 0.0;
    const auto result = train_on(m, "gbdt");
    std::printf("leak detector: accuracy %.3f\n", result.model.accuracy);
    EXPECT_GT(result.model.accuracy, 0.95);
}

TEST(WalkForward, FindsNothingInNoise) {
    const auto m = synthetic(3000, 0.0, 4);
    const auto r = train_on(m, "ensemble");
    std::printf("ensemble noise: accuracy %.3f, majority %.3f (n=%zu)\n", r.model.accuracy, r.majority.accuracy, r.model.n);
    std::printf("  accuracy - majority 95%% interval [%+.3f, %+.3f]\n", r.intervals.minus_majority.low, r.intervals.minus_majority.high);
    EXPECT_LE(r.intervals.minus_majority.low, 0) << "no skill beyond the majority baseline's interval";
}

// The simulator with one regime and a lag-2 dependence persistence cannot see
// (EVALUATION.md): r_t = 0.3 r_{t-2} + sigma z. Its Bayes-optimal rule is known
// in closed form, so the models are measured against it, not against a fit.
constexpr double kAr2 = 0.3, kSigma = 0.001;

FeatureMatrix ar2_market(std::size_t bars) {
    auto cfg = data::default_simulator_config();
    cfg.symbols = {{"A", 100}, {"B", 50}, {"C", 20}};
    cfg.regimes = {{"one", 0.0, kSigma}};
    cfg.ar2 = kAr2;
    cfg.news_impact = 0;
    cfg.trades = false;
    cfg.seed = 11;
    data::MarketSimulator sim(cfg);
    std::vector<Bar> all;
    for (std::size_t i = 0; i < bars; ++i) {
        auto s = sim.step();
        all.insert(all.end(), s.bars.begin(), s.bars.end());
    }
    features::FeatureConfig fc;
    fc.timeframes = {"1m"};
    fc.indicators = {"rsi(14)", "roc(2)"};
    fc.sentiment_windows = {"10m"};
    const auto rows = features::build(fc, all, {});
    return features::to_matrix(features::Pipeline(fc).schema(), rows);
}

// P(class) of the next log return ~ N(0.3 r_{t-1}, sigma^2) against the quantile
// thresholds of its stationary law N(0, sigma^2 / (1 - 0.3^2)).
class BayesRule final : public Model {
public:
    explicit BayesRule(std::size_t lag_column) : col_(lag_column) {}
    std::string kind() const override { return "bayes"; }
    std::size_t steps() const override { return 1; }
    void fit(const SampleSet&, const SampleSet&, const ProgressFn&) override {}
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override {
        const double sd_u = kSigma / std::sqrt(1 - kAr2 * kAr2);
        const double q = 0.4307272992954576 * sd_u;  // Phi^-1(2/3)
        auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
        std::vector<ClassProbs> out;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const double mu = kAr2 * std::log1p(batch.sample(i)[col_]);
            const double down = cdf((std::log1p(-q) - mu) / kSigma), up = 1 - cdf((std::log1p(q) - mu) / kSigma);
            out.push_back({static_cast<float>(down), static_cast<float>(1 - down - up), static_cast<float>(up)});
        }
        return out;
    }
    void save(const std::filesystem::path&) const override {}
    std::uint64_t feature_schema_hash() const override { return 0; }
    nlohmann::json describe() const override { return {{"kind", "bayes"}}; }

private:
    std::size_t col_;
};

TEST(WalkForward, ReachesNinetyPercentOfTheBayesRuleOnTheSimulator) {
    const auto m = ar2_market(4000);
    const auto lag = static_cast<std::size_t>(std::find(m.columns.begin(), m.columns.end(), "1m:return_lag(1)") - m.columns.begin());
    ASSERT_LT(lag, m.columns.size());
    LabelConfig lc;
    lc.mode = ThresholdMode::quantile;
    training::WalkForwardConfig wf;
    wf.folds = 3;
    const auto bayes = training::walk_forward_train(m, lc, wf, [&] { return std::make_unique<BayesRule>(lag); });
    XgboostConfig cfg;
    cfg.rounds = 200;
    cfg.steps = 1;
    const auto gbdt = training::walk_forward_train(m, lc, wf, [&] { return std::make_unique<XgboostModel>(cfg); });
    std::printf("AR(2) simulator: bayes %.3f, gbdt %.3f (%.1f%% of bayes), majority %.3f, persistence %.3f (n=%zu)\n",
                bayes.model.accuracy, gbdt.model.accuracy, 100 * gbdt.model.accuracy / bayes.model.accuracy,
                gbdt.majority.accuracy, gbdt.persistence.accuracy, gbdt.model.n);
    ASSERT_EQ(bayes.model.n, gbdt.model.n) << "the same test bars";
    EXPECT_GE(gbdt.model.accuracy, 0.9 * bayes.model.accuracy);
    const double margin = chance_margin(0.4, gbdt.model.n);
    EXPECT_GT(gbdt.model.accuracy, gbdt.majority.accuracy + margin);
    EXPECT_GT(gbdt.model.accuracy, gbdt.persistence.accuracy + margin);
}

TEST(VolatilityBaseline, KeepsOnlySignFreeInputsOnTheSameRows) {
    const auto m = ar2_market(200);
    const auto v = training::volatility_only(m);
    ASSERT_EQ(v.rows(), m.rows());
    EXPECT_EQ(v.columns.back(), "|pct_change(1)|");
    for (const auto& c : v.columns) {
        EXPECT_EQ(c.find("rsi"), std::string::npos) << c;
        EXPECT_EQ(c.find("roc("), std::string::npos) << c;
        EXPECT_EQ(c.find(":mean"), std::string::npos) << c;
    }
    EXPECT_NE(std::find(v.columns.begin(), v.columns.end(), "1m:volatility(20)"), v.columns.end());
    auto complete = [](const FeatureMatrix& x, std::size_t r) {
        const auto w = x.columns.size();
        return std::all_of(x.values.begin() + static_cast<std::ptrdiff_t>(r * w),
                           x.values.begin() + static_cast<std::ptrdiff_t>((r + 1) * w), [](double d) { return std::isfinite(d); });
    };
    for (std::size_t r = 0; r < m.rows(); ++r) EXPECT_EQ(complete(m, r), complete(v, r)) << "row " << r;
    const auto col = static_cast<std::size_t>(std::find(m.columns.begin(), m.columns.end(), "1m:pct_change(1)") - m.columns.begin());
    for (std::size_t r = 0; r < m.rows(); ++r)
        if (complete(m, r)) {
            EXPECT_EQ(v.values[r * v.columns.size() + v.columns.size() - 1], std::abs(m.values[r * m.columns.size() + col]));
        }
}

}  // namespace
}  // namespace pricecast::models
