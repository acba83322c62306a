#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <numbers>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"
#include "indicators/ma.hpp"

namespace pricecast::indicators {
namespace {

template <bool Stddev>
class Variance : public IndicatorImpl<Variance<Stddev>> {
public:
    explicit Variance(const Params& p)
        : var_(VarianceState(iparam(p, 0))), period_(iparam(p, 0)), nbdev_(p.at(1)) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(var_); }

private:
    void share(SharedStates& pool) override { pool.link(var_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!var_.advance(b.close, this->bars_seen_)) return;
        const double var = var_->value();
        if constexpr (Stddev)
            this->out_[0] = !is_zero_or_neg(var) ? std::sqrt(var) * nbdev_ : 0.0;
        else
            this->out_[0] = var;
    }
    // First (see Shared).
    Shared<VarianceState> var_;
    int period_;
    double nbdev_;
};

// Least-squares line over the last `period` closes, with TA-Lib's x axis
// (x = bars ago). TA-Lib recomputes the sums on every bar; here they run in
// O(1): when a bar arrives every kept close ages by one, so
// sum_xy' = sum_xy + sum_y - n * dropped. Both sums are recomputed in TA-Lib's
// order on the first full window and every 64 windows after, so rounding
// cannot drift on long streams.
class RegressionLine {
public:
    RegressionLine() = default;
    explicit RegressionLine(int period) : period_(period), win_(static_cast<std::size_t>(period)) {
        const double n = period_;
        sum_x_ = n * (n - 1) * 0.5;
        const double sum_x2 = n * (n - 1) * (2 * n - 1) / 6;
        divisor_ = sum_x_ * sum_x_ - n * sum_x2;
    }
    int period() const noexcept { return period_; }
    bool update(double y) noexcept {
        const double n = period_;
        if (win_.full()) {
            const double dropped = win_.oldest();
            sum_xy_ += sum_y_ - n * dropped;
            sum_y_ += y - dropped;
        }
        win_.push(y);
        if (!win_.full()) return false;
        if (since_exact_ == 0) [[unlikely]] recompute();  // once per 64 windows, out of line
        if (++since_exact_ == win_.capacity() * 64) since_exact_ = 0;
        const double sum_y = sum_y_, sum_xy = sum_xy_;
        slope_ = (n * sum_xy - sum_x_ * sum_y) / divisor_;
        intercept_ = (sum_y - slope_ * sum_x_) / n;
        return true;
    }
    double slope() const noexcept { return slope_; }
    double intercept() const noexcept { return intercept_; }
    template <class V>
    void fields(V& v) { v(win_, sum_y_, sum_xy_, since_exact_, slope_, intercept_); }

private:
    void recompute() noexcept {
        sum_y_ = sum_xy_ = 0;
        for (std::size_t i = win_.size(); i-- != 0;) {
            const double y = win_.ago(i);
            sum_y_ += y;
            sum_xy_ += static_cast<double>(i) * y;
        }
    }
    int period_ = 2;
    double sum_x_ = 1, divisor_ = -1;  // of the x axis 0 .. period - 1, from period_ alone
    Window<double> win_;
    double sum_y_ = 0, sum_xy_ = 0;
    std::size_t since_exact_ = 0;
    double slope_ = 0, intercept_ = 0;
};

enum class RegOut { value, slope, angle, intercept, tsf };

template <RegOut Out>
class LinearReg : public IndicatorImpl<LinearReg<Out>> {
public:
    explicit LinearReg(const Params& p)
        : line_(RegressionLine(iparam(p, 0))) {}
    int lookback() const override { return line_->period() - 1; }
    template <class V>
    void fields(V& v) { v(line_); }

private:
    void share(SharedStates& pool) override { pool.link(line_, period_key(line_->period())); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!line_.advance(b.close, this->bars_seen_)) return;
        const double n = line_->period(), m = line_->slope(), b0 = line_->intercept();
        double& out = this->out_[0];
        switch (Out) {
            case RegOut::value: out = b0 + m * (n - 1); break;
            case RegOut::slope: out = m; break;
            case RegOut::angle: out = std::atan(m) * (180.0 / std::numbers::pi); break;
            case RegOut::intercept: out = b0; break;
            case RegOut::tsf: out = b0 + m * n; break;
        }
    }
    Shared<RegressionLine> line_;
};

// The last `period` (high, low) pairs in one ring of SSE2 pairs, for CORREL
// and BETA's running sums. Before a pair exists its slot holds (0, 0), so
// dropping the oldest pair of a window not yet full subtracts 0 and changes no
// sum: the sums need no test for it.
class PairRing {
public:
    PairRing() = default;
    explicit PairRing(std::size_t period) : period_(period), buf_(2 * period) {}
    // The oldest pair once the window is full, (0, 0) before.
    Pair oldest() const noexcept { return load(&buf_[2 * head_]); }
    void push(Pair v) noexcept {
        store(&buf_[2 * head_], v);
        head_ = head_ + 1 == period_ ? 0 : head_ + 1;
    }
    template <class V>
    void fields(V& v) {
        v(buf_, head_);
        if (buf_.size() != 2 * period_ || head_ >= period_) throw StateError("snapshot: inconsistent pair window");
    }

private:
    std::size_t period_ = 1;
    StateVector<double> buf_ = StateVector<double>(2);
    std::size_t head_ = 0;
};

// Pearson correlation of high and low (python-talib's default inputs), with
// TA-Lib's running sums: drop the oldest pair, then add the new one. The sums
// of x and y, and of x^2 and y^2, are SSE2 pairs: the same operations, lane by
// lane, as TA-Lib's five scalar sums.
class Correl : public IndicatorImpl<Correl> {
public:
    explicit Correl(const Params& p)
        : period_(static_cast<std::size_t>(iparam(p, 0))), xy_(period_) {}
    int lookback() const override { return static_cast<int>(period_) - 1; }
    template <class V>
    void fields(V& v) { v(xy_, s_, s2_, sxy_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        // The sums go through locals: a store into the ring could be any of
        // them as far as the compiler knows, and would force them to memory.
        Pair s = load(s_.data()), s2 = load(s2_.data());
        const Pair t = xy_.oldest(), v = {b.high, b.low};
        s -= t, s2 -= t * t;
        double sxy = sxy_ - t[0] * t[1];
        s += v, s2 += v * v, sxy += v[0] * v[1];
        xy_.push(v);
        store(s_.data(), s), store(s2_.data(), s2), sxy_ = sxy;
        if (bars_seen_ + 1 < period_) return;
        const double n = static_cast<double>(period_);
        const Pair spread = s2 - (s * s) / n;
        const double t2 = spread[0] * spread[1];
        out_[0] = !is_zero_or_neg(t2) ? (sxy - (s[0] * s[1]) / n) / std::sqrt(t2) : 0.0;
    }
    std::size_t period_;
    PairRing xy_;
    std::array<double, 2> s_{}, s2_{};  // (x, y), (x^2, y^2)
    double sxy_ = 0;
};

// Beta of the high's returns against the low's returns over `period` returns,
// with TA-Lib's running sums: add the new pair, evaluate, drop the oldest. The
// returns, the sums (x, y) and (x^2, xy), and the numerator and denominator are
// SSE2 pairs: the same operations, lane by lane, as TA-Lib's scalars.
class Beta : public IndicatorImpl<Beta> {
public:
    explicit Beta(const Params& p)
        : period_(static_cast<std::size_t>(iparam(p, 0))), xy_(period_) {}
    int lookback() const override { return static_cast<int>(period_); }
    template <class V>
    void fields(V& v) { v(last_, xy_, s_, sx_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        const Pair now = {b.high, b.low}, last = load(last_.data());
        store(last_.data(), now);
        if (bars_seen_ == 0) return;
        // TA-Lib's return (now - last) / last, 0 where last is about 0.
        const Bits zero = std::bit_cast<Pair>(std::bit_cast<Bits>(last) & kAbs) < Pair{1e-14, 1e-14};
        const Pair v = std::bit_cast<Pair>(std::bit_cast<Bits>((now - last) / last) & ~zero);
        Pair s = load(s_.data()) + v, sx = load(sx_.data()) + v[0] * v;
        xy_.push(v);
        if (bars_seen_ >= period_) {
            const double n = static_cast<double>(period_);
            const Pair q = n * sx - s[0] * s;  // (denominator, numerator)
            out_[0] = !is_zero(q[0]) ? q[1] / q[0] : 0.0;
        }
        const Pair t = xy_.oldest();
        s -= t, sx -= t[0] * t;
        store(s_.data(), s), store(sx_.data(), sx);
    }
    std::size_t period_;
    std::array<double, 2> last_{};  // the last (high, low)
    PairRing xy_;
    std::array<double, 2> s_{}, sx_{};  // (x, y), (x^2, xy)
};

// SUM: the window sum of a set's SMA of the same period (the same kernel).
class Sum : public IndicatorImpl<Sum> {
public:
    explicit Sum(const Params& p) : sum_(SmaState(iparam(p, 0))), period_(iparam(p, 0)) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(sum_); }

private:
    void share(SharedStates& pool) override { pool.link(sum_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (sum_.advance(b.close, bars_seen_)) out_[0] = sum_->sum();
    }
    // First (see Shared).
    Shared<SmaState> sum_;
    int period_;
};

// The window's highest and lowest values and the index TA-Lib reports for
// each: it keeps its pick while the pick stays in the window, moves to a new
// value that ties or beats it, and rescans for the oldest extreme when the pick
// falls out. The window is WindowExtreme's blocks (impl.hpp) with the earliest
// tie, for both bounds at once: each value is the SSE2 pair (v, -v), so the
// lowest is a highest too, every step one MAXPD or compare for both, and the
// indices follow the compares' lane masks. Negation is exact, and -v beats -w
// exactly when v is below w, so each lane picks what its own kernel picked.
class ArgExtremes {
public:
    ArgExtremes() = default;
    explicit ArgExtremes(std::size_t period)
        : period_(period ? period : 1),
          block_(2 * period_),
          suffix_(2 * (period_ + 1), kWorst),
          suffix_index_(2 * (period_ + 1)) {}
    // Returns true once the window is full and index()/value() are TA-Lib's.
    bool update(double v) noexcept {
        const std::size_t today = count_++;
        const Pair x = {v, -v}, head = load(head_.data());
        const Bits now = {today, today};
        store(&block_[2 * pos_], x);
        store(head_index_.data(), blend(x > head, now, load(head_index_.data())));  // the earliest tie stays
        store(head_.data(), pair_max(x, head));
        if (++pos_ == period_) [[unlikely]] close_block();  // once per block, out of line
        if (today + 1 < period_) return false;
        const bool high_left = !picked_ || index_[0] + period_ <= today, low_left = !picked_ || index_[1] + period_ <= today;
        // A new value that ties or beats the pick is a coin toss on real
        // prices: select, do not branch.
        const Pair value = load(value_.data());
        const auto moves = x >= value;
        store(value_.data(), std::bit_cast<Pair>(blend(moves, std::bit_cast<Bits>(x), std::bit_cast<Bits>(value))));
        store(index_.data(), blend(moves, now, load(index_.data())));
        if (high_left || low_left) [[unlikely]] rescan(high_left, low_left);
        return true;
    }
    template <bool IsMax>
    std::size_t index() const noexcept { return index_[IsMax ? 0 : 1]; }
    template <bool IsMax>
    double value() const noexcept { return IsMax ? value_[0] : -value_[1]; }

    template <class V>
    void fields(V& v) {
        v(block_, suffix_, suffix_index_, pos_, head_, head_index_, count_, picked_, index_, value_);
        // A restored state indexes these by pos_: a damaged snapshot must not reach update().
        if (block_.size() != 2 * period_ || suffix_.size() != 2 * (period_ + 1) ||
            suffix_index_.size() != 2 * (period_ + 1) || pos_ >= period_)
            throw StateError("snapshot: inconsistent window extreme state");
    }

private:
    static constexpr double kWorst = -std::numeric_limits<double>::infinity();

    // For a lane whose pick has left the window (or none was made), the
    // window's extreme and its kept occurrence: the current block's head
    // against the previous block's tail from pos_ on (its suffix_[period] the
    // worst pair).
    [[gnu::noinline]] void rescan(bool high, bool low) noexcept {
        const Pair head = load(head_.data()), tail = load(&suffix_[2 * pos_]);
        const Pair best = pair_max(head, tail);
        const Bits where = blend(head > tail, load(head_index_.data()), load(&suffix_index_[2 * pos_]));
        if (high) index_[0] = where[0], value_[0] = best[0];
        if (low) index_[1] = where[1], value_[1] = best[1];
        picked_ = true;
    }
    // Suffix extremes of the completed block, newest first: the values as one
    // max chain, then the indices, whose tests no longer wait on each other.
    // (Through local pointers: a store could be the vectors' own as far as the compiler knows.)
    void close_block() noexcept {
        const std::size_t start = count_ - period_;
        const double* block = block_.data();
        double* suffix = suffix_.data();
        std::uint64_t* index = suffix_index_.data();
        for (std::size_t j = period_; j-- > 0;)
            store(suffix + 2 * j, pair_max(load(block + 2 * j), load(suffix + 2 * j + 2)));
        for (std::size_t j = period_; j-- > 0;) {
            const Bits at = {start + j, start + j};
            store(index + 2 * j, blend(load(suffix + 2 * j + 2) > load(block + 2 * j), load(index + 2 * j + 2), at));
        }
        pos_ = 0;
        head_ = {kWorst, kWorst};  // the next value starts the new block's head
    }

    std::size_t period_ = 1;
    StateVector<double> block_ = StateVector<double>(2);
    StateVector<double> suffix_ = StateVector<double>(4, kWorst);
    StateVector<std::uint64_t> suffix_index_ = StateVector<std::uint64_t>(4);
    std::size_t pos_ = 0;
    std::array<double, 2> head_{kWorst, kWorst};
    std::array<std::uint64_t, 2> head_index_{};
    std::size_t count_ = 0;
    bool picked_ = false;
    std::array<std::uint64_t, 2> index_{};  // (of the highest, of the lowest)
    std::array<double, 2> value_{};         // (highest, -lowest)
};

// What an indicator reads of ArgExtremes.
enum class Pick { max, min, maxindex, minindex, minmax, minmaxindex };

// MAX, MIN (the window's extreme), MAXINDEX, MININDEX (where it is), MINMAX
// (min, max) and MINMAXINDEX (minidx, maxidx), all on one kernel, so a set
// computes the window once.
template <Pick P>
class Extreme : public IndicatorImpl<Extreme<P>> {
    static constexpr bool kBoth = P == Pick::minmax || P == Pick::minmaxindex;
    static constexpr bool kIndex = P == Pick::maxindex || P == Pick::minindex || P == Pick::minmaxindex;

public:
    explicit Extreme(const Params& p)
        : arg_(ArgExtremes(static_cast<std::size_t>(iparam(p, 0)))), period_(iparam(p, 0)) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(arg_); }

private:
    void share(SharedStates& pool) override { pool.link(arg_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!arg_.advance(b.close, this->bars_seen_)) return;
        if constexpr (kBoth) {
            this->out_[0] = read<false>();
            this->out_[1] = read<true>();
        } else {
            this->out_[0] = read<P == Pick::max || P == Pick::maxindex>();
        }
    }
    template <bool IsMax>
    double read() const noexcept {
        if constexpr (kIndex) return static_cast<double>(arg_->template index<IsMax>());
        return arg_->template value<IsMax>();
    }
    // First (see Shared).
    Shared<ArgExtremes> arg_;
    int period_;
};

// Mean absolute deviation around the window mean. No running form exists for
// a sum of absolute values around a moving mean, so this loops like TA-Lib,
// over PairWindow (impl.hpp): its sums are off TA-Lib's by a rounding of the
// sum (its parity allows that), but for a constant window: there the
// deviation is that rounding alone, so it follows TA-Lib's chain.
class AvgDev : public IndicatorImpl<AvgDev> {
public:
    explicit AvgDev(const Params& p)
        : period_(static_cast<std::size_t>(iparam(p, 0))), window_(period_) {}
    int lookback() const override { return static_cast<int>(period_) - 1; }
    template <class V>
    void fields(V& v) { v(window_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        window_.push(b.close);
        if (bars_seen_ + 1 < period_) return;
        out_[0] = window_.deviation(window_.mean()) / static_cast<double>(period_);
    }
    std::size_t period_;
    PairWindow window_;
};

}  // namespace

void register_statistic(std::vector<IndicatorSpec>& out) {
    const std::vector<std::string> close{"close"};
    const ParamSpec nbdev{"nbdev", 1, -3e37, 3e37, false};
    out.push_back(spec("stddev", "Standard Deviation", Group::statistic, close, {period_param(5), nbdev}, {"real"},
                       factory<Variance<true>>()));
    out.push_back(spec("var", "Variance", Group::statistic, close, {period_param(5, 1), nbdev}, {"real"},
                       factory<Variance<false>>()));
    out.push_back(spec("linearreg", "Linear Regression", Group::statistic, close, {period_param(14)}, {"real"},
                       factory<LinearReg<RegOut::value>>()));
    out.push_back(spec("linearreg_slope", "Linear Regression Slope", Group::statistic, close, {period_param(14)},
                       {"real"}, factory<LinearReg<RegOut::slope>>()));
    out.push_back(spec("linearreg_angle", "Linear Regression Angle", Group::statistic, close, {period_param(14)},
                       {"real"}, factory<LinearReg<RegOut::angle>>()));
    out.push_back(spec("linearreg_intercept", "Linear Regression Intercept", Group::statistic, close,
                       {period_param(14)}, {"real"}, factory<LinearReg<RegOut::intercept>>()));
    out.push_back(spec("tsf", "Time Series Forecast", Group::statistic, close, {period_param(14)}, {"real"},
                       factory<LinearReg<RegOut::tsf>>()));
    out.push_back(spec("correl", "Pearson's Correlation Coefficient (r)", Group::statistic, {"high", "low"},
                       {period_param(30, 1)}, {"real"}, factory<Correl>()));
    out.push_back(spec("beta", "Beta", Group::statistic, {"high", "low"}, {period_param(5, 1)}, {"real"},
                       factory<Beta>()));
    out.push_back(spec("sum", "Summation", Group::statistic, close, {period_param(30)}, {"real"}, factory<Sum>()));
    out.push_back(spec("max", "Highest value over a specified period", Group::statistic, close, {period_param(30)},
                       {"real"}, factory<Extreme<Pick::max>>()));
    out.push_back(spec("min", "Lowest value over a specified period", Group::statistic, close, {period_param(30)},
                       {"real"}, factory<Extreme<Pick::min>>()));
    out.push_back(spec("maxindex", "Index of highest value over a specified period", Group::statistic, close,
                       {period_param(30)}, {"integer"}, factory<Extreme<Pick::maxindex>>(), true));
    out.push_back(spec("minindex", "Index of lowest value over a specified period", Group::statistic, close,
                       {period_param(30)}, {"integer"}, factory<Extreme<Pick::minindex>>(), true));
    out.push_back(spec("minmax", "Lowest and highest values over a specified period", Group::statistic, close,
                       {period_param(30)}, {"min", "max"}, factory<Extreme<Pick::minmax>>()));
    out.push_back(spec("minmaxindex", "Indexes of lowest and highest values over a specified period",
                       Group::statistic, close, {period_param(30)}, {"minidx", "maxidx"}, factory<Extreme<Pick::minmaxindex>>(),
                       true));
    out.push_back(spec("avgdev", "Average Deviation", Group::statistic, close, {period_param(14)}, {"real"},
                       factory<AvgDev>()));
}

}  // namespace pricecast::indicators
