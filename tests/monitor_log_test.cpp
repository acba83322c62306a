// Prediction log (idempotent append, outcomes, queries) and the outcome
// resolver (horizon, gaps, late prices, any arrival order, save/restore).
#include <atomic>
#include <filesystem>
#include <thread>
#include <string>

#include <gtest/gtest.h>

#include "core/state.hpp"
#include "monitor/monitor.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace pricecast;
using namespace pricecast::monitor;

namespace {

constexpr Timestamp kT0 = 1'704'153'600 * kSecond;

Prediction pred(const std::string& symbol, int bar, int cls = 1, double close = 100, const std::string& model = "gbdt",
                int version = 1) {
    Prediction p;
    p.symbol = symbol;
    p.bar_time = kT0 + bar * kMinute;
    p.feature_time = p.bar_time;
    p.model = model;
    p.version = version;
    p.cls = cls;
    p.probs = {0.2f, 0.5f, 0.3f};
    p.confidence = 0.5;
    p.close = close;
    return p;
}

Bar bar(const std::string& symbol, int index, double close) {
    Bar b;
    b.symbol = symbol;
    b.interval = kMinute;
    b.close_time = kT0 + index * kMinute;
    b.open_time = b.close_time - kMinute;
    b.open = b.high = b.low = b.close = close;
    b.volume = 1;
    return b;
}

class PredictionLogTest : public ::testing::Test {
protected:
    test::TempDir dir_{"monitor-log"};
};

TEST_F(PredictionLogTest, AppendIsIdempotentPerKey) {
    PredictionLog log(PredictionLog::default_path(dir_.path()));
    EXPECT_TRUE(log.append(pred("ACME", 1)));
    EXPECT_FALSE(log.append(pred("ACME", 1)));                   // redelivered
    EXPECT_TRUE(log.append(pred("ACME", 1, 1, 100, "gbdt", 2)));  // another version
    auto challenger = pred("ACME", 1);
    challenger.slot = "challenger";
    EXPECT_TRUE(log.append(challenger));
    const std::vector<Prediction> batch = {pred("ACME", 2), pred("ACME", 1), pred("BOLT", 2)};
    EXPECT_EQ(log.append(batch), 2u);
    EXPECT_EQ(log.query({}).size(), 5u);
}

TEST_F(PredictionLogTest, RoundTripsEveryField) {
    PredictionLog log(PredictionLog::default_path(dir_.path()));
    auto p = pred("ACME", 3, 2, 101.25);
    p.probs = {0.125f, 0.25f, 0.625f};
    p.latency = 1234;
    p.published_at = kT0 + 99;
    p.feature_time = kT0 + 7;
    log.append(p);
    const auto rows = log.query({});
    ASSERT_EQ(rows.size(), 1u);
    const auto& q = rows[0].prediction;
    EXPECT_EQ(q.symbol, "ACME");
    EXPECT_EQ(q.bar_time, p.bar_time);
    EXPECT_EQ(q.feature_time, p.feature_time);
    EXPECT_EQ(q.model, "gbdt");
    EXPECT_EQ(q.version, 1);
    EXPECT_EQ(q.slot, "champion");
    EXPECT_EQ(q.cls, 2);
    EXPECT_EQ(q.probs, p.probs);
    EXPECT_EQ(q.close, 101.25);
    EXPECT_EQ(q.latency, 1234);
    EXPECT_EQ(q.published_at, kT0 + 99);
    EXPECT_FALSE(rows[0].outcome);
}

TEST_F(PredictionLogTest, OutcomesAndQueries) {
    PredictionLog log(PredictionLog::default_path(dir_.path()));
    log.append(pred("ACME", 1));
    log.append(pred("ACME", 1, 0, 100, "rf"));
    log.append(pred("ACME", 2));
    log.append(pred("BOLT", 2));
    EXPECT_EQ(log.set_outcome({"ACME", kT0 + kMinute, 2, 103, kT0 + 2 * kMinute}), 2u);  // both models of the bar
    EXPECT_EQ(log.query({.resolved_only = true}).size(), 2u);
    EXPECT_EQ(log.pending().size(), 2u);
    EXPECT_EQ(log.query({.model = "rf"}).size(), 1u);
    EXPECT_EQ(log.query({.model = "gbdt", .symbol = "ACME"}).size(), 2u);
    EXPECT_EQ(log.query({.from = kT0 + kMinute}).size(), 2u);  // from is exclusive
    EXPECT_EQ(log.query({.version = 2}).size(), 0u);
    const auto r = log.query({.model = "rf"})[0];
    ASSERT_TRUE(r.outcome);
    EXPECT_EQ(*r.outcome, 2);
    EXPECT_EQ(r.close_after, 103);
    EXPECT_EQ(log.models().size(), 2u);
    EXPECT_EQ(*log.latest_bar_time(), kT0 + 2 * kMinute);
}

TEST_F(PredictionLogTest, SurvivesReopenAndSharesTheFile) {
    const auto file = PredictionLog::default_path(dir_.path());
    {
        PredictionLog log(file);
        log.append(pred("ACME", 1));
    }
    PredictionLog a(file), b(file);
    a.append(pred("ACME", 2));
    EXPECT_EQ(b.query({}).size(), 2u);
}

TEST_F(PredictionLogTest, BadPredictionsNameTheField) {
    PredictionLog log(PredictionLog::default_path(dir_.path()));
    auto expect_error = [&](Prediction p, const std::string& field) {
        try {
            log.append(p);
            ADD_FAILURE() << "accepted a bad " << field;
        } catch (const MonitorError& e) {
            EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
        }
    };
    auto p = pred("", 1);
    expect_error(p, "symbol");
    p = pred("ACME", 1), p.model.clear();
    expect_error(p, "model");
    p = pred("ACME", 1), p.cls = 3;
    expect_error(p, "cls");
    p = pred("ACME", 1), p.probs[1] = std::nanf("");
    expect_error(p, "probs");
    p = pred("ACME", 1, 1, -1);
    expect_error(p, "close");
    EXPECT_TRUE(log.query({}).empty());
    EXPECT_THROW(log.set_outcome({"ACME", kT0, 5, 1, 1}), MonitorError);
}

TEST_F(PredictionLogTest, ThreadsAppendingTheSameStreamAddEachRowOnce) {
    PredictionLog log(PredictionLog::default_path(dir_.path()));
    std::atomic<std::size_t> added{0};
    auto writer = [&] {
        for (int i = 0; i < 200; ++i) added += log.append(pred("ACME", i)) ? 1 : 0;
    };
    std::thread a(writer), b(writer);
    a.join();
    b.join();
    EXPECT_EQ(added.load(), 200u);
    EXPECT_EQ(log.query({}).size(), 200u);
}

TEST(PredictionLogOpen, UnwritablePathIsAClearError) {
    EXPECT_THROW(PredictionLog(fs::path("/proc/pricecast-no/predictions.sqlite")), std::exception);
}

// ---- resolver -------------------------------------------------------------------

struct Collected {
    std::vector<Outcome> outcomes;
    OutcomeResolver::Sink sink() {
        return [this](const Outcome& o) { outcomes.push_back(o); };
    }
};

TEST(LabelRule, SameAsTheFixedThresholdLabeler) {
    const auto r = LabelRule::fixed(1, 0.01);
    EXPECT_EQ(realized_class(100, 101.01, r), 2);
    EXPECT_EQ(realized_class(100, 100.99, r), 1);
    EXPECT_EQ(realized_class(100, 99.01, r), 1);
    EXPECT_EQ(realized_class(100, 98.99, r), 0);
    EXPECT_EQ(realized_class(100, 100, LabelRule::fixed(1, 0)), 1);
    EXPECT_THROW(OutcomeResolver({.horizon = 0}, {}), MonitorError);
    EXPECT_THROW(OutcomeResolver(LabelRule::fixed(1, -0.1), {}), MonitorError);
    EXPECT_THROW(OutcomeResolver({.horizon = 1, .down = 0.01, .up = -0.01}, {}), MonitorError);
}

// A volatility rule cuts the return at a multiple of the std of the
// vol_window one-bar returns up to the predicted-from bar; a prediction
// without those bars is dropped, counted as unscored, not left pending.
TEST(OutcomeResolver, VolatilityRuleScalesByTheWindowUpToThePredictedBar) {
    Collected c;
    OutcomeResolver r({.horizon = 1, .down = -0.5, .up = 0.5, .vol_window = 3}, c.sink());
    const double close[] = {100, 101, 100, 101, 100, 101, 100.6};
    for (int i = 0; i < 7; ++i) {
        r.on_bar(bar("ACME", i, close[i]));
        r.on_prediction(pred("ACME", i, 1, close[i]));
    }
    // Bars 0-2 lack three earlier returns. At bar 3 and after, the std of the
    // last three returns (+-1%) is about 1.15%, so the cut is about +-0.57%.
    EXPECT_EQ(r.stats().unscored, 3u);
    ASSERT_EQ(c.outcomes.size(), 3u);
    EXPECT_EQ(c.outcomes[0].cls, 0) << "bar 3 -> 4: -1%";
    EXPECT_EQ(c.outcomes[1].cls, 2) << "bar 4 -> 5: +1%";
    EXPECT_EQ(c.outcomes[2].cls, 1) << "bar 5 -> 6: -0.40%";
    EXPECT_EQ(r.pending(), 1u);
}

TEST(OutcomeResolver, ResolvesAfterHorizonBars) {
    Collected c;
    OutcomeResolver r(LabelRule::fixed(3, 0.01), c.sink());
    r.on_bar(bar("ACME", 0, 100));
    r.on_prediction(pred("ACME", 0, 1, 100));
    r.on_bar(bar("ACME", 1, 105));
    r.on_bar(bar("ACME", 2, 90));
    EXPECT_TRUE(c.outcomes.empty());
    EXPECT_EQ(r.pending(), 1u);
    r.on_bar(bar("ACME", 3, 102));
    ASSERT_EQ(c.outcomes.size(), 1u);
    EXPECT_EQ(c.outcomes[0].cls, 2);  // 102 / 100 - 1 = 2% > 1%
    EXPECT_EQ(c.outcomes[0].close_after, 102);
    EXPECT_EQ(c.outcomes[0].resolved_at, kT0 + 3 * kMinute);
    EXPECT_EQ(r.pending(), 0u);
}

// Labels count bars, as the trainer's do (models::row_returns): a gap (a
// weekend, a halt) is stepped over, not waited for. Before, a weekday series
// with horizon >= 5 resolved no prediction at all.
TEST(OutcomeResolver, GapIsSteppedOverAsInTraining) {
    Collected c;
    OutcomeResolver r(LabelRule::fixed(2, 0.01), c.sink());
    r.on_bar(bar("ACME", 0, 100));
    r.on_prediction(pred("ACME", 0, 1, 100));
    r.on_bar(bar("ACME", 3, 95));  // bars 1 and 2 never come: the market was closed
    EXPECT_TRUE(c.outcomes.empty());
    r.on_bar(bar("ACME", 4, 103));
    ASSERT_EQ(c.outcomes.size(), 1u);
    EXPECT_EQ(c.outcomes[0].cls, 2) << "the second bar after bar 0 is bar 4: +3%";
    EXPECT_EQ(c.outcomes[0].close_after, 103);
    EXPECT_EQ(c.outcomes[0].resolved_at, kT0 + 4 * kMinute);
}

// The feature pipeline drops a bar older than its symbol's newest, so the
// labels do too: an outcome never depends on the order bars arrived in.
TEST(OutcomeResolver, BarOlderThanTheNewestIsNotUsed) {
    Collected c;
    OutcomeResolver r(LabelRule::fixed(1, 0.01), c.sink());
    r.on_bar(bar("ACME", 0, 100));
    r.on_prediction(pred("ACME", 0, 1, 100));
    r.on_prediction(pred("ACME", 1, 1, 100));  // its bar comes after bar 3: never
    r.on_bar(bar("ACME", 3, 95));
    r.on_bar(bar("ACME", 1, 120));  // late
    r.on_bar(bar("ACME", 3, 95));   // a redelivery
    ASSERT_EQ(c.outcomes.size(), 1u);
    EXPECT_EQ(c.outcomes[0].bar_time, kT0);
    EXPECT_EQ(c.outcomes[0].close_after, 95);
    EXPECT_EQ(r.stats().bad_bars, 1u) << "the late bar, not the redelivery";
    EXPECT_EQ(r.stats().unscored, 1u) << "bar 1's prediction: neither its bar nor bar 2 came before bar 3";
    EXPECT_EQ(r.pending(), 0u);
}

TEST(OutcomeResolver, PredictionAfterItsBarsAndPerSymbol) {
    Collected c;
    OutcomeResolver r(LabelRule::fixed(1, 0.01), c.sink());
    r.on_bar(bar("ACME", 1, 100.5));
    r.on_bar(bar("BOLT", 1, 50));
    r.on_prediction(pred("ACME", 0, 1, 100));
    r.on_prediction(pred("BOLT", 1, 1, 50));
    ASSERT_EQ(c.outcomes.size(), 1u);
    EXPECT_EQ(c.outcomes[0].symbol, "ACME");
    EXPECT_EQ(c.outcomes[0].cls, 1);
    r.on_bar(bar("ACME", 2, 10));  // another symbol's bar resolves nothing of BOLT
    EXPECT_EQ(c.outcomes.size(), 1u);
    r.on_bar(bar("BOLT", 2, 40));
    ASSERT_EQ(c.outcomes.size(), 2u);
    EXPECT_EQ(c.outcomes[1].cls, 0);
}

TEST(OutcomeResolver, BadBarsAreCountedNotUsed) {
    Collected c;
    OutcomeResolver r(LabelRule::fixed(1, 0.01), c.sink());
    r.on_prediction(pred("ACME", 0, 1, 100));
    r.on_bar(bar("ACME", 1, std::nan("")));
    r.on_bar(bar("ACME", 1, -5));
    EXPECT_TRUE(c.outcomes.empty());
    EXPECT_EQ(r.stats().bad_bars, 2u);
    EXPECT_THROW(r.on_prediction(pred("ACME", 1, 1, 0)), MonitorError);
}

TEST(OutcomeResolver, SaveRestoreContinuesTheStream) {
    auto feed = [](OutcomeResolver& r, int from, int to) {
        for (int i = from; i < to; ++i) {
            r.on_prediction(pred("ACME", i, 1, 100 + i));
            r.on_bar(bar("ACME", i, 100 + i));
        }
    };
    Collected whole, split;
    OutcomeResolver a(LabelRule::fixed(3, 0.02), whole.sink());
    feed(a, 0, 20);
    OutcomeResolver b(LabelRule::fixed(3, 0.02), split.sink());
    feed(b, 0, 9);
    const auto bytes = b.save();
    OutcomeResolver c(LabelRule::fixed(3, 0.02), split.sink());
    c.restore(bytes);
    EXPECT_EQ(c.pending(), b.pending());
    feed(c, 9, 20);
    ASSERT_EQ(split.outcomes.size(), whole.outcomes.size());
    for (std::size_t i = 0; i < whole.outcomes.size(); ++i) {
        EXPECT_EQ(split.outcomes[i].bar_time, whole.outcomes[i].bar_time);
        EXPECT_EQ(split.outcomes[i].cls, whole.outcomes[i].cls);
    }
    OutcomeResolver other(LabelRule::fixed(4, 0.02), {});
    EXPECT_THROW(other.restore(bytes), StateError);
    EXPECT_THROW(c.restore(bytes.substr(0, bytes.size() / 2)), StateError);
}

TEST_F(PredictionLogTest, ResolverWritesOutcomesIntoTheLog) {
    PredictionLog log(PredictionLog::default_path(dir_.path()));
    OutcomeResolver r(LabelRule::fixed(1, 0.01), [&](const Outcome& o) { log.set_outcome(o); });
    for (const auto& p : {pred("ACME", 0, 2, 100), pred("ACME", 0, 0, 100, "rf"), pred("ACME", 1, 1, 102)}) {
        log.append(p);
        r.on_prediction(p);
    }
    r.on_bar(bar("ACME", 1, 102));
    const auto rows = log.query({.resolved_only = true});
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) EXPECT_EQ(*row.outcome, 2);
    EXPECT_EQ(log.pending().size(), 1u);
}

}  // namespace
