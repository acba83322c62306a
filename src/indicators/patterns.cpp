// Candlestick patterns with TA-Lib's rules and outputs (+100 / -100 / 0, and
// +-80 where TA-Lib marks a weaker form). To give exactly TA-Lib's output the
// averages of recent candles are kept as TA-Lib keeps them: a running total
// per (setting, candle offset) that starts accumulating at the same bar and is
// updated with the same operations, so every comparison sees the same double.
#include <algorithm>
#include <array>
#include <utility>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

struct Candle {
    double open = 0, high = 0, low = 0, close = 0;
    double body() const noexcept { return std::abs(close - open); }
    double upper() const noexcept { return high - (close >= open ? close : open); }
    double lower() const noexcept { return (close >= open ? open : close) - low; }
    double range() const noexcept { return high - low; }
    int color() const noexcept { return close >= open ? 1 : -1; }
    template <class V>
    void fields(V& v) { v(open, high, low, close); }
    double top() const noexcept { return std::max(open, close); }
    double bottom() const noexcept { return std::min(open, close); }
};

enum class RangeType { real_body, high_low, shadows };

struct CandleSetting {
    RangeType range;
    int period;
    double factor;
};

// TA-Lib's default candle settings (ta_common/ta_global.c, TA_CandleDefaultSettings).
namespace setting {
constexpr CandleSetting body_long{RangeType::real_body, 10, 1.0};
constexpr CandleSetting body_very_long{RangeType::real_body, 10, 3.0};
constexpr CandleSetting body_short{RangeType::real_body, 10, 1.0};
constexpr CandleSetting body_doji{RangeType::high_low, 10, 0.1};
constexpr CandleSetting shadow_long{RangeType::real_body, 0, 1.0};
constexpr CandleSetting shadow_very_long{RangeType::real_body, 0, 2.0};
constexpr CandleSetting shadow_short{RangeType::shadows, 10, 1.0};
constexpr CandleSetting shadow_very_short{RangeType::high_low, 10, 0.1};
constexpr CandleSetting near{RangeType::high_low, 5, 0.2};
constexpr CandleSetting far{RangeType::high_low, 5, 0.6};
constexpr CandleSetting equal{RangeType::high_low, 5, 0.05};
}  // namespace setting

double candle_range(const CandleSetting& s, const Candle& c) noexcept {
    switch (s.range) {
        case RangeType::real_body: return c.body();
        case RangeType::high_low: return c.range();
        case RangeType::shadows: return c.upper() + c.lower();
    }
    return 0;
}

// The last 16 candles, newest first: enough for the longest average a rule
// reads (period 10 at offset 2). A power-of-two ring so indexing is a mask.
// All patterns of a set read one.
class CandleHistory {
public:
    void update(const Candle& c) noexcept {
        head_ = (head_ + 1) & kMask;
        buf_[head_] = c;
    }
    const Candle& operator[](std::size_t ago) const noexcept { return buf_[(head_ - ago) & kMask]; }
    template <class V>
    void fields(V& v) { v(buf_, head_); }

private:
    static constexpr std::size_t kMask = 15;
    std::array<Candle, kMask + 1> buf_{};
    std::size_t head_ = 0;
};

// Each rule gets the recent candles (c[0] newest) and its averages, and
// returns TA-Lib's integer output.
constexpr std::size_t kMaxAverages = 8;
using Candles = CandleHistory;
struct Rule {
    int lookback;
    // (setting, offset), in the order the rule reads them
    std::array<std::pair<CandleSetting, int>, kMaxAverages> averages;
    std::size_t count;
};

// TA-Lib's running totals of a rule's averages: for each, the setting's range
// summed over `period` candles ending `offset` bars back (e.g.
// BodyLongPeriodTotal for candle i-2). Ranges are recomputed from the candle
// history rather than stored: a few subtractions are cheaper than a ring
// buffer per average. a[k].value(candle) reads average k with the rule's
// compile-time setting: the calls are inlined, so the range type, period and
// factor are constants, not loaded and tested on every bar.
template <const Rule* R>
class Averages {
public:
    struct Ref {
        const Averages& all;
        std::size_t k;
        // TA_CANDLEAVERAGE for the candle at this average's offset.
        [[gnu::always_inline]] double value(const Candle& at_offset) const noexcept {
            const CandleSetting& s = R->averages[k].first;
            const double base = s.period != 0 ? all.total[k] / s.period : candle_range(s, at_offset);
            return s.factor * base / (s.range == RangeType::shadows ? 2.0 : 1.0);
        }
    };
    [[gnu::always_inline]] Ref operator[](std::size_t k) const noexcept { return {*this, k}; }
    std::array<double, kMaxAverages> total{};
};

// ---- the rules, transcribed from TA-Lib's ta_CDL*.c -----------------------
using namespace setting;

// Every condition evaluated, without && / ||'s short-circuit. Candle shapes
// are coin tosses, so where the early tests pass often (the hammer family's
// small body, engulfing's colors) a chain of && is a chain of mispredicted
// branches, while the comparisons are cheap. Rules whose first test rarely
// passes (the stars' long body, three candles' colors) keep && and exit early,
// which measured faster. The rules have no side effects: same result.
template <class... B>
bool all(B... conds) noexcept {
    return (static_cast<bool>(conds) & ...);
}
template <class... B>
bool any(B... conds) noexcept {
    return (static_cast<bool>(conds) | ...);
}

template <class A>
int doji(const Candles& c, const A& a, double) { return c[0].body() <= a[0].value(c[0]) ? 100 : 0; }

template <class A>
int hammer(const Candles& c, const A& a, double) {
    return all(c[0].body() < a[0].value(c[0]), c[0].lower() > a[1].value(c[0]), c[0].upper() < a[2].value(c[0]),
               std::min(c[0].close, c[0].open) <= c[1].low + a[3].value(c[1]))
               ? 100
               : 0;
}

template <class A>
int hangingman(const Candles& c, const A& a, double) {
    return all(c[0].body() < a[0].value(c[0]), c[0].lower() > a[1].value(c[0]), c[0].upper() < a[2].value(c[0]),
               std::min(c[0].close, c[0].open) >= c[1].high - a[3].value(c[1]))
               ? -100
               : 0;
}

template <class A>
int shootingstar(const Candles& c, const A& a, double) {
    return all(c[0].body() < a[0].value(c[0]), c[0].upper() > a[1].value(c[0]), c[0].lower() < a[2].value(c[0]),
               c[0].bottom() > c[1].top())
               ? -100
               : 0;
}

template <class A>
int invertedhammer(const Candles& c, const A& a, double) {
    return all(c[0].body() < a[0].value(c[0]), c[0].upper() > a[1].value(c[0]), c[0].lower() < a[2].value(c[0]),
               c[0].top() < c[1].bottom())
               ? 100
               : 0;
}

template <class A>
int engulfing(const Candles& c, const A&, double) {
    const Candle &x = c[0], &p = c[1];
    const bool white = all(x.color() == 1, p.color() == -1,
                           any(all(x.close >= p.open, x.open < p.close), all(x.close > p.open, x.open <= p.close)));
    const bool black = all(x.color() == -1, p.color() == 1,
                           any(all(x.open >= p.close, x.close < p.open), all(x.open > p.close, x.close <= p.open)));
    if (!any(white, black)) return 0;
    return all(x.open != p.close, x.close != p.open) ? x.color() * 100 : x.color() * 80;
}

template <class A>
int harami(const Candles& c, const A& a, double) {
    const Candle &x = c[0], &p = c[1];
    if (!all(p.body() > a[0].value(p), x.body() <= a[1].value(x))) return 0;
    if (all(x.top() < p.top(), x.bottom() > p.bottom())) return -p.color() * 100;
    if (all(x.top() <= p.top(), x.bottom() >= p.bottom())) return -p.color() * 80;
    return 0;
}

template <class A>
int morningstar(const Candles& c, const A& a, double pen) {
    return c[2].body() > a[0].value(c[2]) && c[2].color() == -1 && c[1].body() <= a[1].value(c[1]) &&
                   c[1].top() < c[2].bottom() && c[0].body() > a[2].value(c[0]) && c[0].color() == 1 &&
                   c[0].close > c[2].close + c[2].body() * pen
               ? 100
               : 0;
}

template <class A>
int eveningstar(const Candles& c, const A& a, double pen) {
    return c[2].body() > a[0].value(c[2]) && c[2].color() == 1 && c[1].body() <= a[1].value(c[1]) &&
                   c[1].bottom() > c[2].top() && c[0].body() > a[2].value(c[0]) && c[0].color() == -1 &&
                   c[0].close < c[2].close - c[2].body() * pen
               ? -100
               : 0;
}

// averages: shadow_very_short at offsets 2,1,0; near 2,1; far 2,1; body_short 0.
template <class A>
int threewhitesoldiers(const Candles& c, const A& a, double) {
    return c[2].color() == 1 && c[2].upper() < a[0].value(c[2]) && c[1].color() == 1 &&
                   c[1].upper() < a[1].value(c[1]) && c[0].color() == 1 && c[0].upper() < a[2].value(c[0]) &&
                   c[0].close > c[1].close && c[1].close > c[2].close && c[1].open > c[2].open &&
                   c[1].open <= c[2].close + a[3].value(c[2]) && c[0].open > c[1].open &&
                   c[0].open <= c[1].close + a[4].value(c[1]) && c[1].body() > c[2].body() - a[5].value(c[2]) &&
                   c[0].body() > c[1].body() - a[6].value(c[1]) && c[0].body() > a[7].value(c[0])
               ? 100
               : 0;
}

template <class A>
int threeblackcrows(const Candles& c, const A& a, double) {
    return c[3].color() == 1 && c[2].color() == -1 && c[2].lower() < a[0].value(c[2]) && c[1].color() == -1 &&
                   c[1].lower() < a[1].value(c[1]) && c[0].color() == -1 && c[0].lower() < a[2].value(c[0]) &&
                   c[1].open < c[2].open && c[1].open > c[2].close && c[0].open < c[1].open &&
                   c[0].open > c[1].close && c[3].high > c[2].close && c[2].close > c[1].close &&
                   c[1].close > c[0].close
               ? -100
               : 0;
}

template <class A>
int marubozu(const Candles& c, const A& a, double) {
    return all(c[0].body() > a[0].value(c[0]), c[0].upper() < a[1].value(c[0]), c[0].lower() < a[1].value(c[0]))
               ? c[0].color() * 100
               : 0;
}

template <class A>
int spinningtop(const Candles& c, const A& a, double) {
    return c[0].body() < a[0].value(c[0]) && c[0].upper() > c[0].body() && c[0].lower() > c[0].body()
               ? c[0].color() * 100
               : 0;
}

template <class A>
int dragonflydoji(const Candles& c, const A& a, double) {
    return c[0].body() <= a[0].value(c[0]) && c[0].upper() < a[1].value(c[0]) && c[0].lower() > a[1].value(c[0])
               ? 100
               : 0;
}

template <class A>
int gravestonedoji(const Candles& c, const A& a, double) {
    return c[0].body() <= a[0].value(c[0]) && c[0].lower() < a[1].value(c[0]) && c[0].upper() > a[1].value(c[0])
               ? 100
               : 0;
}

constexpr CandleSetting bs = body_short;

constexpr Rule rule(int lookback, std::initializer_list<std::pair<CandleSetting, int>> averages) {
    Rule r{lookback, {}, averages.size()};
    std::size_t i = 0;
    for (const auto& a : averages) r.averages[i++] = a;
    return r;
}

constexpr Rule kDoji = rule(10, {{body_doji, 0}});
constexpr Rule kHammer = rule(11, {{bs, 0}, {shadow_long, 0}, {shadow_very_short, 0}, {near, 1}});
constexpr Rule kHangingMan = rule(11, {{bs, 0}, {shadow_long, 0}, {shadow_very_short, 0}, {near, 1}});
constexpr Rule kShootingStar = rule(11, {{bs, 0}, {shadow_long, 0}, {shadow_very_short, 0}});
constexpr Rule kInvertedHammer = rule(11, {{bs, 0}, {shadow_long, 0}, {shadow_very_short, 0}});
constexpr Rule kEngulfing = rule(2, {});
constexpr Rule kHarami = rule(11, {{body_long, 1}, {bs, 0}});
constexpr Rule kMorningStar = rule(12, {{body_long, 2}, {bs, 1}, {bs, 0}});
constexpr Rule kEveningStar = rule(12, {{body_long, 2}, {bs, 1}, {bs, 0}});
constexpr Rule kThreeWhiteSoldiers = rule(12,
                                          {{shadow_very_short, 2}, {shadow_very_short, 1}, {shadow_very_short, 0},
                                           {near, 2}, {near, 1}, {far, 2}, {far, 1}, {bs, 0}});
constexpr Rule kThreeBlackCrows = rule(13,
                                       {{shadow_very_short, 2}, {shadow_very_short, 1}, {shadow_very_short, 0}});
constexpr Rule kMarubozu = rule(10, {{body_long, 0}, {shadow_very_short, 0}});
constexpr Rule kSpinningTop = rule(10, {{bs, 0}});
constexpr Rule kDragonflyDoji = rule(10, {{body_doji, 0}, {shadow_very_short, 0}});
constexpr Rule kGravestoneDoji = rule(10, {{body_doji, 0}, {shadow_very_short, 0}});

template <const Rule* R, int (*Eval)(const Candles&, const Averages<R>&, double)>
class Pattern : public IndicatorImpl<Pattern<R, Eval>> {
public:
    explicit Pattern(const Params& p) : IndicatorImpl<Pattern<R, Eval>>(p, 1) {}
    int lookback() const override { return R->lookback; }
    template <class V>
    void fields(V& v) { v(recent_, avg_.total); }

private:
    void share(SharedStates& pool) override { pool.link(recent_, ""); }
    static constexpr auto kAverages = std::make_index_sequence<R->count>{};
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        recent_.advance(Candle{b.open, b.high, b.low, b.close}, this->bars_seen_);
        const int t = static_cast<int>(this->bars_seen_);
        if (t < R->lookback) [[unlikely]] {  // warm-up, laid out away from the per-bar path
            accumulate(t, kAverages);
            return;
        }
        this->out_[0] = Eval(*recent_, avg_, this->params_.empty() ? 0.0 : this->params_[0]);
        advance(kAverages);
    }
    // The rule's range of the candle `ago` bars back for average K.
    template <std::size_t K>
    double range_ago(int ago) const noexcept {
        constexpr CandleSetting s = R->averages[K].first;
        return candle_range(s, (*recent_)[static_cast<std::size_t>(ago)]);
    }
    // On every bar before the lookback: TA-Lib's totals start `period` bars before it.
    template <std::size_t... K>
    void accumulate(int t, std::index_sequence<K...>) noexcept {
        ((t >= R->lookback - R->averages[K].first.period
              ? void(avg_.total[K] += range_ago<K>(R->averages[K].second))
              : void()),
         ...);
    }
    // After evaluating a bar at or after the lookback: the window moves by one.
    // An average of period 0 is the candle's own range and keeps no total.
    template <std::size_t... K>
    void advance(std::index_sequence<K...>) noexcept {
        ((R->averages[K].first.period != 0
              ? void(avg_.total[K] += range_ago<K>(R->averages[K].second) -
                                      range_ago<K>(R->averages[K].second + R->averages[K].first.period))
              : void()),
         ...);
    }
    Shared<CandleHistory> recent_{};
    Averages<R> avg_{};
};

template <const Rule* R, int (*Eval)(const Candles&, const Averages<R>&, double)>
Factory pattern_factory() {
    return factory<Pattern<R, Eval>>();
}

}  // namespace

void register_patterns(std::vector<IndicatorSpec>& out) {
    const std::vector<std::string> ohlc{"open", "high", "low", "close"};
    const std::vector<std::string> integer{"integer"};
    auto add = [&](const char* name, const char* desc, Factory f, std::vector<ParamSpec> params = {}) {
        out.push_back(spec(name, desc, Group::pattern, ohlc, std::move(params), integer, std::move(f), true));
    };
    const ParamSpec penetration{"penetration", 0.3, 0, 3e37, false};
    add("cdldoji", "Doji", pattern_factory<&kDoji, doji>());
    add("cdlhammer", "Hammer", pattern_factory<&kHammer, hammer>());
    add("cdlhangingman", "Hanging Man", pattern_factory<&kHangingMan, hangingman>());
    add("cdlshootingstar", "Shooting Star", pattern_factory<&kShootingStar, shootingstar>());
    add("cdlinvertedhammer", "Inverted Hammer", pattern_factory<&kInvertedHammer, invertedhammer>());
    add("cdlengulfing", "Engulfing Pattern", pattern_factory<&kEngulfing, engulfing>());
    add("cdlharami", "Harami Pattern", pattern_factory<&kHarami, harami>());
    add("cdlmorningstar", "Morning Star", pattern_factory<&kMorningStar, morningstar>(), {penetration});
    add("cdleveningstar", "Evening Star", pattern_factory<&kEveningStar, eveningstar>(), {penetration});
    add("cdl3whitesoldiers", "Three Advancing White Soldiers",
        pattern_factory<&kThreeWhiteSoldiers, threewhitesoldiers>());
    add("cdl3blackcrows", "Three Black Crows", pattern_factory<&kThreeBlackCrows, threeblackcrows>());
    add("cdlmarubozu", "Marubozu", pattern_factory<&kMarubozu, marubozu>());
    add("cdlspinningtop", "Spinning Top", pattern_factory<&kSpinningTop, spinningtop>());
    add("cdldragonflydoji", "Dragonfly Doji", pattern_factory<&kDragonflyDoji, dragonflydoji>());
    add("cdlgravestonedoji", "Gravestone Doji", pattern_factory<&kGravestoneDoji, gravestonedoji>());
}

}  // namespace pricecast::indicators
