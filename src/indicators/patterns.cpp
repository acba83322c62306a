// Candlestick patterns with TA-Lib's rules and outputs (+100 / -100 / 0, and
// +-80 where TA-Lib marks a weaker form). To give exactly TA-Lib's output the
// averages of recent candles are kept as TA-Lib keeps them: running totals
// that start accumulating at the same bar and are updated with the same
// operations, so every comparison sees the same double.
#include <algorithm>
#include <array>
#include <span>
#include <utility>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

// A bar with the measures the rules read, computed once when it arrives
// (the patterns of a set read them from one history). top and bottom are
// max / min of open and close: the same value as TA-Lib's tests on color,
// as prices are positive.
struct Candle {
    double open = 0, high = 0, low = 0, close = 0;
    double body_ = 0, range_ = 0, top_ = 0, bottom_ = 0;
    static Candle of(double open, double high, double low, double close) noexcept {
        return {open, high, low, close, std::abs(close - open), high - low, std::max(open, close),
                std::min(open, close)};
    }
    double body() const noexcept { return body_; }
    double upper() const noexcept { return high - top_; }
    double lower() const noexcept { return bottom_ - low; }
    double range() const noexcept { return range_; }
    int color() const noexcept { return close >= open ? 1 : -1; }
    double top() const noexcept { return top_; }
    double bottom() const noexcept { return bottom_; }
    template <class V>
    void fields(V& v) {
        v(open, high, low, close);
        *this = of(open, high, low, close);  // the measures follow from the prices
    }
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

constexpr double candle_range(RangeType t, const Candle& c) noexcept {
    switch (t) {
        case RangeType::real_body: return c.body();
        case RangeType::high_low: return c.range();
        case RangeType::shadows: return c.upper() + c.lower();
    }
    return 0;
}

// TA-Lib's running totals of one (range type, period): BodyLongPeriodTotal
// and the like. A total's value depends only on the candle it starts with:
// c = rule lookback - period - offset (a rule's first bar accumulates the
// candle `offset` bars back). So the total a rule reads at offset k is the
// total at offset 0 of the series starting at c, k bars ago: one series per
// first candle c in [C0, C0 + N) serves every rule and offset (TA-Lib's rules
// keep 17 distinct totals; they are 9 series). The update for bar t is applied
// at bar t + 1, before the rules read: the same operations on the same doubles.
template <RangeType T, int P, int C0, int N>
class RangeTotals {
public:
    static constexpr int kDepth = 3;  // offsets 0 .. 2
    static constexpr bool serves(const CandleSetting& s, int c, int offset) {
        return s.range == T && s.period == P && c >= C0 && c < C0 + N && offset >= 0 && offset < kDepth;
    }
    // The first bar from which every series slides.
    static constexpr std::size_t kWarm = C0 + N + P;
    // TA_CANDLEAVERAGE's total / period for the series starting at candle c,
    // as it was `ago` bars back: divided once per bar for all readers.
    double mean(int c, int ago) const noexcept { return mean_[ago][c - C0]; }
    // `history[1]` is the newest candle a total takes in, history[1 + P] the one it drops.
    template <class H>
    void slide(const H& history) noexcept {
        const double d = range(history[1]) - range(history[1 + P]);
        for (auto& t : total_) t += d;
        divide();
    }
    // Bar seen - 1 as TA-Lib treats it: no total before its first candle, a
    // plain sum up to the rule's lookback, a sliding window after.
    template <class H>
    void warm_up(const H& history, std::size_t seen) noexcept {
        if (seen == 0) return;
        const std::size_t bar = seen - 1;
        for (int i = 0; i < N; ++i) {
            const auto c = static_cast<std::size_t>(C0 + i);
            if (bar >= c + P)
                total_[i] += range(history[1]) - range(history[1 + P]);
            else if (bar >= c)
                total_[i] += range(history[1]);
        }
        divide();
    }
    template <class V>
    void fields(V& v) { v(total_, mean_); }

private:
    static double range(const Candle& c) noexcept { return candle_range(T, c); }
    void divide() noexcept {
        mean_[2] = mean_[1];
        mean_[1] = mean_[0];
        for (int i = 0; i < N; ++i) mean_[0][i] = total_[i] / P;
    }
    std::array<double, N> total_{};
    std::array<std::array<double, N>, kDepth> mean_{};
};

using BodyTotals = RangeTotals<RangeType::real_body, 10, 0, 3>;
using RangeTotals10 = RangeTotals<RangeType::high_low, 10, 0, 4>;
using RangeTotals5 = RangeTotals<RangeType::high_low, 5, 5, 2>;

// The last 16 candles, newest first, and the totals of their ranges: all the
// patterns of a set read one. The ring is stored twice over, so candle k back
// is at newest_ - k with no wrap (the oldest read is the candle a total
// drops, 11 back). Only the totals some member reads are kept (needs_): a
// pattern alone keeps its own.
class CandleHistory {
public:
    enum Needs : unsigned { kBody10 = 1, kRange10 = 2, kRange5 = 4 };
    void need(unsigned groups) noexcept { needs_ |= groups; }

    bool update(const Bar& b, std::size_t seen) noexcept {
        ++count_;
        const std::size_t pos = (newest_ + 1) & (kSize - 1);
        buf_[pos] = buf_[pos + kSize] = Candle::of(b.open, b.high, b.low, b.close);
        newest_ = pos + kSize;
        if (seen >= kWarm) [[likely]] {
            if (needs_ & kBody10) body10_.slide(*this);
            if (needs_ & kRange10) range10_.slide(*this);
            if (needs_ & kRange5) range5_.slide(*this);
        } else {
            warm_up(seen);
        }
        return true;
    }
    const Candle& operator[](std::size_t ago) const noexcept { return buf_[newest_ - ago]; }
    // The candles taken in: the same as Shared's count of this kernel's inputs.
    std::size_t count() const noexcept { return count_; }
    const BodyTotals& body10() const noexcept { return body10_; }
    const RangeTotals10& range10() const noexcept { return range10_; }
    const RangeTotals5& range5() const noexcept { return range5_; }

    template <class V>
    void fields(V& v) {
        // Both halves of the ring hold the same candles: one is saved.
        std::span<Candle, kSize> ring(buf_.data(), kSize);
        v(ring, newest_, count_, body10_, range10_, range5_);
        std::copy(ring.begin(), ring.end(), buf_.begin() + kSize);
        // A restored state indexes the ring by newest_: a damaged snapshot must not reach a rule.
        if (newest_ < kSize || newest_ >= 2 * kSize) throw StateError("snapshot: inconsistent candle history");
    }

private:
    static constexpr std::size_t kSize = 16;
    static constexpr std::size_t kWarm = std::max({BodyTotals::kWarm, RangeTotals10::kWarm, RangeTotals5::kWarm});
    [[gnu::cold, gnu::noinline]] void warm_up(std::size_t seen) noexcept {
        if (needs_ & kBody10) body10_.warm_up(*this, seen);
        if (needs_ & kRange10) range10_.warm_up(*this, seen);
        if (needs_ & kRange5) range5_.warm_up(*this, seen);
    }
    std::array<Candle, 2 * kSize> buf_{};
    std::size_t newest_ = 2 * kSize - 1;
    BodyTotals body10_;
    RangeTotals10 range10_;
    RangeTotals5 range5_;
    std::size_t count_ = 0;
    unsigned needs_ = 0;  // not state: which members read the history
};

// A rule's (setting, candle offset) pairs, in the order the rule reads them.
constexpr std::size_t kMaxAverages = 8;
using Candles = CandleHistory;
struct Rule {
    int lookback;
    std::array<std::pair<CandleSetting, int>, kMaxAverages> averages;
    std::size_t count;
};

// The first candle of average k's series.
constexpr int first_candle(const Rule& r, std::size_t k) {
    return r.lookback - r.averages[k].first.period - r.averages[k].second;
}
template <class G>
constexpr bool uses(const Rule& r) {
    for (std::size_t k = 0; k < r.count; ++k)
        if (G::serves(r.averages[k].first, first_candle(r, k), r.averages[k].second)) return true;
    return false;
}
// The totals a rule reads; every average must be a candle's own range (period 0) or one series.
constexpr unsigned needs(const Rule& r) {
    for (std::size_t k = 0; k < r.count; ++k) {
        const auto& [s, off] = r.averages[k];
        const int c = first_candle(r, k);
        if (s.period != 0 && !BodyTotals::serves(s, c, off) && !RangeTotals10::serves(s, c, off) &&
            !RangeTotals5::serves(s, c, off))
            throw "an average no series keeps";
    }
    return (uses<BodyTotals>(r) ? CandleHistory::kBody10 : 0u) |
           (uses<RangeTotals10>(r) ? CandleHistory::kRange10 : 0u) |
           (uses<RangeTotals5>(r) ? CandleHistory::kRange5 : 0u);
}

// A rule's view of its averages: a[k].value(candle) reads average k with the
// rule's compile-time setting. The calls are inlined, so the series, offset
// and factor are constants, not loaded and tested on every bar.
template <const Rule* R>
struct Averages {
    const CandleHistory& h;
    struct Ref {
        const CandleHistory& h;
        std::size_t k;
        // TA_CANDLEAVERAGE for the candle at this average's offset.
        [[gnu::always_inline]] double value(const Candle& at_offset) const noexcept {
            const auto& [s, off] = R->averages[k];
            const int c = first_candle(*R, k);
            double base;
            if (s.period == 0)
                base = candle_range(s.range, at_offset);
            else if (BodyTotals::serves(s, c, off))
                base = h.body10().mean(c, off);
            else if (RangeTotals10::serves(s, c, off))
                base = h.range10().mean(c, off);
            else
                base = h.range5().mean(c, off);
            return s.factor * base / (s.range == RangeType::shadows ? 2.0 : 1.0);
        }
    };
    [[gnu::always_inline]] Ref operator[](std::size_t k) const noexcept { return {h, k}; }
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
    static constexpr unsigned kNeeds = needs(*R);

public:
    explicit Pattern(const Params& p)
        : penetration_(p.empty() ? 0.0 : p[0]) {
        recent_.mutable_kernel().need(kNeeds);
    }
    int lookback() const override { return R->lookback; }
    template <class V>
    void fields(V& v) { v(recent_); }

private:
    // A history shared with members that read other totals keeps those too.
    void share(SharedStates& pool) override {
        if (!pool.link(recent_, "")) recent_.mutable_kernel().need(kNeeds);
    }
    [[gnu::hot, gnu::always_inline]] void step(const Bar& b) noexcept override {
        const std::size_t t = this->bars_seen_;
        if (recent_->count() == t) [[unlikely]] {
            advance_then_rate(b, t);
            return;
        }
        rate(t);
    }
    // The history's first reader advances it. Only one member of a set takes
    // this path: a call apart, so that registers are saved around it on this
    // path alone rather than on every member's.
    [[gnu::noinline]] void advance_then_rate(const Bar& b, std::size_t t) noexcept {
        recent_.advance(b, t);
        rate(t);
    }
    [[gnu::always_inline]] void rate(std::size_t t) noexcept {
        if (t < static_cast<std::size_t>(R->lookback)) [[unlikely]] return;
        this->out_[0] = Eval(*recent_, Averages<R>{*recent_}, penetration_);
    }
    // First (see Shared).
    Shared<CandleHistory> recent_{};
    double penetration_;
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
