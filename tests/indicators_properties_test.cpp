// Properties every registered indicator must have, checked on each one with its
// default parameters: stream == batch whatever the chunking, reset == fresh,
// save/restore round trip, no lookahead, invalid bars never reach the state,
// peek() leaves the state alone, and the first value appears exactly at lookback().
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "indicators/impl.hpp"
#include "indicators/indicator.hpp"
#include "support/series.hpp"

namespace pricecast::indicators {
namespace {

using Columns = std::vector<std::vector<double>>;

// Bitwise equality, treating NaN == NaN.
void expect_same(const Columns& a, const Columns& b, std::size_t upto = SIZE_MAX) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        const std::size_t n = std::min({a[k].size(), b[k].size(), upto});
        if (upto == SIZE_MAX) {
            ASSERT_EQ(a[k].size(), b[k].size());
        }
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(std::memcmp(&a[k][i], &b[k][i], sizeof(double)), 0)
                << "output " << k << " bar " << i << ": " << a[k][i] << " vs " << b[k][i];
    }
}

const std::vector<Bar>& series() {
    static const auto bars = test::synthetic_bars(1200, 3, 50.0);
    return bars;
}

std::vector<std::string> names() {
    std::vector<std::string> n;
    for (const auto& s : registry()) n.push_back(s.name);
    return n;
}

class Properties : public testing::TestWithParam<std::string> {
protected:
    std::unique_ptr<Indicator> fresh() const { return make(GetParam()); }
    Columns batch() const {
        auto ind = fresh();
        return compute(*ind, series());
    }
};

TEST_P(Properties, ChunkedStreamEqualsBatch) {
    const Columns whole = batch();
    const std::size_t n = series().size();
    for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 13u, 100u, 1200u}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        auto ind = fresh();
        Columns got;
        for (std::size_t i = 0; i < n; i += chunk)
            compute(*ind, std::span(series()).subspan(i, std::min(chunk, n - i)), got);
        expect_same(got, whole);
    }
}

TEST_P(Properties, ResetThenReplayEqualsFresh) {
    auto ind = fresh();
    compute(*ind, std::span(series()).first(700));
    ind->reset();
    EXPECT_EQ(ind->bars_seen(), 0u);
    EXPECT_FALSE(ind->ready());
    expect_same(compute(*ind, series()), batch());
}

TEST_P(Properties, SaveRestoreContinueEqualsUninterrupted) {
    const Columns whole = batch();
    for (std::size_t cut : {0u, 1u, 17u, 333u, 1199u}) {
        SCOPED_TRACE("cut " + std::to_string(cut));
        auto first = fresh();
        Columns got;
        compute(*first, std::span(series()).first(cut), got);
        StateWriter w;
        first->save(w);
        auto second = fresh();
        compute(*second, std::span(series()).first(50));  // state that restore must overwrite
        StateReader r(w.bytes());
        second->restore(r);
        EXPECT_TRUE(r.done());
        compute(*second, std::span(series()).subspan(cut), got);
        expect_same(got, whole);
    }
}

TEST_P(Properties, RestoreRejectsOtherIndicatorsState) {
    auto ind = fresh();
    StateWriter w;
    make(GetParam() == "sma" ? "ema" : "sma")->save(w);
    StateReader r(w.bytes());
    EXPECT_THROW(ind->restore(r), StateError);
}

// A snapshot written with another layout of an indicator's fields (the
// version after the name) is refused rather than restored into wrong fields.
TEST_P(Properties, RestoreRejectsAnotherStateVersion) {
    auto ind = fresh();
    compute(*ind, std::span(series()).first(40));
    StateWriter w;
    ind->save(w);
    std::string bytes = w.bytes();
    const std::size_t version_at = sizeof(std::uint32_t) + ind->spec().name.size();
    ASSERT_GT(bytes.size(), version_at);
    bytes[version_at] = static_cast<char>(bytes[version_at] + 1);
    StateReader r(bytes);
    try {
        fresh()->restore(r);
        ADD_FAILURE() << "restored a snapshot of another state version";
    } catch (const StateError& e) {
        EXPECT_NE(std::string(e.what()).find("state version"), std::string::npos) << e.what();
    }
}

TEST_P(Properties, FutureBarsNeverChangePastValues) {
    const Columns whole = batch();
    for (std::size_t t : {10u, 250u, 800u}) {
        auto bars = series();
        // Replace the future with a different series at another price level.
        auto other = test::synthetic_bars(bars.size() - t - 1, 99, bars[t].close * 1.7);
        std::copy(other.begin(), other.end(), bars.begin() + static_cast<std::ptrdiff_t>(t + 1));
        auto ind = fresh();
        expect_same(compute(*ind, bars), whole, t + 1);
    }
}

TEST_P(Properties, InvalidBarsAreRejectedBeforeState) {
    const Columns whole = batch();
    auto ind = fresh();
    Columns got(whole.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i = 0; i < series().size(); ++i) {
        if (i % 37 == 5) {
            for (int kind = 0; kind < 6; ++kind) {
                Bar bad = series()[i];
                switch (kind) {
                    case 0: bad.close = nan; break;
                    case 1: bad.high = std::numeric_limits<double>::infinity(); break;
                    case 2: bad.low = -1; break;
                    case 3: bad.high = bad.low * 0.5; break;
                    case 4: bad.volume = -3; break;
                    case 5: bad.open = 0; break;
                }
                EXPECT_FALSE(ind->update(bad)) << "kind " << kind;
            }
        }
        ASSERT_TRUE(ind->update(series()[i]));
        for (std::size_t k = 0; k < got.size(); ++k) got[k].push_back(ind->ready() ? ind->value(k) : nan);
    }
    expect_same(got, whole);
}

TEST_P(Properties, PeekShowsNextValueWithoutChangingState) {
    auto ind = fresh();
    const Columns whole = batch();
    for (std::size_t i = 0; i < series().size(); ++i) {
        const auto peeked = ind->peek(series()[i]);
        ASSERT_EQ(ind->bars_seen(), i);
        ind->update(series()[i]);
        if (i % 50 == 0 || i == static_cast<std::size_t>(ind->lookback())) {
            for (std::size_t k = 0; k < peeked.size(); ++k)
                ASSERT_EQ(std::memcmp(&peeked[k], &whole[k][i], sizeof(double)), 0) << "bar " << i;
        }
    }
}

TEST_P(Properties, FirstValueExactlyAtLookback) {
    auto ind = fresh();
    const auto lb = static_cast<std::size_t>(ind->lookback());
    ASSERT_LT(lb, series().size());
    for (std::size_t i = 0; i < series().size(); ++i) {
        ind->update(series()[i]);
        ASSERT_EQ(ind->ready(), i >= lb) << "bar " << i;
        if (!ind->ready()) {
            for (double v : ind->values()) ASSERT_TRUE(std::isnan(v)) << "bar " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(All, Properties, testing::ValuesIn(names()), [](const auto& info) { return info.param; });

TEST(Registry, ParsesReferences) {
    auto ref = parse("sma(5)");
    EXPECT_EQ(ref.canonical(), "sma(5)");
    EXPECT_EQ(parse(" EMA ( 12 ) ").canonical(), "ema(12)");
    EXPECT_EQ(parse("sma").params, Params{30});
    EXPECT_THROW(parse("nosuch(3)"), IndicatorError);
    EXPECT_THROW(parse("sma(1)"), IndicatorError);       // below TA-Lib's minimum
    EXPECT_THROW(parse("sma(2.5)"), IndicatorError);     // integer parameter
    EXPECT_THROW(parse("sma(5,6)"), IndicatorError);     // too many
    EXPECT_THROW(parse("sma(x)"), IndicatorError);
    EXPECT_THROW(parse("sma(5"), IndicatorError);
    EXPECT_THROW(parse("sma(5).nope"), IndicatorError);
    EXPECT_EQ(parse("sma(5).real").output, 0);
}

std::string number(double v) {
    return v == std::floor(v) && std::abs(v) < 1e15 ? fmt::format("{}", static_cast<long long>(v)) : fmt::format("{}", v);
}

// A value just outside each end of every parameter's range is refused with an
// error naming the parameter and its range; both ends themselves are accepted.
TEST(Registry, OutOfRangeParametersNameParameterAndRange) {
    for (const auto& spec : registry()) {
        for (std::size_t i = 0; i < spec.params.size(); ++i) {
            const ParamSpec& p = spec.params[i];
            SCOPED_TRACE(spec.name + "." + p.name);
            auto ref = [&](double v) {
                std::string r = spec.name + "(";
                for (std::size_t j = 0; j < spec.params.size(); ++j) {
                    if (j) r += ',';
                    r += fmt::format("{}", j == i ? v : spec.params[j].default_value);
                }
                r += ')';
                return r;
            };
            const double step = p.integer ? 1.0 : std::max(std::abs(p.max - p.min) * 0.01, std::abs(p.min) * 2);
            for (double bad : {p.min - std::max(step, 1e-3), p.max + std::max(step, std::abs(p.max) * 2)}) {
                try {
                    parse(ref(bad));
                    ADD_FAILURE() << ref(bad) << " was accepted";
                } catch (const IndicatorError& e) {
                    const std::string want = p.name + " must be in [" + number(p.min) + ", " + number(p.max) + "]";
                    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what() << " lacks " << want;
                }
            }
            EXPECT_NO_THROW(parse(ref(p.min)));
            EXPECT_NO_THROW(parse(ref(p.max)));
        }
    }
}

// Every MA type TA-Lib lists (0..8) works wherever an matype is accepted.
TEST(Registry, EveryMaTypeWorksWhereverAnMaTypeIsAccepted) {
    for (const auto& spec : registry()) {
        for (std::size_t i = 0; i < spec.params.size(); ++i) {
            if (spec.params[i].name.find("matype") == std::string::npos) continue;
            for (int t = 0; t <= 8; ++t) {
                Params params;
                for (const auto& p : spec.params) params.push_back(p.default_value);
                params[i] = t;
                SCOPED_TRACE(spec.name + "." + spec.params[i].name + "=" + std::to_string(t));
                std::unique_ptr<Indicator> ind;
                ASSERT_NO_THROW(ind = spec.make(params));
                compute(*ind, series());
                EXPECT_TRUE(ind->ready());
            }
        }
    }
}

TEST(Registry, HasEveryIndicatorTheIssueNames) {
    for (const char* name :
         {"sma", "ema", "macd", "rsi", "bbands", "wma", "dema", "tema", "trima", "kama", "t3", "midpoint", "midprice",
          "sar", "stddev", "var", "linearreg", "linearreg_slope", "linearreg_angle", "linearreg_intercept", "tsf",
          "correl", "beta", "adx", "adxr", "dx", "plus_di", "minus_di", "plus_dm", "minus_dm", "aroon", "aroonosc",
          "apo", "ppo", "bop", "cci", "cmo", "mfi", "mom", "roc", "rocp", "rocr", "stoch", "stochf", "stochrsi", "trix",
          "ultosc", "willr", "atr", "natr", "trange", "ad", "adosc", "obv", "avgprice", "medprice", "typprice",
          "wclprice", "cdldoji", "cdlhammer", "cdlengulfing", "cdlharami", "cdlshootingstar", "cdlhangingman",
          "cdlinvertedhammer", "cdlmorningstar", "cdleveningstar", "cdl3whitesoldiers", "cdl3blackcrows",
          "cdlmarubozu", "cdlspinningtop", "cdldragonflydoji", "cdlgravestonedoji", "macdext", "macdfix", "sarext",
          "mama"})
        EXPECT_NE(find(name), nullptr) << name;
}

// The window extremes index their blocks by a restored position: a state whose
// sizes do not fit together (a damaged snapshot) is refused, never used.
TEST(WindowExtremes, ADamagedStateIsRefused) {
    auto refused = [](auto window, auto&&... fields) {
        StateWriter out;
        out(fields...);
        StateReader in(out.bytes());
        EXPECT_THROW(window.fields(in), StateError);
    };
    const std::vector<double> block(5), suffix(6), pairs(10), pair_suffix(12), short_suffix(2);
    const std::vector<std::size_t> index(6);
    const double x = 1;
    const std::array<double, 2> xx{1, 1};
    const std::size_t n = 9;
    refused(HighLowWindow(5), pairs, short_suffix, std::size_t{0}, xx, xx);
    refused(HighLowWindow(5), pairs, pair_suffix, std::size_t{5}, xx, xx);  // pos_ past the block
    refused(HighLowWindow(5), block, pair_suffix, std::size_t{0}, xx, xx);  // a block of 5, not of 5 pairs
    refused(WindowExtreme<true>(5), block, suffix, std::vector<std::size_t>(3), std::size_t{0}, x, std::size_t{0}, n);
    refused(WindowExtreme<false>(5), block, suffix, index, std::size_t{7}, x, std::size_t{0}, n);
    StateWriter good;
    good(pairs, pair_suffix, std::size_t{4}, xx, xx);
    StateReader in(good.bytes());
    HighLowWindow w(5);
    EXPECT_NO_THROW(w.fields(in));
}

}  // namespace
}  // namespace pricecast::indicators
