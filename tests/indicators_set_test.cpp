// IndicatorSet computes state several members share once per bar and passes
// each bar along a chain of members. None of that may show in the values:
// every member of a set must equal the same indicator run alone, bit for bit,
// through invalid bars, copies, snapshots, resets and late additions.
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "core/state.hpp"
#include "indicators/indicator.hpp"
#include "support/series.hpp"

namespace pricecast::indicators {
namespace {

// Every registered indicator at its defaults, then variants that share some
// kernels and not others: other periods, period 1 (the DI's special case),
// the same reference twice, and averages of other types.
std::vector<std::string> references() {
    std::vector<std::string> refs;
    for (const auto& s : registry()) refs.push_back(s.name);
    for (const char* r : {"plus_di(10)", "adx(10)", "adxr(10)", "dx(14)", "minus_dm(1)", "plus_di(1)",
                          "minus_di(1)", "adx(14)", "rsi(14)", "cmo(9)", "stochrsi(14,5,3,1)", "rsi(5)",
                          "apo(12,26,1)", "ppo(12,26,1)", "macdext(12,1,26,1,9,1)", "macdext(12,0,26,1,9,0)",
                          "apo(26,12,0)", "ma(30,1)", "ma(12,0)", "sma(12)", "ema(30)", "linearreg(14)",
                          "tsf(9)", "linearreg_angle(9)", "linearreg_slope(14)", "max(9)", "min(9)", "minmax(9)",
                          "maxindex(9)", "minmaxindex(30)", "aroon(10)", "aroonosc(14)", "natr(10)", "atr(14)",
                          "stoch(5,3,1,3,1)", "stochf(5,3,1)", "stochf(14,3,0)", "willr(5)", "roc(5)", "mom(10)",
                          "rocr100(10)", "stddev(5,1)", "var(5,2)", "midpoint(30)", "cdldoji", "cdlhammer"})
        refs.push_back(r);
    return refs;
}

// The synthetic series with an invalid bar every 97 bars, which both the set
// and the separate objects must refuse without a change of state.
std::vector<Bar> series() {
    auto bars = test::synthetic_bars(1500, 7, 80.0);
    for (std::size_t i = 50; i < bars.size(); i += 97) bars[i].close = std::numeric_limits<double>::quiet_NaN();
    return bars;
}

IndicatorSet make_set() {
    IndicatorSet set;
    for (const auto& r : references()) set.add(parse(r));
    return set;
}

std::vector<std::unique_ptr<Indicator>> make_separate() {
    std::vector<std::unique_ptr<Indicator>> v;
    for (const auto& r : references()) v.push_back(make(r));
    return v;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Each member's outputs and bar count equal the separate object's.
void expect_equal(const IndicatorSet& set, const std::vector<std::unique_ptr<Indicator>>& separate,
                  std::size_t bar) {
    ASSERT_EQ(set.size(), separate.size());
    for (std::size_t i = 0; i < set.size(); ++i) {
        const auto a = set[i].values(), b = separate[i]->values();
        ASSERT_EQ(set[i].bars_seen(), separate[i]->bars_seen()) << references()[i];
        for (std::size_t k = 0; k < a.size(); ++k)
            ASSERT_TRUE(same_bits(a[k], b[k]))
                << references()[i] << " output " << k << " after bar " << bar << ": " << a[k] << " vs " << b[k];
    }
}

void feed(std::vector<std::unique_ptr<Indicator>>& separate, const Bar& b) {
    for (auto& x : separate) x->update(b);
}

TEST(IndicatorSet, EveryMemberEqualsItsIndicatorAloneBarByBar) {
    const auto bars = series();
    auto set = make_set();
    auto separate = make_separate();
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const bool valid = check_bar(bars[i]) == BarProblem::none;
        EXPECT_EQ(set.update(bars[i]), valid) << "bar " << i;
        feed(separate, bars[i]);
        expect_equal(set, separate, i);
    }
}

TEST(IndicatorSet, ACopyContinuesOnItsOwn) {
    const auto bars = series();
    auto set = make_set();
    auto separate = make_separate();
    for (std::size_t i = 0; i < 600; ++i) set.update(bars[i]), feed(separate, bars[i]);
    IndicatorSet copy = set;
    for (std::size_t i = 600; i < bars.size(); ++i) copy.update(bars[i]), feed(separate, bars[i]);
    expect_equal(copy, separate, bars.size() - 1);
    // The original stayed at bar 600, and continues as if never copied.
    auto again = make_separate();
    for (std::size_t i = 0; i < 600; ++i) feed(again, bars[i]);
    expect_equal(set, again, 599);
    for (std::size_t i = 600; i < bars.size(); ++i) set.update(bars[i]);
    expect_equal(set, separate, bars.size() - 1);
}

// A set's members and their windows live in the set's arena: a set moved
// into another outlives the one it came from, the set it replaced is gone
// without touching it, and a moved-from set takes members again.
TEST(IndicatorSet, AMovedSetRunsOnAfterItsSourceAndTargetAreGone) {
    const auto bars = series();
    auto separate = make_separate();
    IndicatorSet moved;
    moved.add(parse("sma(5)"));
    for (std::size_t i = 0; i < 300; ++i) moved.update(bars[i]);
    {
        IndicatorSet source = make_set();
        for (std::size_t i = 0; i < 600; ++i) source.update(bars[i]), feed(separate, bars[i]);
        moved = std::move(source);
        source.add(parse("rsi(14)"));  // a moved-from set makes a new arena
        for (std::size_t i = 0; i < 20; ++i) source.update(bars[i]);
        EXPECT_EQ(source[0].bars_seen(), 20u);
    }
    for (std::size_t i = 600; i < bars.size(); ++i) moved.update(bars[i]), feed(separate, bars[i]);
    expect_equal(moved, separate, bars.size() - 1);
    IndicatorSet built_later(std::move(moved));
    EXPECT_EQ(built_later.size(), separate.size());
}

TEST(IndicatorSet, SaveRestoreContinueEqualsUninterrupted) {
    const auto bars = series();
    for (std::size_t cut : {0u, 1u, 40u, 777u}) {
        SCOPED_TRACE("cut " + std::to_string(cut));
        auto first = make_set();
        for (std::size_t i = 0; i < cut; ++i) first.update(bars[i]);
        StateWriter w;
        first.save(w);
        auto second = make_set();
        StateReader r(w.bytes());
        second.restore(r);
        EXPECT_TRUE(r.done());
        auto separate = make_separate();
        for (std::size_t i = 0; i < bars.size(); ++i) {
            feed(separate, bars[i]);
            if (i >= cut) second.update(bars[i]);
        }
        expect_equal(second, separate, bars.size() - 1);
    }
}

TEST(IndicatorSet, ResetThenReplayEqualsFresh) {
    const auto bars = series();
    auto set = make_set();
    for (std::size_t i = 0; i < 900; ++i) set.update(bars[i]);
    set.reset();
    auto separate = make_separate();
    for (const auto& b : bars) set.update(b), feed(separate, b);
    expect_equal(set, separate, bars.size() - 1);
}

// A member added after bars were fed starts cold: it must not read a kernel
// the others have advanced, and they must not notice it.
TEST(IndicatorSet, AMemberAddedLaterStartsCold) {
    const auto bars = series();
    IndicatorSet set;
    set.add(parse("adx(14)"));
    set.add(parse("linearreg(14)"));
    auto adx = make("adx(14)"), reg = make("linearreg(14)"), di = make("plus_di(14)"), tsf = make("tsf(14)");
    for (std::size_t i = 0; i < 300; ++i) set.update(bars[i]), adx->update(bars[i]), reg->update(bars[i]);
    set.add(parse("plus_di(14)"));
    set.add(parse("tsf(14)"));
    for (std::size_t i = 300; i < bars.size(); ++i) {
        set.update(bars[i]);
        for (auto* x : {adx.get(), reg.get(), di.get(), tsf.get()}) x->update(bars[i]);
        ASSERT_TRUE(same_bits(set[0].value(), adx->value())) << "bar " << i;
        ASSERT_TRUE(same_bits(set[1].value(), reg->value())) << "bar " << i;
        ASSERT_TRUE(same_bits(set[2].value(), di->value())) << "bar " << i;
        ASSERT_TRUE(same_bits(set[3].value(), tsf->value())) << "bar " << i;
    }
}

// The same indicator added twice before the first bar is one object (a
// schema that selects BBANDS' upper and lower band computes BBANDS once);
// added after bars, it is a new one that starts cold.
TEST(IndicatorSet, TheSameIndicatorTwiceIsOneObjectUntilBarsArrive) {
    const auto bars = series();
    IndicatorSet set;
    set.add(parse("bbands(20,2,2).upper"));
    set.add(parse("bbands(20,2,2,0).lower"));
    set.add(parse("bbands(20,2,3)"));
    EXPECT_EQ(&set[0], &set[1]);
    EXPECT_NE(&set[0], &set[2]);
    auto alone = make("bbands(20,2,2,0)"), late = make("bbands(20,2,2,0)");
    for (std::size_t i = 0; i < 200; ++i) set.update(bars[i]), alone->update(bars[i]);
    set.add(parse("bbands(20,2,2)"));
    EXPECT_NE(&set[3], &set[0]);
    for (std::size_t i = 200; i < bars.size(); ++i) {
        set.update(bars[i]), alone->update(bars[i]), late->update(bars[i]);
        for (std::size_t k = 0; k < 3; ++k) {
            ASSERT_TRUE(same_bits(set[1].value(k), alone->value(k))) << "bar " << i;
            ASSERT_TRUE(same_bits(set[3].value(k), late->value(k))) << "bar " << i;
        }
    }
    // A copy keeps the members that are one object as one.
    const IndicatorSet copy = set;
    EXPECT_EQ(&copy[0], &copy[1]);
    EXPECT_NE(&copy[0], &set[0]);
}

// A member's clone (as peek() makes) owns its kernels: feeding it leaves the set alone.
TEST(IndicatorSet, AClonedMemberDoesNotTouchTheSet) {
    const auto bars = series();
    auto set = make_set();
    auto separate = make_separate();
    for (std::size_t i = 0; i < 500; ++i) set.update(bars[i]), feed(separate, bars[i]);
    for (std::size_t i = 0; i < set.size(); ++i) {
        auto clone = set[i].clone();
        for (std::size_t j = 500; j < 520; ++j) clone->update(bars[j]);
        (void)set[i].peek(bars[500]);
    }
    expect_equal(set, separate, 499);
    for (std::size_t i = 500; i < bars.size(); ++i) set.update(bars[i]), feed(separate, bars[i]);
    expect_equal(set, separate, bars.size() - 1);
}

}  // namespace
// STOCH's slowk and STOCHF's fastd are one average of fast %K when their %K
// period, average type and period match, and only then; one added after bars
// starts cold. Every member still equals the indicator alone.
TEST(IndicatorSet, StochAndStochfShareOnlyTheSameAverageOfK) {
    const auto bars = series();
    const std::vector<std::string> early{"stoch(5,3,0,3,0)", "stochf(5,3,0)", "stochf(5,4,0)", "stochf(5,3,1)",
                                         "stoch(5,3,1,3,0)", "stoch(9,3,0,3,0)", "stochf(9,3,0)"};
    const std::vector<std::string> late{"stochf(5,3,0)", "stoch(5,3,1,5,1)"};
    IndicatorSet set;
    std::vector<std::unique_ptr<Indicator>> alone;
    for (const auto& r : early) set.add(parse(r)), alone.push_back(make(r));
    for (std::size_t i = 0; i < bars.size(); ++i) {
        if (i == 200)
            for (const auto& r : late) set.add(parse(r)), alone.push_back(make(r));
        set.update(bars[i]);
        feed(alone, bars[i]);
        for (std::size_t m = 0; m < alone.size(); ++m)
            for (std::size_t k = 0; k < 2; ++k)
                ASSERT_TRUE(same_bits(set[m].value(k), alone[m]->value(k))) << m << " output " << k << " bar " << i;
        if (!set[0].ready()) continue;  // STOCH's slowd starts later than slowk
        ASSERT_TRUE(same_bits(set[0].value(0), set[1].value(1))) << "bar " << i;
        ASSERT_TRUE(same_bits(set[3].value(1), set[4].value(0))) << "bar " << i;
    }
}

}  // namespace pricecast::indicators