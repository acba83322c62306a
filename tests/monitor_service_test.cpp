// The monitor service: a model that goes bad on the last day raises a
// performance-drift alert (and one that stays good raises none); shifted
// features raise a data-drift alert; over the in-process bus every prediction
// lands in the log and every outcome that the prices allow is resolved.
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "core/metrics.hpp"
#include "data/simulator.hpp"
#include "features/features.hpp"
#include "monitor/monitor.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace pricecast;
using namespace pricecast::monitor;

namespace {

constexpr Duration kBar = 5 * kMinute;
constexpr int kBarsPerDay = 288;
constexpr LabelRule kRule = LabelRule::fixed(1, 0.0005);

class Recorder final : public AlertSink {
public:
    explicit Recorder(std::vector<Alert>* alerts) : alerts_(alerts) {}
    std::string name() const override { return "recorder"; }
    void send(const Alert& a) override { alerts_->push_back(a); }

private:
    std::vector<Alert>* alerts_;
};

std::vector<Bar> simulated_bars(int days) {
    auto cfg = data::default_simulator_config();
    cfg.symbols = {{"ACME", 100.0}};
    cfg.interval = kBar;
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    std::vector<Bar> bars;
    for (int i = 0; i < days * kBarsPerDay; ++i) bars.push_back(sim.step().bars.at(0));
    return bars;
}

// A model that knows the next close (right) until bar `goes_bad`, then is always wrong.
Prediction predict(const std::vector<Bar>& bars, std::size_t i, std::size_t goes_bad) {
    Prediction p;
    p.symbol = bars[i].symbol;
    p.bar_time = bars[i].close_time;
    p.model = "oracle";
    p.version = 1;
    p.close = bars[i].close;
    const int truth = i + 1 < bars.size() ? realized_class(bars[i].close, bars[i + 1].close, kRule) : 1;
    p.cls = i < goes_bad ? truth : (truth + 1) % kClasses;
    p.probs = {0.2f, 0.2f, 0.2f};
    p.probs[std::size_t(p.cls)] = 0.6f;
    p.confidence = 0.6;
    return p;
}

class MonitorServiceTest : public ::testing::Test {
protected:
    void SetUp() override { alerts_.add_sink(std::make_unique<Recorder>(&received_)); }
    MonitorOptions options() const {
        MonitorOptions o;
        o.log_file = dir_ / "predictions.sqlite";
        o.state_file = dir_ / "monitor.state";
        o.rule = kRule;
        return o;
    }

    test::TempDir dir_{"monitor-service"};
    AlertManager alerts_;
    std::vector<Alert> received_;
};

std::vector<Alert> of_kind(const std::vector<Alert>& alerts, const std::string& kind) {
    std::vector<Alert> out;
    for (const auto& a : alerts)
        if (a.kind == kind) out.push_back(a);
    return out;
}

TEST_F(MonitorServiceTest, ModelGoingBadOnTheLastDayAlarms) {
    const auto bars = simulated_bars(8);
    const std::size_t last_day = 7 * kBarsPerDay;
    MonitorService monitor(options(), alerts_);
    for (std::size_t i = 0; i < bars.size(); ++i) {
        monitor.on_bar(bars[i]);
        monitor.on_prediction(predict(bars, i, last_day));
    }
    const auto perf = of_kind(received_, "performance_drift");
    ASSERT_FALSE(perf.empty());
    EXPECT_GT(perf.front().time, bars[last_day].close_time);
    EXPECT_EQ(perf.front().details["model"], "oracle");
    EXPECT_GT(perf.front().details["long_accuracy"].get<double>() - perf.front().details["short_accuracy"].get<double>(),
              0.05);
    EXPECT_EQ(monitor.resolver().pending(), 1u);  // only the newest bar waits
    const auto gauge = metrics::registry()
                           .gauge("pricecast_monitor_accuracy", "Accuracy of resolved predictions over the window",
                                  {{"model", "oracle"}, {"version", "1"}, {"slot", "champion"}, {"symbol", "all"},
                                   {"window", "7d"}})
                           .value();
    EXPECT_GT(gauge, 0.5);
    EXPECT_LT(gauge, 1.0);
}

TEST_F(MonitorServiceTest, ModelThatStaysGoodDoesNotAlarm) {
    const auto bars = simulated_bars(8);
    MonitorService monitor(options(), alerts_);
    for (std::size_t i = 0; i < bars.size(); ++i) {
        monitor.on_bar(bars[i]);
        monitor.on_prediction(predict(bars, i, bars.size()));
    }
    EXPECT_TRUE(received_.empty()) << received_.front().summary;
    const auto rows = monitor.evaluate(bars.back().close_time);
    ASSERT_FALSE(rows.empty());
    EXPECT_DOUBLE_EQ(rows.front().metrics.accuracy, 1.0);
}

// A snapshot of another label rule (a champion trained on other thresholds)
// does not stop the monitor: it is set aside, and the outcomes the log still
// owes are resolved with the new rule.
TEST_F(MonitorServiceTest, SnapshotOfAnotherRuleIsSetAsideAndTheLogResolvesWhatIsOwed) {
    const auto bars = simulated_bars(1);
    {
        MonitorService first(options(), alerts_);
        for (std::size_t i = 0; i < 10; ++i) {
            first.on_bar(bars[i]);
            first.on_prediction(predict(bars, i, bars.size()));
        }
        first.save_state();
        ASSERT_EQ(first.resolver().pending(), 1u);
    }
    auto o = options();
    o.rule = LabelRule::fixed(1, 1.0);  // no one-bar move reaches 100%: STABLE
    MonitorService second(o, alerts_);
    EXPECT_EQ(second.resolver().pending(), 1u);
    second.on_bar(bars[10]);
    EXPECT_EQ(second.resolver().pending(), 0u);
    const auto rows = second.log().query({});
    ASSERT_EQ(rows.size(), 10u);
    ASSERT_TRUE(rows.back().outcome);
    EXPECT_EQ(*rows.back().outcome, 1);
    EXPECT_EQ(*rows.front().outcome, realized_class(bars[0].close, bars[1].close, kRule)) << "kept from the first";
}

// Predictions on bars of the version's own training data are not live
// skill: they are left out of the log and the outcomes; another version's
// predictions on the same bars count.
TEST_F(MonitorServiceTest, PredictionsOnTheTrainingDataAreNotScored) {
    const auto bars = simulated_bars(1);
    auto o = options();
    std::vector<ModelKey> asked;
    o.trained_to = [&](const ModelKey& key) -> std::optional<Timestamp> {
        asked.push_back(key);
        if (key.version == 1) return bars[5].close_time;
        return std::nullopt;
    };
    MonitorService monitor(o, alerts_);
    for (std::size_t i = 0; i < 10; ++i) {
        monitor.on_bar(bars[i]);
        monitor.on_prediction(predict(bars, i, bars.size()));
        auto other = predict(bars, i, bars.size());
        other.version = 2;
        monitor.on_prediction(other);
    }
    EXPECT_EQ(asked.size(), 2u) << "once per version";
    EXPECT_EQ(monitor.in_sample(), 6u);
    const auto v1 = monitor.log().query({.model = "oracle", .version = 1});
    ASSERT_EQ(v1.size(), 4u);
    EXPECT_GT(v1.front().prediction.bar_time, bars[5].close_time);
    for (std::size_t k = 0; k + 1 < v1.size(); ++k) EXPECT_TRUE(v1[k].outcome) << k;
    EXPECT_EQ(monitor.log().query({.model = "oracle", .version = 2}).size(), 10u);
}

// A new champion (a promotion or rollback) brings its own label rule:
// outcomes resolved after its first prediction use it, those before keep
// the old one; a challenger's predictions change nothing.
TEST_F(MonitorServiceTest, OutcomesFollowTheServingChampionsLabelRule) {
    const auto bars = simulated_bars(1);
    auto o = options();
    std::vector<int> asked;
    o.rule_of = [&](const ModelKey& key) {
        asked.push_back(key.version);
        return key.version == 2 ? LabelRule::fixed(1, 1.0) : kRule;  // v2: no one-bar move reaches 100%
    };
    MonitorService monitor(o, alerts_);
    for (std::size_t i = 0; i < 20; ++i) {
        monitor.on_bar(bars[i]);
        auto p = predict(bars, i, bars.size());
        p.version = i < 10 ? 1 : 2;
        monitor.on_prediction(p);
        auto challenger = p;
        challenger.version = 3;
        challenger.slot = "challenger";
        monitor.on_prediction(challenger);
    }
    EXPECT_EQ(asked, (std::vector<int>{1, 2})) << "once per champion version";
    EXPECT_EQ(monitor.resolver().rule(), LabelRule::fixed(1, 1.0));
    const auto rows = monitor.log().query({.slot = "champion"});
    ASSERT_EQ(rows.size(), 20u);
    int moves_before = 0;
    for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
        ASSERT_TRUE(rows[i].outcome) << i;
        if (i < 10) {  // bar 9's outcome is resolved by bar 10, before v2's first prediction
            EXPECT_EQ(*rows[i].outcome, realized_class(bars[i].close, bars[i + 1].close, kRule)) << i;
            moves_before += *rows[i].outcome != 1;
        } else {
            EXPECT_EQ(*rows[i].outcome, 1) << i << ": resolved after v2's first prediction";
        }
    }
    EXPECT_GT(moves_before, 0) << "the old rule did see moves";
}

TEST_F(MonitorServiceTest, ShiftedFeaturesRaiseADataDriftAlert) {
    std::vector<double> ref(500);
    for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = double(i % 100) / 100;
    auto o = options();
    o.reference = Reference::fit({"f"}, {ref});
    o.reference_model = {"oracle", 1, "champion"};
    o.feature_names = {"other", "f"};
    MonitorService monitor(o, alerts_);
    for (int i = 0; i < 300; ++i) {
        features::FeatureVector v;
        v.symbol = "ACME";
        v.close_time = kBar * (i + 1);
        v.values = {0.0, 3.0 + double(i % 10) / 10};
        monitor.on_features(v);
    }
    const auto d = monitor.data_drift_now();
    ASSERT_TRUE(d && d->alarm);
    EXPECT_EQ(d->top, std::vector<std::string>{"f"});
    monitor.evaluate(kBar * 300);
    const auto drift = of_kind(received_, "data_drift");
    ASSERT_FALSE(drift.empty());
    for (const auto& a : drift) EXPECT_EQ(a.details["top"][0], "f");

    o.feature_names = {"other"};
    EXPECT_THROW(MonitorService(o, alerts_), MonitorError);
}

// A promotion moves the drift checks to the new champion's own training
// reference, asked for once per version; an alert that reaches the sinks is
// handed to on_drift (retraining); kept features span keep_features.
TEST_F(MonitorServiceTest, DataDriftFollowsTheServingChampionsReference) {
    std::vector<double> low(500), high(500);
    for (std::size_t i = 0; i < low.size(); ++i) {
        low[i] = double(i % 100) / 100;
        high[i] = 3 + low[i];
    }
    std::map<int, int> asked;
    std::vector<Alert> handed;
    auto o = options();
    o.feature_names = {"f"};
    o.reference_of = [&](const ModelKey& key) -> std::optional<Reference> {
        ++asked[key.version];
        if (key.version == 3) return std::nullopt;  // registered without a reference
        return Reference::fit({"f"}, {key.version == 1 ? low : high});
    };
    o.keep_features = 48 * kHour;
    o.on_drift = [&](const Alert& a) { handed.push_back(a); };
    MonitorService monitor(o, alerts_);
    EXPECT_EQ(monitor.reference_model().model, "");
    const auto feed = [&](int version, int from, int to) {
        for (int i = from; i < to; ++i) {
            Prediction p;
            p.symbol = "ACME";
            p.bar_time = kBar * (i + 1);
            p.model = "m";
            p.version = version;
            p.close = 100;
            monitor.on_prediction(p);
            features::FeatureVector v{.symbol = "ACME", .close_time = kBar * (i + 1), .values = {double(i % 100) / 100}};
            monitor.on_features(v);
        }
    };
    feed(1, 0, 600);  // values like v1's reference: no drift over two days
    EXPECT_EQ(monitor.reference_model().version, 1);
    EXPECT_TRUE(of_kind(received_, "data_drift").empty());
    feed(2, 600, 900);  // v2 was trained on values 3 higher: the same stream drifts against it
    EXPECT_EQ(monitor.reference_model().version, 2);
    const auto drift = of_kind(received_, "data_drift");
    ASSERT_FALSE(drift.empty());
    EXPECT_EQ(drift.front().details["version"], 2);
    ASSERT_FALSE(handed.empty());
    EXPECT_EQ(handed.front().key, drift.front().key);
    feed(3, 900, 1000);  // a champion without a reference: no checks
    EXPECT_EQ(monitor.reference_model().model, "");
    EXPECT_FALSE(monitor.data_drift_now());
    feed(1, 1000, 1100);  // rolled back: v1's reference again, not asked twice
    EXPECT_EQ(monitor.reference_model().version, 1);
    EXPECT_EQ(asked, (std::map<int, int>{{1, 1}, {2, 1}, {3, 1}}));

    const auto kept = monitor.recent_features();
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(kept.back().close_time, kBar * 1100);
    EXPECT_EQ(kept.back().close_time - kept.front().close_time, 48 * kHour - kBar);
}

// on_drift_after: on_drift (retraining) waits until drift was found by that
// many evaluations in a row, and one clean evaluation starts the count again.
// The evaluation that completes the streak hands its alert over even though
// the sinks drop it as a repeat; later repeats are not handed over.
TEST_F(MonitorServiceTest, OnDriftWaitsForDriftInEvaluationsInARow) {
    std::vector<double> ref(500);
    for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = double(i % 100) / 100;
    auto o = options();
    o.reference = Reference::fit({"f"}, {ref});
    o.reference_model = {"oracle", 1, "champion"};
    o.feature_names = {"f"};
    o.evaluate_every = 10000 * kHour;  // only the evaluations this test asks for
    o.on_drift_after = 3;
    std::vector<Timestamp> handed;
    o.on_drift = [&](const Alert& a) { handed.push_back(a.time); };
    MonitorService monitor(o, alerts_);
    int bar = 0;
    // A day and a bit of vectors like the reference (clean) or shifted by 3 (drifting).
    const auto feed = [&](bool drifting) {
        for (int i = 0; i < 300; ++i, ++bar) {
            const double x = double(bar % 100) / 100 + (drifting ? 3.0 : 0.0);
            monitor.on_features({.symbol = "ACME", .close_time = kBar * (bar + 1), .values = {x}});
        }
    };
    const auto evaluate = [&] { monitor.evaluate(kBar * bar); };

    feed(true);
    evaluate();
    evaluate();
    EXPECT_TRUE(handed.empty()) << "two drifting evaluations are not three";
    ASSERT_FALSE(of_kind(received_, "data_drift").empty()) << "the sinks still get the alert at once";
    evaluate();
    EXPECT_EQ(handed, std::vector<Timestamp>{kBar * bar}) << "the third in a row hands it over";
    evaluate();
    EXPECT_EQ(handed.size(), 1u) << "a repeat the sinks dropped is not handed over again";

    feed(false);
    evaluate();  // clean: the count starts again
    EXPECT_FALSE(monitor.data_drift_now()->alarm);
    feed(true);
    evaluate();
    evaluate();
    EXPECT_EQ(handed.size(), 1u);
    evaluate();
    EXPECT_EQ(handed.size(), 2u);

    o.on_drift_after = 0;
    EXPECT_THROW(MonitorService(o, alerts_), MonitorError);
}

// Must show 1: the simulator switching regime mid-stream raises a data-drift
// alert (after the switch, naming a volatility feature); the same length of
// stationary stream raises none. Reference: all days but the last two, which
// are fed through the service, evaluated every hour of event time.
constexpr int kDays = 8;
std::vector<Alert> drift_alerts_on_simulator(int regime_switch_at, const MonitorOptions& base, Timestamp* switch_time) {
    auto cfg = data::default_simulator_config();
    cfg.seed = 11;
    cfg.switch_prob = 0;
    cfg.regime_switch_at = regime_switch_at;
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
    for (int i = 0; i < kDays * 1440; ++i) {
        auto s = sim.step();
        bars.insert(bars.end(), s.bars.begin(), s.bars.end());
        news.insert(news.end(), s.news.begin(), s.news.end());
    }
    *switch_time = cfg.start + regime_switch_at * cfg.interval;
    features::FeatureConfig fc;
    fc.timeframes = {"1m"};
    fc.indicators = {"rsi(14)", "natr(14)", "roc(10)"};
    const auto vectors = features::build(fc, bars, news);
    auto o = base;
    const features::Pipeline schema_of(fc);
    for (const auto& c : schema_of.schema().columns()) o.feature_names.push_back(c.name);
    const Timestamp ref_end = cfg.start + (kDays - 2) * kDay;
    std::vector<std::vector<double>> reference(o.feature_names.size());
    for (const auto& v : vectors)
        if (v.close_time <= ref_end)
            for (std::size_t f = 0; f < v.values.size(); ++f) reference[f].push_back(v.values[f]);
    const std::size_t rows_per_day = 1440 * cfg.symbols.size();
    o.reference = Reference::fit(o.feature_names, reference, 2000, rows_per_day, cfg.symbols.size());
    o.reference_model = {"gbdt", 1, "champion"};
    std::vector<Alert> received;
    AlertManager alerts;
    alerts.add_sink(std::make_unique<Recorder>(&received));
    MonitorService monitor(o, alerts);
    for (const auto& v : vectors)
        if (v.close_time > ref_end) monitor.on_features(v);
    return of_kind(received, "data_drift");
}

TEST_F(MonitorServiceTest, RegimeSwitchOnTheSimulatorRaisesADataDriftAlert) {
    Timestamp switch_time = 0;
    const auto alerts = drift_alerts_on_simulator((kDays - 1) * 1440 - 60, options(), &switch_time);
    ASSERT_FALSE(alerts.empty());
    EXPECT_GT(alerts.front().time, switch_time);
    const std::string top = alerts.front().details["top"][0];
    EXPECT_TRUE(top.find("natr") != std::string::npos || top.find("volatility") != std::string::npos ||
                top.find("hl_ratio") != std::string::npos || top.find("bb_width") != std::string::npos)
        << alerts.front().summary;
}

TEST_F(MonitorServiceTest, StationarySimulatorRaisesNoDataDriftAlert) {
    Timestamp switch_time = 0;
    const auto alerts = drift_alerts_on_simulator(-1, options(), &switch_time);
    EXPECT_TRUE(alerts.empty()) << alerts.front().summary;
}

TEST_F(MonitorServiceTest, OverTheBusEveryPredictionIsLoggedAndResolved) {
    const auto bars = simulated_bars(1);
    auto bus = bus::make_in_process_bus();
    for (std::size_t i = 0; i < bars.size(); ++i) {
        bus->publish(bus::topics::prices, bars[i].symbol, bus::encode(bars[i]));
        bus->publish(bus::topics::predictions, bars[i].symbol, bus::encode(predict(bars, i, bars.size())));
    }
    bus->publish(bus::topics::predictions, "ACME", "{not json");
    {
        MonitorService monitor(options(), alerts_);
        std::jthread runner([&](std::stop_token stop) { monitor.run(*bus, stop); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (monitor.log().query({.resolved_only = true}).size() < bars.size() - 1 &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        runner.request_stop();
    }
    MonitorService reopened(options(), alerts_);  // restores the resolver from its state file
    EXPECT_EQ(reopened.log().query({}).size(), bars.size());
    EXPECT_EQ(reopened.log().query({.resolved_only = true}).size(), bars.size() - 1);
    EXPECT_EQ(reopened.resolver().pending(), 1u);
    EXPECT_TRUE(fs::exists(dir_ / "monitor.state"));
}

// A state file that cannot be written (here its folder is a file; a full
// disk or no file handles left alike) does not stop the role: it goes on
// logging and resolving, counts the failure, and leaves the offsets uncommitted.
TEST_F(MonitorServiceTest, AStateFileThatCannotBeWrittenDoesNotStopTheRole) {
    const auto bars = simulated_bars(1);
    auto bus = bus::make_in_process_bus();
    for (std::size_t i = 0; i < bars.size(); ++i) {
        bus->publish(bus::topics::prices, bars[i].symbol, bus::encode(bars[i]));
        bus->publish(bus::topics::predictions, bars[i].symbol, bus::encode(predict(bars, i, bars.size())));
    }
    std::ofstream(dir_ / "blocked") << "a file where the state's folder should be";
    auto o = options();
    o.state_file = dir_ / "blocked" / "monitor.state";
    auto& failures = metrics::registry().counter("pricecast_snapshot_failures_total",
                                                 "Checkpoints whose state could not be written", {{"role", "monitor"}});
    const double before = failures.value();
    MonitorService monitor(o, alerts_);
    std::jthread runner([&](std::stop_token stop) { monitor.run(*bus, stop); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while ((monitor.log().query({.resolved_only = true}).size() < bars.size() - 1 || failures.value() == before) &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    runner.request_stop();
    runner.join();  // before the fix, the failed checkpoint ended run() with an exception
    EXPECT_EQ(monitor.log().query({.resolved_only = true}).size(), bars.size() - 1);
    EXPECT_GT(failures.value(), before);
    EXPECT_FALSE(fs::exists(o.state_file));
}

}  // namespace
