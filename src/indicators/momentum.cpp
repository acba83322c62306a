#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"
#include "indicators/ma.hpp"

namespace pricecast::indicators {
namespace {

// The key of a shared moving average of the close, by type, period and the bar it starts at.
std::string average_key(int type, int period, int start) {
    return std::to_string(type) + "/" + std::to_string(period) + "/" + std::to_string(start);
}

// The last period+1 closes, which MOM and the ROC family all read.
class PastCloses {
public:
    PastCloses() = default;
    explicit PastCloses(int period) : closes_(static_cast<std::size_t>(period) + 1) {}
    bool update(double x) noexcept {
        closes_.push(x);
        return closes_.full();
    }
    double oldest() const noexcept { return closes_.oldest(); }
    template <class V>
    void fields(V& v) { v(closes_); }

private:
    Window<double> closes_;
};

// ---- MOM, ROC, ROCP, ROCR, ROCR100: close against the close `period` bars ago.
enum class Change { mom, roc, rocp, rocr, rocr100 };

template <Change C>
class PriceChange : public IndicatorImpl<PriceChange<C>> {
public:
    explicit PriceChange(const Params& p)
        : closes_(PastCloses(iparam(p, 0))), period_(iparam(p, 0)) {}
    int lookback() const override { return period_; }
    template <class V>
    void fields(V& v) { v(closes_); }

private:
    void share(SharedStates& pool) override { pool.link(closes_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!closes_.advance(b.close, this->bars_seen_)) return;
        const double x = b.close, prev = closes_->oldest();
        double& out = this->out_[0];
        switch (C) {
            case Change::mom: out = x - prev; break;
            case Change::roc: out = prev != 0.0 ? ((x / prev) - 1.0) * 100.0 : 0.0; break;
            case Change::rocp: out = prev != 0.0 ? (x - prev) / prev : 0.0; break;
            case Change::rocr: out = prev != 0.0 ? x / prev : 0.0; break;
            case Change::rocr100: out = prev != 0.0 ? (x / prev) * 100.0 : 0.0; break;
        }
    }
    // First (see Shared).
    Shared<PastCloses> closes_;
    int period_;
};

class Bop : public IndicatorImpl<Bop> {
public:
    explicit Bop(const Params&) {}
    int lookback() const override { return 0; }
    template <class V>
    void fields(V&) {}

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        const double range = b.high - b.low;
        out_[0] = is_zero_or_neg(range) ? 0.0 : (b.close - b.open) / range;
    }
};

// Williams' %R on HighLowIndicator (impl.hpp), MIDPRICE's window.
struct WillrOut {
    static double value(const HighLowWindow& w, const Bar& b) noexcept {
        const double diff = (w.highest() - w.lowest()) / (-100.0);
        return diff != 0.0 ? (w.highest() - b.close) / diff : 0.0;
    }
};

// ---- RSI and CMO: Wilder-smoothed gains and losses, seeded by their plain
// averages over the first `period` changes (TA-Lib, unstable period 0). One
// scalar kernel serves RSI, CMO and STOCHRSI's inner RSI.
class GainLossState {
public:
    GainLossState() = default;
    explicit GainLossState(int period) : period_(period) {}
    bool update(double x) noexcept {
        if (n_++ == 0) [[unlikely]] {
            prev_ = x;
            return false;
        }
        const double change = x - prev_;
        prev_ = x;
        const int changes = n_ - 1;
        if (changes > period_) {
            loss_ *= (period_ - 1);
            gain_ *= (period_ - 1);
        }
        // The sign is a coin toss on real prices: select, do not branch.
        const bool down = change < 0;
        loss_ = select(down, loss_ - change, loss_);
        gain_ = select(down, gain_, gain_ + change);
        if (changes < period_) return false;
        loss_ /= period_;
        gain_ /= period_;
        return true;
    }
    double rsi() const noexcept {
        const double total = gain_ + loss_;
        return !is_zero(total) ? 100.0 * (gain_ / total) : 0.0;
    }
    double cmo() const noexcept {
        const double total = gain_ + loss_;
        return !is_zero(total) ? 100.0 * ((gain_ - loss_) / total) : 0.0;
    }
    int lookback() const noexcept { return period_; }
    template <class V>
    void fields(V& v) { v(n_, prev_, gain_, loss_); }

private:
    int period_ = 14;
    int n_ = 0;
    double prev_ = 0, gain_ = 0, loss_ = 0;
};

template <bool Cmo>
class GainLossOscillator : public IndicatorImpl<GainLossOscillator<Cmo>> {
public:
    explicit GainLossOscillator(const Params& p)
        : gl_(GainLossState(iparam(p, 0))) {}
    int lookback() const override { return gl_->lookback(); }
    template <class V>
    void fields(V& v) { v(gl_); }

private:
    void share(SharedStates& pool) override { pool.link(gl_, period_key(iparam(this->params(), 0))); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (gl_.advance(b.close, this->bars_seen_)) this->out_[0] = Cmo ? gl_->cmo() : gl_->rsi();
    }
    Shared<GainLossState> gl_;
};


// ---- MACD: EMA(fast) - EMA(slow) and its EMA(signal). TA-Lib starts the fast
// EMA late so that both EMAs produce their first value on the same bar.
// MACDFIX is MACD(12, 26) with TA-Lib's fixed factors 0.15 and 0.075 instead
// of 2 / (period + 1).
template <bool Fixed>
class MacdT : public IndicatorImpl<MacdT<Fixed>> {
public:
    explicit MacdT(const Params& p) {
        if constexpr (Fixed) {
            init(EmaState(12, 0.15), EmaState(26, 0.075), iparam(p, 0));
        } else {
            int fast = iparam(p, 0), slow = iparam(p, 1);
            if (slow < fast) std::swap(fast, slow);
            init(EmaState(fast), EmaState(slow), iparam(p, 2));
        }
    }
    int lookback() const override { return slow_.lookback() + signal_.lookback(); }
    template <class V>
    void fields(V& v) { v(fast_, slow_, signal_); }

private:
    void init(EmaState fast, EmaState slow, int signal) {
        fast_start_ = slow.lookback() - fast.lookback();
        fast_ = fast;
        slow_ = slow;
        signal_ = EmaState(signal);
    }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        const bool slow_ready = slow_.update(b.close);
        if (this->bars_seen_ >= static_cast<std::size_t>(fast_start_)) fast_.update(b.close);
        if (!slow_ready) return;
        const double line = fast_.value() - slow_.value();
        if (!signal_.update(line)) return;
        this->out_[0] = line;
        this->out_[1] = signal_.value();
        this->out_[2] = line - signal_.value();
    }
    EmaState fast_, slow_, signal_;
    int fast_start_ = 0;
};
using Macd = MacdT<false>;
using MacdFix = MacdT<true>;

// ---- MACDEXT: MACD with any moving average for each line. As in MACD, the
// average with the shorter warm-up starts late so both have their first value
// on the same bar; the signal average starts at the first MACD value.
class MacdExt : public IndicatorImpl<MacdExt> {
public:
    explicit MacdExt(const Params& p) {
        fast_period_ = iparam(p, 0), slow_period_ = iparam(p, 2);
        fast_type_ = iparam(p, 1), slow_type_ = iparam(p, 3);
        if (slow_period_ < fast_period_) std::swap(fast_period_, slow_period_), std::swap(fast_type_, slow_type_);
        fast_ = Shared(MovingAverage(ma_type(fast_type_), fast_period_));
        slow_ = Shared(MovingAverage(ma_type(slow_type_), slow_period_));
        signal_ = MovingAverage(ma_type(p.at(5)), iparam(p, 4));
        largest_ = std::max(fast_->lookback(), slow_->lookback());
        fast_start_ = largest_ - fast_->lookback();
        slow_start_ = largest_ - slow_->lookback();
    }
    int lookback() const override { return largest_ + signal_.lookback(); }
    template <class V>
    void fields(V& v) { v(fast_, slow_, signal_); }

private:
    // An average that starts late is another series than one from the first bar.
    void share(SharedStates& pool) override {
        pool.link(fast_, average_key(fast_type_, fast_period_, fast_start_));
        pool.link(slow_, average_key(slow_type_, slow_period_, slow_start_));
    }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        const auto t = bars_seen_, fast_start = static_cast<std::size_t>(fast_start_),
                   slow_start = static_cast<std::size_t>(slow_start_);
        if (t >= fast_start) fast_.advance(b.close, t - fast_start);
        if (t >= slow_start) slow_.advance(b.close, t - slow_start);
        if (t < static_cast<std::size_t>(largest_)) return;
        const double line = fast_->value() - slow_->value();
        if (!signal_.update(line)) return;
        out_[0] = line;
        out_[1] = signal_.value();
        out_[2] = line - signal_.value();
    }
    int fast_period_ = 0, slow_period_ = 0, fast_type_ = 0, slow_type_ = 0;
    Shared<MovingAverage> fast_, slow_;
    MovingAverage signal_;
    int fast_start_ = 0, slow_start_ = 0, largest_ = 0;
};

// ---- APO / PPO: difference of two moving averages. Unlike MACD, TA-Lib starts
// both averages at the first bar.
template <bool Percent>
class PriceOscillator : public IndicatorImpl<PriceOscillator<Percent>> {
public:
    explicit PriceOscillator(const Params& p) {
        fast_period_ = iparam(p, 0), slow_period_ = iparam(p, 1);
        if (slow_period_ < fast_period_) std::swap(fast_period_, slow_period_);
        fast_ = Shared(MovingAverage(ma_type(p.at(2)), fast_period_));
        slow_ = Shared(MovingAverage(ma_type(p.at(2)), slow_period_));
    }
    int lookback() const override { return slow_->lookback(); }
    template <class V>
    void fields(V& v) { v(fast_, slow_); }

private:
    void share(SharedStates& pool) override {
        const int type = iparam(this->params(), 2);
        pool.link(fast_, average_key(type, fast_period_, 0));
        pool.link(slow_, average_key(type, slow_period_, 0));
    }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        fast_.advance(b.close, this->bars_seen_);
        if (!slow_.advance(b.close, this->bars_seen_)) return;
        const double f = fast_->value(), s = slow_->value();
        if constexpr (Percent)
            this->out_[0] = !is_zero(s) ? ((f - s) / s) * 100.0 : 0.0;
        else
            this->out_[0] = f - s;
    }
    int fast_period_ = 0, slow_period_ = 0;
    Shared<MovingAverage> fast_, slow_;
};

// ---- STOCH / STOCHF: fast %K over the high-low range (HighLowWindow, as
// WILLR), then moving averages.
class FastK {
public:
    FastK() = default;
    explicit FastK(int period) : period_(period), hl_(period) {}
    // True once `period` bars were seen; value() is then %K.
    bool update(const Bar& b) noexcept { return update(b.high, b.low, b.close); }
    bool update(double high, double low, double close) noexcept {
        hl_.push(high, low);
        if (++n_ < period_) return false;
        const double diff = (hl_.highest() - hl_.lowest()) / 100.0;
        k_ = diff != 0.0 ? (close - hl_.lowest()) / diff : 0.0;
        return true;
    }
    double value() const noexcept { return k_; }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(hl_, n_, k_); }

private:
    int period_ = 1;
    HighLowWindow hl_;
    int n_ = 0;
    double k_ = 0;
};

// The first average of fast %K (STOCH's slowk, STOCHF's fastd): one series
// for a set's STOCH and STOCHF of the same %K period and average, fed from the
// first %K value on.
class KAverage {
public:
    KAverage() = default;
    // The %K period, the average's type and its period are the parameters k, type and period.
    KAverage(const Params& p, std::size_t k, std::size_t type, std::size_t period)
        : k_(FastK(iparam(p, k))),
          avg_(MovingAverage(ma_type(p.at(type)), iparam(p, period))),
          k_key_(period_key(iparam(p, k))),
          avg_key_(k_key_ + "/" + std::to_string(iparam(p, type)) + "/" + std::to_string(iparam(p, period))) {}
    void share(SharedStates& pool) {
        pool.link(k_, k_key_);
        pool.link(avg_, "%K " + avg_key_);  // not a close average's key
    }
    // True once the average has a value.
    [[gnu::always_inline]] bool advance(const Bar& b, std::size_t seen) noexcept {
        if (!k_.advance(b, seen)) return false;
        return avg_.advance(k_->value(), seen - static_cast<std::size_t>(k_->lookback()));
    }
    double k() const noexcept { return k_->value(); }
    double value() const noexcept { return avg_->value(); }
    int lookback() const noexcept { return k_->lookback() + avg_->lookback(); }
    template <class V>
    void fields(V& v) { v(k_, avg_); }

private:
    Shared<FastK> k_;
    Shared<MovingAverage> avg_;
    std::string k_key_, avg_key_;
};

class Stoch : public IndicatorImpl<Stoch> {
public:
    explicit Stoch(const Params& p) : slowk_(p, 0, 2, 1), slowd_(ma_type(p.at(4)), iparam(p, 3)) {}
    int lookback() const override { return slowk_.lookback() + slowd_.lookback(); }
    template <class V>
    void fields(V& v) { v(slowk_, slowd_); }

private:
    void share(SharedStates& pool) override { slowk_.share(pool); }
    [[gnu::hot, gnu::always_inline]] void step(const Bar& b) noexcept override {
        if (!slowk_.advance(b, bars_seen_) || !slowd_.update(slowk_.value())) return;
        out_[0] = slowk_.value();
        out_[1] = slowd_.value();
    }
    KAverage slowk_;
    MovingAverage slowd_;
};

class StochF : public IndicatorImpl<StochF> {
public:
    explicit StochF(const Params& p) : d_(p, 0, 2, 1) {}
    int lookback() const override { return d_.lookback(); }
    template <class V>
    void fields(V& v) { v(d_); }

private:
    void share(SharedStates& pool) override { d_.share(pool); }
    [[gnu::hot, gnu::always_inline]] void step(const Bar& b) noexcept override {
        if (!d_.advance(b, bars_seen_)) return;
        out_[0] = d_.k();
        out_[1] = d_.value();
    }
    KAverage d_;
};

// ---- CCI: typical price against its mean deviation. The deviation needs
// every value of the window, as in TA-Lib, so this one is O(period) per bar.
class Cci : public IndicatorImpl<Cci> {
public:
    explicit Cci(const Params& p) : period_(iparam(p, 0)), tp_(static_cast<std::size_t>(period_)) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(tp_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        const double last = (b.high + b.low + b.close) / 3;
        tp_.push(last);
        if (bars_seen_ + 1 < static_cast<std::size_t>(period_)) return;
        // On a constant window TA-Lib's mean is off the value by the rounding
        // of its add chain alone, and CCI is that rounding over itself (+-66.67
        // or 0): PairWindow follows its chains there.
        const double avg = tp_.mean();
        const double dev = tp_.deviation(avg);
        // dev >= |d| > 0 when d is not 0: |last - avg| is one of its terms.
        const double d = last - avg;
        out_[0] = d != 0.0 ? d / (0.015 * (dev / period_)) : 0.0;
    }
    int period_;
    PairWindow tp_;
};

// STOCHRSI: STOCHF applied to the RSI series (high = low = close = RSI).
class StochRsi : public IndicatorImpl<StochRsi> {
public:
    explicit StochRsi(const Params& p)
        : rsi_(GainLossState(iparam(p, 0))), k_(iparam(p, 1)), d_(ma_type(p.at(3)), iparam(p, 2)) {}
    int lookback() const override { return rsi_->lookback() + k_.lookback() + d_.lookback(); }
    template <class V>
    void fields(V& v) { v(rsi_, k_, d_); }

private:
    void share(SharedStates& pool) override { pool.link(rsi_, period_key(iparam(params(), 0))); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!rsi_.advance(b.close, bars_seen_)) return;
        const double r = rsi_->rsi();
        if (!k_.update(r, r, r) || !d_.update(k_.value())) return;
        out_[0] = k_.value();
        out_[1] = d_.value();
    }
    Shared<GainLossState> rsi_;
    FastK k_;
    MovingAverage d_;
};

// TRIX: one-bar rate of change of a triple EMA.
class Trix : public IndicatorImpl<Trix> {
public:
    explicit Trix(const Params& p) : e1_(iparam(p, 0)), e2_(iparam(p, 0)), e3_(iparam(p, 0)) {}
    int lookback() const override { return 3 * e1_.lookback() + 1; }
    template <class V>
    void fields(V& v) { v(e1_, e2_, e3_, has_prev_, prev_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!e1_.update(b.close) || !e2_.update(e1_.value()) || !e3_.update(e2_.value())) return;
        const double x = e3_.value();
        if (has_prev_) out_[0] = prev_ != 0.0 ? ((x / prev_) - 1.0) * 100.0 : 0.0;
        has_prev_ = true;
        prev_ = x;
    }
    EmaState e1_, e2_, e3_;
    bool has_prev_ = false;
    double prev_ = 0;
};

// ULTOSC: buying pressure over true range on three horizons, weighted 4:2:1.
// The three running sums of each series share one window of the longest
// horizon (a value leaves horizon i when it is per_[i] pushes old), with
// TA-Lib's operations: subtract the value leaving, then add the new one. The
// pressure and the range of a bar are one pair, and their sums on a horizon
// are another, so each step is one SSE2 operation for both. The window is
// stored twice over (at i and i + longest), so a value of any age is at a
// fixed offset from the head; before a value exists its slot holds 0, and
// subtracting 0 changes no sum.
class UltOsc : public IndicatorImpl<UltOsc> {
public:
    explicit UltOsc(const Params& p) : per_{iparam(p, 0), iparam(p, 1), iparam(p, 2)} {
        std::sort(per_.begin(), per_.end());
        longest_ = static_cast<std::size_t>(per_[2]);
        pairs_.assign(4 * longest_, 0.0);
    }
    int lookback() const override { return per_[2]; }
    template <class V>
    void fields(V& v) {
        v(pairs_, head_, sums_, prev_close_);
        if (pairs_.size() != 4 * longest_ || head_ >= longest_) throw StateError("snapshot: inconsistent ULTOSC state");
    }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (bars_seen_ == 0) {
            prev_close_ = b.close;
            return;
        }
        const double true_low = std::min(b.low, prev_close_);
        const Pair now = {b.close - true_low, true_range(b.high, b.low, prev_close_)};
        prev_close_ = b.close;
        // The newest pair is at head_ - 1 + longest_, the one k pushes older 2k doubles before.
        const double* newest = pairs_.data() + 2 * (head_ + longest_ - 1);
        for (std::size_t i = 0; i < 3; ++i) {
            const Pair leaving = load(newest - 2 * (static_cast<std::size_t>(per_[i]) - 1));
            store(&sums_[2 * i], (load(&sums_[2 * i]) - leaving) + now);
        }
        store(&pairs_[2 * head_], now);
        store(&pairs_[2 * (head_ + longest_)], now);
        head_ = head_ + 1 == longest_ ? 0 : head_ + 1;
        if (bars_seen_ < longest_) return;
        out_[0] = 100.0 * (oscillator() / 7.0);
    }
    // TA-Lib's 4 * bp0 / tr0 + 2 * bp1 / tr1 + bp2 / tr2, each term left out
    // (here: +0, which changes no sum) when its range sum is about 0; the
    // first two are divided as one pair.
    double oscillator() const noexcept {
        const Pair bp = {sums_[0], sums_[2]}, tr = {sums_[1], sums_[3]};
        const Pair limit = {1e-14, 1e-14};
        const Bits zero = std::bit_cast<Pair>(std::bit_cast<Bits>(tr) & kAbs) < limit;  // TA-Lib's TA_IS_ZERO
        const Pair q = std::bit_cast<Pair>(std::bit_cast<Bits>(bp / tr) & ~zero);
        double out = 0.0 + 4.0 * q[0];
        out += 2.0 * q[1];
        if (!is_zero(sums_[5])) out += sums_[4] / sums_[5];
        return out;
    }
    std::array<int, 3> per_;
    std::size_t longest_ = 1;
    StateVector<double> pairs_;  // (pressure, range) of the last `longest_` bars, twice
    std::size_t head_ = 0;
    std::array<double, 6> sums_{};  // (pressure, range) sums by horizon, shortest first
    double prev_close_ = 0;
};

// MFI: typical-price money flow split by direction over the period. The
// flows (positive, negative) of a bar are one SSE2 pair in one ring, summed as
// a pair: lane by lane WindowSum's operations (drop the oldest, add the new
// one, an exact resum oldest first every 64 windows), so the same bits.
class Mfi : public IndicatorImpl<Mfi> {
public:
    explicit Mfi(const Params& p)
        : period_(static_cast<std::size_t>(iparam(p, 0))), flows_(2 * period_) {}
    int lookback() const override { return static_cast<int>(period_); }
    template <class V>
    void fields(V& v) {
        v(flows_, head_, sums_, since_exact_, prev_);
        if (flows_.size() != 2 * period_ || head_ >= period_) throw StateError("snapshot: inconsistent MFI state");
    }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        const double tp = (b.high + b.low + b.close) / 3.0, change = tp - prev_;
        prev_ = tp;
        if (bars_seen_ == 0) return;
        const double flow = tp * b.volume;
        // The direction is a coin toss on real prices: select, do not branch.
        const Pair now = {select(change > 0, flow, 0.0), select(change < 0, flow, 0.0)};
        // Before the window is full the slot is (0, 0): subtracting it changes nothing.
        double* slot = &flows_[2 * head_];
        const Pair sums = (load(sums_.data()) - load(slot)) + now;
        store(slot, now);
        store(sums_.data(), sums);
        head_ = head_ + 1 == period_ ? 0 : head_ + 1;
        if (++since_exact_ >= 64 * period_) [[unlikely]] resum();
        if (bars_seen_ < period_) return;
        const double total = sums_[0] + sums_[1];
        out_[0] = total < 1.0 ? 0.0 : 100.0 * (sums_[0] / total);
    }
    [[gnu::cold, gnu::noinline]] void resum() noexcept {
        since_exact_ = 0;
        Pair s = {0, 0};
        for (std::size_t i = 0, k = head_; i < period_; ++i, k = k + 1 == period_ ? 0 : k + 1)
            s += load(&flows_[2 * k]);
        store(sums_.data(), s);
    }
    std::size_t period_;
    StateVector<double> flows_;  // (positive, negative) of the last `period_` bars, oldest at head_
    std::size_t head_ = 0;
    std::array<double, 2> sums_{};
    std::size_t since_exact_ = 0;
    double prev_ = 0;
};

ParamSpec matype_param(const char* name = "matype") { return {name, 0, 0, 8, true}; }

}  // namespace

void register_momentum(std::vector<IndicatorSpec>& out) {
    const std::vector<std::string> close{"close"}, hlc{"high", "low", "close"};
    out.push_back(spec("mom", "Momentum", Group::momentum, close, {period_param(10, 1)}, {"real"},
                       factory<PriceChange<Change::mom>>()));
    out.push_back(spec("roc", "Rate of change : ((price/prevPrice)-1)*100", Group::momentum, close,
                       {period_param(10, 1)}, {"real"}, factory<PriceChange<Change::roc>>()));
    out.push_back(spec("rocp", "Rate of change Percentage: (price-prevPrice)/prevPrice", Group::momentum, close,
                       {period_param(10, 1)}, {"real"}, factory<PriceChange<Change::rocp>>()));
    out.push_back(spec("rocr", "Rate of change ratio: (price/prevPrice)", Group::momentum, close,
                       {period_param(10, 1)}, {"real"}, factory<PriceChange<Change::rocr>>()));
    out.push_back(spec("rocr100", "Rate of change ratio 100 scale: (price/prevPrice)*100", Group::momentum, close,
                       {period_param(10, 1)}, {"real"}, factory<PriceChange<Change::rocr100>>()));
    out.push_back(spec("bop", "Balance Of Power", Group::momentum, {"open", "high", "low", "close"}, {}, {"real"},
                       factory<Bop>()));
    out.push_back(spec("willr", "Williams' %R", Group::momentum, hlc, {period_param(14)}, {"real"}, factory<HighLowIndicator<WillrOut>>()));
    out.push_back(spec("rsi", "Relative Strength Index", Group::momentum, close, {period_param(14)}, {"real"},
                       factory<GainLossOscillator<false>>()));
    out.push_back(spec("cmo", "Chande Momentum Oscillator", Group::momentum, close, {period_param(14)}, {"real"},
                       factory<GainLossOscillator<true>>()));
    out.push_back(spec("macd", "Moving Average Convergence/Divergence", Group::momentum, close,
                       {period_param(12, 2, "fastperiod"), period_param(26, 2, "slowperiod"),
                        period_param(9, 1, "signalperiod")},
                       {"macd", "macdsignal", "macdhist"}, factory<Macd>()));
    out.push_back(spec("macdfix", "Moving Average Convergence/Divergence Fix 12/26", Group::momentum, close,
                       {period_param(9, 1, "signalperiod")}, {"macd", "macdsignal", "macdhist"},
                       factory<MacdFix>()));
    out.push_back(spec("macdext", "MACD with controllable MA type", Group::momentum, close,
                       {period_param(12, 2, "fastperiod"), matype_param("fastmatype"), period_param(26, 2, "slowperiod"),
                        matype_param("slowmatype"), period_param(9, 1, "signalperiod"), matype_param("signalmatype")},
                       {"macd", "macdsignal", "macdhist"}, factory<MacdExt>()));
    out.push_back(spec("apo", "Absolute Price Oscillator", Group::momentum, close,
                       {period_param(12, 2, "fastperiod"), period_param(26, 2, "slowperiod"), matype_param()},
                       {"real"}, factory<PriceOscillator<false>>()));
    out.push_back(spec("ppo", "Percentage Price Oscillator", Group::momentum, close,
                       {period_param(12, 2, "fastperiod"), period_param(26, 2, "slowperiod"), matype_param()},
                       {"real"}, factory<PriceOscillator<true>>()));
    out.push_back(spec("stoch", "Stochastic", Group::momentum, hlc,
                       {period_param(5, 1, "fastk_period"), period_param(3, 1, "slowk_period"),
                        matype_param("slowk_matype"), period_param(3, 1, "slowd_period"), matype_param("slowd_matype")},
                       {"slowk", "slowd"}, factory<Stoch>()));
    out.push_back(spec("stochf", "Stochastic Fast", Group::momentum, hlc,
                       {period_param(5, 1, "fastk_period"), period_param(3, 1, "fastd_period"),
                        matype_param("fastd_matype")},
                       {"fastk", "fastd"}, factory<StochF>()));
    out.push_back(spec("stochrsi", "Stochastic Relative Strength Index", Group::momentum, close,
                       {period_param(14), period_param(5, 1, "fastk_period"), period_param(3, 1, "fastd_period"),
                        matype_param("fastd_matype")},
                       {"fastk", "fastd"}, factory<StochRsi>()));
    out.push_back(spec("trix", "1-day Rate-Of-Change (ROC) of a Triple Smooth EMA", Group::momentum, close,
                       {period_param(30, 1)}, {"real"}, factory<Trix>()));
    out.push_back(spec("ultosc", "Ultimate Oscillator", Group::momentum, hlc,
                       {period_param(7, 1, "timeperiod1"), period_param(14, 1, "timeperiod2"),
                        period_param(28, 1, "timeperiod3")},
                       {"real"}, factory<UltOsc>()));
    out.push_back(spec("mfi", "Money Flow Index", Group::volume, {"high", "low", "close", "volume"},
                       {period_param(14)}, {"real"}, factory<Mfi>()));
    out.push_back(spec("cci", "Commodity Channel Index", Group::momentum, hlc, {period_param(14)}, {"real"},
                       factory<Cci>()));
}

}  // namespace pricecast::indicators
