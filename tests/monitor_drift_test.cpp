// Drift: PSI and two-sample KS against a saved reference, performance drift,
// and the simulator check: a regime switch mid-stream alarms, the same length
// of stationary stream does not.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "data/simulator.hpp"
#include "features/features.hpp"
#include "monitor/monitor.hpp"

using namespace pricecast;
using namespace pricecast::monitor;

namespace {

std::vector<double> one_to(int n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 1.0);
    return v;
}

TEST(Reference, DecileEdgesAsNumpyAndEqualShares) {
    const auto ref = Reference::fit({"x"}, {one_to(20)});
    const auto& f = ref.features().at(0);
    // numpy.quantile(1..20, [0.1 .. 0.9])
    const std::vector<double> edges = {2.9, 4.8, 6.7, 8.6, 10.5, 12.4, 14.3, 16.2, 18.1};
    ASSERT_EQ(f.edges.size(), 9u);
    for (std::size_t i = 0; i < 9; ++i) EXPECT_NEAR(f.edges[i], edges[i], 1e-12);
    for (double s : f.shares) EXPECT_DOUBLE_EQ(s, 0.1);
    EXPECT_EQ(f.sample, one_to(20));
    EXPECT_EQ(Reference::fit({"x"}, {one_to(100)}, 5).features()[0].sample, (std::vector<double>{1, 25, 50, 75, 100}));
}

TEST(Reference, NonFiniteValuesAreSkippedAndTooFewAreAnError) {
    auto v = one_to(20);
    v.push_back(std::nan(""));
    v.push_back(INFINITY);
    EXPECT_EQ(Reference::fit({"x"}, {v}).features()[0].sample.size(), 20u);
    try {
        Reference::fit({"few"}, {one_to(5)});
        FAIL();
    } catch (const MonitorError& e) {
        EXPECT_NE(std::string(e.what()).find("'few'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Reference::fit({"a", "b"}, {one_to(20)}), MonitorError);
}

TEST(Reference, JsonRoundTripAndBadFieldsNamed) {
    const auto ref = Reference::fit({"x", "y"}, {one_to(30), one_to(50)});
    const auto back = Reference::from_json(nlohmann::json::parse(ref.to_json().dump()));
    ASSERT_EQ(back.features().size(), 2u);
    EXPECT_EQ(back.features()[1].name, "y");
    EXPECT_EQ(back.features()[1].edges, ref.features()[1].edges);
    EXPECT_EQ(back.features()[1].sample, ref.features()[1].sample);

    auto expect_error = [](nlohmann::json j, const std::string& field) {
        try {
            Reference::from_json(j);
            ADD_FAILURE() << "accepted a bad " << field;
        } catch (const MonitorError& e) {
            EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
        }
    };
    const auto good = ref.to_json();
    auto j = good;
    j.erase("format");
    expect_error(j, "reference.format");
    j = good, j["features"] = 3;
    expect_error(j, "reference.features");
    j = good, j["features"][1].erase("name");
    expect_error(j, "features[1].name");
    j = good, j["features"][0]["edges"] = {3, 2, 1};
    expect_error(j, "features[0].edges");
    j = good, j["features"][1]["shares"][0] = "a";
    expect_error(j, "features[1].shares");
    j = good, j["features"][1]["sample"] = nlohmann::json::array();
    expect_error(j, "features[1].sample");
    j = good, j["features"][0]["noise_psi"] = -1;
    expect_error(j, "features[0].noise_psi");
    expect_error(nlohmann::json::array(), "reference.format");
}

TEST(Reference, NoisePsiIsTheWorstWindowOfTheReference) {
    // Stationary: every quarter of 1..400 shuffled evenly is the whole again; a
    // level shift inside the reference makes its windows differ from the whole.
    std::vector<double> even(400), shifted(400);
    for (std::size_t i = 0; i < 400; ++i) even[i] = double((i * 37) % 400), shifted[i] = double(i);
    const auto calm = Reference::fit({"x"}, {even}, 2000, 100).features()[0];
    const auto moving = Reference::fit({"x"}, {shifted}, 2000, 100).features()[0];
    EXPECT_LT(calm.noise_psi, 0.05);
    EXPECT_GT(moving.noise_psi, 1.0);
    EXPECT_NEAR(moving.noise_psi, psi(moving, std::span(shifted).first(100)), 1e-12);
    EXPECT_EQ(Reference::fit({"x"}, {shifted}).features()[0].noise_psi, 0);  // no window given
    // A feature that moves this much on its own needs a bigger PSI to alarm.
    DriftConfig c;
    c.min_feature_samples = 10;
    Reference ref = Reference::fit({"x"}, {shifted}, 2000, 100);
    const std::vector<double> first_quarter(shifted.begin(), shifted.begin() + 100);
    const auto d = data_drift(ref, {first_quarter}, c);
    EXPECT_GE(d.features[0].psi_threshold, 3 * moving.noise_psi);
    EXPECT_FALSE(d.alarm);
}

TEST(Psi, ZeroForTheReferenceItselfAndByHandForAShift) {
    const auto ref = Reference::fit({"x"}, {one_to(20)});
    const auto& f = ref.features()[0];
    EXPECT_NEAR(psi(f, one_to(20)), 0, 1e-15);
    // Everything in the first bin: (1 - 0.1) ln(1 / 0.1) + 9 (1e-4 - 0.1) ln(1e-4 / 0.1).
    const std::vector<double> low(10, 1.0);
    EXPECT_NEAR(psi(f, low), 0.9 * std::log(10.0) + 9 * (1e-4 - 0.1) * std::log(1e-3), 1e-12);
}

TEST(Ks, MatchesScipy) {
    // scipy.stats.ks_2samp(a, b).statistic and kstwobign.sf(sqrt(n m / (n + m)) D).
    const std::vector<double> a = {0.1, 0.5, 0.5, 1.2, 2.0, 2.5, 3.1, 4.0};
    const std::vector<double> b = {0.5, 1.0, 1.5, 2.5, 2.5, 3.5, 5.0, 6.0, 7.0, 8.0};
    const auto r = ks_two_sample(a, b);
    EXPECT_NEAR(r.statistic, 0.4, 1e-15);
    EXPECT_NEAR(r.p_value, 0.4755937630041417, 1e-12);
    const auto same = ks_two_sample(a, a);
    EXPECT_EQ(same.statistic, 0);
    EXPECT_EQ(same.p_value, 1);
}

TEST(PerformanceDrift, AlarmsOnlyWithEnoughSamplesAndABigDrop) {
    DriftConfig c;
    c.min_samples = 50;
    Metrics shortw, longw;
    shortw.accuracy = 0.40, shortw.resolved = 60;
    longw.accuracy = 0.46, longw.resolved = 500;
    EXPECT_TRUE(performance_drift(shortw, longw, c).alarm);
    shortw.accuracy = 0.42;  // 4 points: within the allowed 5
    EXPECT_FALSE(performance_drift(shortw, longw, c).alarm);
    shortw.accuracy = 0.10, shortw.resolved = 49;  // a quiet hour does not alarm
    const auto d = performance_drift(shortw, longw, c);
    EXPECT_FALSE(d.alarm);
    EXPECT_FALSE(d.enough_samples);
    const auto a = performance_alert({"gbdt", 2, "champion"}, "ACME", performance_drift(longw, longw, c), 7);
    EXPECT_EQ(a.key, "performance_drift/gbdt v2 champion ACME");
    c.long_window = c.short_window;
    EXPECT_THROW(validate(c), MonitorError);
}

// ---- simulator: regime switch vs stationary -------------------------------------

constexpr int kDay = 1440;  // 1m bars

struct Columns {
    std::vector<std::string> names;
    std::vector<std::vector<double>> reference, current;
};

// Features of a 5-day simulated run; reference = the first 3 days, current = the last day.
Columns simulated_features(int regime_switch_at) {
    auto cfg = data::default_simulator_config();
    cfg.seed = 11;
    cfg.switch_prob = 0;  // stays calm unless forced
    cfg.regime_switch_at = regime_switch_at;
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
    for (int i = 0; i < 5 * kDay; ++i) {
        auto s = sim.step();
        bars.insert(bars.end(), s.bars.begin(), s.bars.end());
        news.insert(news.end(), s.news.begin(), s.news.end());
    }
    features::FeatureConfig fc;
    fc.timeframes = {"1m"};
    fc.indicators = {"rsi(14)", "natr(14)", "roc(10)"};
    const features::Pipeline schema_of(fc);
    const auto vectors = features::build(fc, bars, news);
    Columns c;
    for (const auto& col : schema_of.schema().columns()) c.names.push_back(col.name);
    c.reference.resize(c.names.size());
    c.current.resize(c.names.size());
    const Timestamp ref_end = cfg.start + 3 * kDay * cfg.interval, cur_start = cfg.start + 4 * kDay * cfg.interval;
    for (const auto& v : vectors)
        for (std::size_t f = 0; f < v.values.size(); ++f) {
            if (v.close_time <= ref_end) c.reference[f].push_back(v.values[f]);
            if (v.close_time > cur_start) c.current[f].push_back(v.values[f]);
        }
    return c;
}

std::string describe(const DataDrift& d) {
    std::string s;
    for (const auto& f : d.features)
        s += f.name + " psi=" + std::to_string(f.psi) + " ks=" + std::to_string(f.ks) + " p=" + std::to_string(f.ks_p) + "\n";
    return s;
}

TEST(DataDriftOnSimulator, RegimeSwitchMidStreamAlarmsAndNamesVolatilityFeatures) {
    const auto c = simulated_features(4 * kDay - 60);  // turbulent from an hour before the last day
    const auto ref = Reference::fit(c.names, c.reference, 2000, c.current[0].size(), 2);
    const auto d = data_drift(Reference::from_json(ref.to_json()), c.current, DriftConfig{});
    ASSERT_TRUE(d.alarm) << describe(d);
    ASSERT_FALSE(d.top.empty());
    EXPECT_LE(d.top.size(), DriftConfig{}.top_features);
    const std::vector<std::string> volatility = {"1m:natr(14)", "1m:volatility(5)", "1m:volatility(20)", "1m:hl_ratio",
                                                 "1m:bb_width(20,2)"};
    EXPECT_NE(std::find(volatility.begin(), volatility.end(), d.top[0]), volatility.end()) << describe(d);
    const auto alert = data_drift_alert({"gbdt", 1, "champion"}, d, 0);
    EXPECT_NE(alert.summary.find(d.top[0]), std::string::npos) << alert.summary;
    EXPECT_EQ(alert.details["top"][0], d.top[0]);
}

TEST(DataDriftOnSimulator, StationaryStreamOfTheSameLengthDoesNotAlarm) {
    const auto c = simulated_features(-1);
    const auto d = data_drift(Reference::fit(c.names, c.reference, 2000, c.current[0].size(), 2), c.current, DriftConfig{});
    EXPECT_FALSE(d.alarm) << describe(d);
}

TEST(Reference, FromATrainingMatrix) {
    // Two symbols, one row each per minute for 4 days; a one-day window is 2880 rows.
    features::FeatureMatrix m;
    m.columns = {"a", "b"};
    for (int i = 0; i < 4 * 1440; ++i)
        for (const char* symbol : {"X", "Y"}) {
            m.symbols.push_back(symbol);
            m.times.push_back(i * kMinute);
            m.closes.push_back(1);
            m.values.push_back(double(i % 100));
            m.values.push_back(i < 1440 ? 0.0 : double(i));  // flat on day one, then trending: noisy
        }
    const auto ref = Reference::fit(m, 24 * kHour);
    ASSERT_EQ(ref.features().size(), 2u);
    EXPECT_EQ(ref.features()[1].name, "b");
    EXPECT_EQ(ref.features()[0].count, 2u * 4 * 1440);
    EXPECT_LT(ref.features()[0].noise_psi, 0.01);
    EXPECT_GT(ref.features()[1].noise_psi, 1.0);
    // Lag 2 pairs each symbol with itself: a sawtooth of period 100 is strongly autocorrelated.
    EXPECT_LT(ref.features()[0].effective_share, 0.05);
    EXPECT_THROW(Reference::fit(features::FeatureMatrix{}, kHour), MonitorError);
}

TEST(DataDrift, ColumnCountMustMatchTheReference) {
    const auto ref = Reference::fit({"x"}, {one_to(20)});
    EXPECT_THROW(data_drift(ref, {}, DriftConfig{}), MonitorError);
}

}  // namespace
