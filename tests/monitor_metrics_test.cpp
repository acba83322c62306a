// Rolling metrics on a tiny replayed stream with known outcomes: the stream
// (tests/data/monitor/stream.json) goes through the outcome resolver into the
// prediction log, and every number must equal the scikit-learn oracle's
// (tests/oracles/monitor_metrics.py -> metrics_golden.json).
#include <cmath>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "monitor/monitor.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace pricecast;
using namespace pricecast::monitor;
using nlohmann::json;

namespace {

json load(const std::string& name) {
    std::ifstream in(test::test_data() / "monitor" / name);
    return json::parse(in);
}

class ReplayedStream : public ::testing::Test {
protected:
    void SetUp() override {
        log_ = std::make_unique<PredictionLog>(PredictionLog::default_path(dir_.path()));
        replay(load("stream.json"));
    }

    // Bar i of every symbol, then the predictions made at bar i: the order a live run sees.
    void replay(const json& s) {
        const Timestamp start = *parse_iso8601(s["start"].get<std::string>());
        const Duration interval = *parse_duration(s["interval"].get<std::string>());
        OutcomeResolver resolver(LabelRule::fixed(s["rule"]["horizon"], s["rule"]["threshold"]),
                                 [&](const Outcome& o) { log_->set_outcome(o); });
        std::map<std::pair<std::string, int>, double> closes;
        for (const auto& b : s["bars"]) closes[{b[0], b[1]}] = b[2];
        for (int i = 0; i < 10; ++i) {
            for (const auto& b : s["bars"]) {
                if (b[1] != i) continue;
                Bar bar{.symbol = b[0], .interval = interval, .open_time = start + (i - 1) * interval,
                        .close_time = start + i * interval};
                bar.open = bar.high = bar.low = bar.close = b[2];
                bar.volume = 1;
                resolver.on_bar(bar);
            }
            for (const auto& p : s["predictions"]) {
                if (p[1] != i) continue;
                Prediction pr{.symbol = p[0], .bar_time = start + i * interval, .model = "gbdt", .version = 3};
                pr.cls = p[2];
                for (int k = 0; k < kClasses; ++k) pr.probs[std::size_t(k)] = p[3][std::size_t(k)].get<float>();
                pr.close = closes.at({p[0], i});
                log_->append(pr);
                resolver.on_prediction(pr);
            }
        }
        EXPECT_EQ(resolver.pending(), 1u);  // A's last bar (B's bar before the gap steps over it)
    }

    const MetricsRow& row(const std::vector<MetricsRow>& rows, const std::string& symbol) {
        for (const auto& r : rows)
            if (r.symbol == symbol) return r;
        throw std::runtime_error("no row for " + symbol);
    }

    test::TempDir dir_{"monitor-metrics"};
    std::unique_ptr<PredictionLog> log_;  // closed before its folder goes
};

void expect_near(double actual, const json& expected, const std::string& what) {
    if (expected.is_null()) {
        EXPECT_TRUE(std::isnan(actual)) << what;
        return;
    }
    EXPECT_NEAR(actual, expected.get<double>(), 1e-12) << what;
}

TEST_F(ReplayedStream, EqualsTheOracleInEveryCase) {
    const auto golden = load("metrics_golden.json");
    for (const auto& c : golden["cases"]) {
        const std::string symbol = c["symbol"], window = c["window"];
        SCOPED_TRACE(window + " " + (symbol.empty() ? "all" : symbol));
        const Duration w = *parse_duration(window);
        const auto rows = rolling_metrics(*log_, {.symbol = symbol}, std::span(&w, 1));
        const auto& m = row(rows, symbol).metrics;
        EXPECT_EQ(m.predictions, c["predictions"].get<std::size_t>());
        EXPECT_EQ(m.resolved, c["resolved"].get<std::size_t>());
        expect_near(m.accuracy, c["accuracy"], "accuracy");
        expect_near(m.macro_f1, c["macro_f1"], "macro_f1");
        expect_near(m.log_loss, c["log_loss"], "log_loss");
        expect_near(m.brier, c["brier"], "brier");
        expect_near(m.ece, c["ece"], "ece");
        for (std::size_t k = 0; k < kClasses; ++k) {
            expect_near(m.classes[k].precision, c["precision"][k], "precision " + std::to_string(k));
            expect_near(m.classes[k].recall, c["recall"][k], "recall " + std::to_string(k));
            expect_near(m.classes[k].f1, c["f1"][k], "f1 " + std::to_string(k));
            EXPECT_EQ(m.classes[k].support, c["support"][k].get<std::size_t>());
            expect_near(m.class_mix[k], c["class_mix"][k], "class_mix " + std::to_string(k));
        }
        ASSERT_EQ(m.reliability.size(), 10u);
        for (std::size_t b = 0; b < 10; ++b) {
            EXPECT_EQ(m.reliability[b].count, c["reliability"][b]["count"].get<std::size_t>()) << "bin " << b;
            expect_near(m.reliability[b].mean_confidence, c["reliability"][b]["mean_confidence"], "bin confidence");
            expect_near(m.reliability[b].accuracy, c["reliability"][b]["accuracy"], "bin accuracy");
        }
    }
}

// The same numbers by hand, for symbol A over 24 h. Realized (h = 1, 1%):
// 100->102 UP, 102->101.5 STABLE, 101.5->100 DOWN, 100->100.5 STABLE, 100.5->98 DOWN,
// 98->99.5 UP, 99.5->99.5 STABLE, 99.5->101 UP; bar 8 pending.
// Predicted: UP, STABLE, STABLE, UP, DOWN, UP, STABLE, DOWN (+ STABLE pending).
// Correct: bars 0, 1, 4, 5, 6 -> 5/8. DOWN: 1 of 2 predicted, 1 of 2 true -> F1 0.5;
// STABLE: 2 of 3, 2 of 3 -> 2/3; UP: 2 of 3, 2 of 3 -> 2/3; macro (0.5 + 4/3) / 3.
// Mix over all 9: DOWN 2, STABLE 4, UP 3.
TEST_F(ReplayedStream, HandCheckedSymbolA) {
    const Duration day = 24 * kHour;
    const auto rows = rolling_metrics(*log_, {.model = "gbdt", .symbol = "A"}, std::span(&day, 1));
    ASSERT_EQ(rows.size(), 1u);
    const auto& m = rows[0].metrics;
    EXPECT_EQ(m.predictions, 9u);
    EXPECT_EQ(m.resolved, 8u);
    EXPECT_DOUBLE_EQ(m.accuracy, 5.0 / 8);
    EXPECT_DOUBLE_EQ(m.classes[0].f1, 0.5);
    EXPECT_DOUBLE_EQ(m.classes[1].f1, 2.0 / 3);
    EXPECT_DOUBLE_EQ(m.classes[2].precision, 2.0 / 3);
    EXPECT_NEAR(m.macro_f1, (0.5 + 4.0 / 3) / 3, 1e-15);
    EXPECT_DOUBLE_EQ(m.class_mix[0], 2.0 / 9);
    EXPECT_DOUBLE_EQ(m.class_mix[1], 4.0 / 9);
    EXPECT_EQ(rows[0].key.version, 3);
    EXPECT_EQ(rows[0].end, *parse_iso8601("2024-01-02T00:08:00Z"));
}

TEST_F(ReplayedStream, OneRowForAllSymbolsAndOnePerSymbolPerWindow) {
    const std::vector<Duration> windows = {24 * kHour, 168 * kHour};
    const auto rows = rolling_metrics(*log_, {}, windows);
    ASSERT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[0].symbol, "");
    EXPECT_EQ(rows[1].symbol, "A");
    EXPECT_EQ(rows[2].symbol, "B");
    EXPECT_EQ(rows[3].window, 168 * kHour);
    EXPECT_TRUE(rolling_metrics(*log_, {.model = "lstm"}, windows).empty());
    const auto j = to_json(rows[1]);
    EXPECT_EQ(j["symbol"], "A");
    EXPECT_EQ(j["window"], "1d");
    EXPECT_EQ(j["metrics"]["resolved"], 8);
    EXPECT_EQ(j["metrics"]["classes"]["down"]["support"], 2);
}

TEST(Metrics, NothingResolvedIsNaNNotZero) {
    LoggedPrediction row;
    row.prediction.symbol = "A";
    const std::vector<LoggedPrediction> rows = {row};
    const auto m = compute_metrics(rows);
    EXPECT_EQ(m.predictions, 1u);
    EXPECT_EQ(m.resolved, 0u);
    EXPECT_TRUE(std::isnan(m.accuracy));
    EXPECT_TRUE(std::isnan(m.log_loss));
    EXPECT_TRUE(to_json(m)["accuracy"].is_null());
    EXPECT_DOUBLE_EQ(m.class_mix[1], 1.0);
}

TEST(Metrics, ZeroProbabilityOfTheTruthIsClipped) {
    LoggedPrediction row;
    row.prediction.cls = 2;
    row.outcome = 0;
    row.prediction.probs = {0.0f, 0.0f, 1.0f};
    const std::vector<LoggedPrediction> rows = {row};
    EXPECT_NEAR(compute_metrics(rows).log_loss, -std::log(1e-15), 1e-9);
    EXPECT_DOUBLE_EQ(compute_metrics(rows).brier, 2.0);
}

}  // namespace
