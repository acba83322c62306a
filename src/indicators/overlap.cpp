#include <algorithm>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"
#include "indicators/ma.hpp"

namespace pricecast::indicators {

namespace {


// SMA, and MA with matype 0: a set's SMAs of one period (and its SUM) run one
// window sum of the closes.
class Sma : public IndicatorImpl<Sma> {
public:
    explicit Sma(const Params& p) : period_(iparam(p, 0)), sma_(SmaState(period_)) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(sma_); }

private:
    void share(SharedStates& pool) override { pool.link(sma_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (sma_.advance(b.close, bars_seen_)) out_[0] = sma_->value();
    }
    int period_;
    Shared<SmaState> sma_;
};

// MA(timeperiod, matype): any of the kernels by TA-Lib's type number.
class Ma : public IndicatorImpl<Ma> {
public:
    explicit Ma(const Params& p) : k_(ma_type(p.at(1)), iparam(p, 0)) {}
    int lookback() const override { return k_.lookback(); }
    template <class V>
    void fields(V& v) { v(k_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (k_.update(b.close)) out_[0] = k_.value();
    }
    MovingAverage k_;
};

// Bollinger Bands: MA +- nbdev * population standard deviation over the period.
class Bbands : public IndicatorImpl<Bbands> {
public:
    explicit Bbands(const Params& p)
        : period_(iparam(p, 0)),
          up_(p.at(1)),
          down_(p.at(2)),
          ma_(ma_type(p.at(3)), period_),
          var_(VarianceState(period_)) {}
    int lookback() const override { return ma_.lookback(); }
    template <class V>
    void fields(V& v) { v(ma_, var_); }

private:
    // TA-Lib's deviation is its STDDEV's whatever the average (for SMA it
    // reuses the average, with the same operations): a set's VAR and STDDEV
    // of the same period compute it.
    void share(SharedStates& pool) override { pool.link(var_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        var_.advance(b.close, bars_seen_);
        if (!ma_.update(b.close)) return;
        const double var = var_->value();
        const double sd = !is_zero_or_neg(var) ? std::sqrt(var) : 0.0;
        const double mid = ma_.value();
        out_[0] = mid + up_ * sd;
        out_[1] = mid;
        out_[2] = mid - down_ * sd;
    }
    int period_;
    double up_, down_;
    MovingAverage ma_;
    Shared<VarianceState> var_;
};

// MIDPOINT: (max + min) / 2 of the close: MIDPRICE's window, fed the close as
// both high and low (so never shared with a MIDPRICE's).
class Midpoint : public IndicatorImpl<Midpoint> {
public:
    explicit Midpoint(const Params& p) : period_(iparam(p, 0)), hl_(period_) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(hl_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        hl_.push(b.close, b.close);
        if (bars_seen_ + 1 >= static_cast<std::size_t>(period_)) out_[0] = (hl_.highest() + hl_.lowest()) / 2.0;
    }
    int period_;
    HighLowWindow hl_;
};

// MIDPRICE: (highest high + lowest low) / 2, on HighLowIndicator (impl.hpp), WILLR's window.
struct MidPriceOut {
    static double value(const HighLowWindow& w, const Bar&) noexcept { return (w.highest() + w.lowest()) / 2.0; }
};

// T3 with its volume factor (MA's T3 uses 0.7).
class T3 : public IndicatorImpl<T3> {
public:
    explicit T3(const Params& p) : k_(iparam(p, 0), p.at(1)) {}
    int lookback() const override { return k_.lookback(); }
    template <class V>
    void fields(V& v) { v(k_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (k_.update(b.close)) out_[0] = k_.value();
    }
    T3State k_;
};

class Mama : public IndicatorImpl<Mama> {
public:
    explicit Mama(const Params& p) : k_(p.at(0), p.at(1)) {}
    int lookback() const override { return k_.lookback(); }
    template <class V>
    void fields(V& v) { v(k_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!k_.update(b.close)) return;
        out_[0] = k_.value();
        out_[1] = k_.fama();
    }
    MamaState k_;
};

// A new extreme point moves the SAR's extreme and steps its acceleration
// factor up to the maximum. In a trend a new high (low) is a coin toss on
// every bar: select, do not branch.
void advance_extreme(double& ep, double& af, bool new_extreme, double price, double step, double max) noexcept {
    ep = select(new_extreme, price, ep);
    af = select(new_extreme, std::min(af + step, max), af);
}

// Parabolic SAR in TA-Lib's formulation: the first direction comes from the
// first bar's minus directional movement; the value is the SAR in force for
// the bar, before it is moved for the next one.
class Sar : public IndicatorImpl<Sar> {
public:
    explicit Sar(const Params& p) : accel_(p.at(0)), max_(p.at(1)) {
        if (accel_ > max_) accel_ = max_;
        af_ = accel_;
    }
    int lookback() const override { return 1; }
    template <class V>
    void fields(V& v) { v(af_, ep_, sar_, is_long_, prev_high_, prev_low_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (bars_seen_ == 0) [[unlikely]] {
            prev_high_ = b.high, prev_low_ = b.low;
            return;
        }
        if (bars_seen_ == 1) [[unlikely]] {
            const double diff_p = b.high - prev_high_, diff_m = prev_low_ - b.low;
            is_long_ = !(diff_m > 0 && diff_p < diff_m);
            ep_ = is_long_ ? b.high : b.low;
            sar_ = is_long_ ? prev_low_ : prev_high_;
            prev_high_ = b.high, prev_low_ = b.low;
        }
        const double prev_low = prev_low_, prev_high = prev_high_, low = b.low, high = b.high;
        prev_low_ = low, prev_high_ = high;
        if (is_long_) {
            if (low <= sar_) {
                is_long_ = false;
                sar_ = std::max({ep_, prev_high, high});
                out_[0] = sar_;
                af_ = accel_;
                ep_ = low;
                sar_ = std::max({sar_ + af_ * (ep_ - sar_), prev_high, high});
            } else {
                out_[0] = sar_;
                advance_extreme(ep_, af_, high > ep_, high, accel_, max_);
                sar_ = std::min({sar_ + af_ * (ep_ - sar_), prev_low, low});
            }
        } else {
            if (high >= sar_) {
                is_long_ = true;
                sar_ = std::min({ep_, prev_low, low});
                out_[0] = sar_;
                af_ = accel_;
                ep_ = high;
                sar_ = std::min({sar_ + af_ * (ep_ - sar_), prev_low, low});
            } else {
                out_[0] = sar_;
                advance_extreme(ep_, af_, low < ep_, low, accel_, max_);
                sar_ = std::max({sar_ + af_ * (ep_ - sar_), prev_high, high});
            }
        }
    }
    double accel_, max_;
    double af_ = 0, ep_ = 0, sar_ = 0;
    bool is_long_ = true;
    double prev_high_ = 0, prev_low_ = 0;
};

// SAREXT: SAR with its own acceleration per direction, an optional start
// value (> 0 long, < 0 short, 0 as SAR) and an offset applied on reversal.
// The value is negative while short, as TA-Lib reports it.
class SarExt : public IndicatorImpl<SarExt> {
public:
    explicit SarExt(const Params& p)
        : start_(p.at(0)),
          offset_(p.at(1)),
          long_{p.at(2), p.at(3), p.at(4)},
          short_{p.at(5), p.at(6), p.at(7)} {
        long_.clamp();
        short_.clamp();
        af_long_ = long_.init;
        af_short_ = short_.init;
    }
    int lookback() const override { return 1; }
    template <class V>
    void fields(V& v) { v(af_long_, af_short_, ep_, sar_, is_long_, prev_high_, prev_low_); }

private:
    struct Accel {
        double init, step, max;
        // TA-Lib caps the initial and step factors at the maximum.
        void clamp() noexcept {
            if (init > max) init = max;
            if (step > max) step = max;
        }
    };
    void start(const Bar& b) noexcept {
        if (start_ == 0) {
            const double diff_p = b.high - prev_high_, diff_m = prev_low_ - b.low;
            is_long_ = !(diff_m > 0 && diff_p < diff_m);
            sar_ = is_long_ ? prev_low_ : prev_high_;
        } else {
            is_long_ = start_ > 0;
            sar_ = std::abs(start_);
        }
        ep_ = is_long_ ? b.high : b.low;
        prev_high_ = b.high, prev_low_ = b.low;
    }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (bars_seen_ == 0) [[unlikely]] {
            prev_high_ = b.high, prev_low_ = b.low;
            return;
        }
        if (bars_seen_ == 1) [[unlikely]] start(b);
        const double prev_low = prev_low_, prev_high = prev_high_;
        prev_low_ = b.low, prev_high_ = b.high;
        if (is_long_) step_long(b.high, b.low, prev_high, prev_low);
        else step_short(b.high, b.low, prev_high, prev_low);
    }
    void step_long(double high, double low, double prev_high, double prev_low) noexcept {
        if (low <= sar_) {
            is_long_ = false;
            sar_ = std::max({ep_, prev_high, high});
            if (offset_ != 0.0) sar_ += sar_ * offset_;
            out_[0] = -sar_;
            af_short_ = short_.init;
            ep_ = low;
            sar_ = std::max({sar_ + af_short_ * (ep_ - sar_), prev_high, high});
            return;
        }
        out_[0] = sar_;
        advance_extreme(ep_, af_long_, high > ep_, high, long_.step, long_.max);
        sar_ = std::min({sar_ + af_long_ * (ep_ - sar_), prev_low, low});
    }
    void step_short(double high, double low, double prev_high, double prev_low) noexcept {
        if (high >= sar_) {
            is_long_ = true;
            sar_ = std::min({ep_, prev_low, low});
            if (offset_ != 0.0) sar_ -= sar_ * offset_;
            out_[0] = sar_;
            af_long_ = long_.init;
            ep_ = high;
            sar_ = std::min({sar_ + af_long_ * (ep_ - sar_), prev_low, low});
            return;
        }
        out_[0] = -sar_;
        advance_extreme(ep_, af_short_, low < ep_, low, short_.step, short_.max);
        sar_ = std::max({sar_ + af_short_ * (ep_ - sar_), prev_high, high});
    }
    double start_, offset_;
    Accel long_, short_;
    double af_long_ = 0, af_short_ = 0, ep_ = 0, sar_ = 0;
    bool is_long_ = true;
    double prev_high_ = 0, prev_low_ = 0;
};

}  // namespace

void register_overlap(std::vector<IndicatorSpec>& out) {
    out.push_back({"sma", "SMA", "Simple Moving Average", Group::overlap, {"close"}, {period_param(30)}, {"real"},
                   false, factory<Sma>()});
    out.push_back({"ema", "EMA", "Exponential Moving Average", Group::overlap, {"close"}, {period_param(30)},
                   {"real"}, false, factory<CloseKernel<EmaState>>()});
    out.push_back(spec("wma", "Weighted Moving Average", Group::overlap, {"close"}, {period_param(30)}, {"real"},
                       factory<CloseKernel<WmaState>>()));
    out.push_back(spec("dema", "Double Exponential Moving Average", Group::overlap, {"close"}, {period_param(30)},
                       {"real"}, factory<CloseKernel<MultiEmaState<2>>>()));
    out.push_back(spec("tema", "Triple Exponential Moving Average", Group::overlap, {"close"}, {period_param(30)},
                       {"real"}, factory<CloseKernel<MultiEmaState<3>>>()));
    out.push_back(spec("trima", "Triangular Moving Average", Group::overlap, {"close"}, {period_param(30)}, {"real"},
                       factory<CloseKernel<TrimaState>>()));
    out.push_back(spec("kama", "Kaufman Adaptive Moving Average", Group::overlap, {"close"}, {period_param(30)},
                       {"real"}, factory<CloseKernel<KamaState>>()));
    out.push_back(spec("t3", "Triple Exponential Moving Average (T3)", Group::overlap, {"close"},
                       {period_param(5), {"vfactor", 0.7, 0, 1, false}}, {"real"}, factory<T3>()));
    out.push_back(spec("sar", "Parabolic SAR", Group::overlap, {"high", "low"},
                       {{"acceleration", 0.02, 0, 3e37, false}, {"maximum", 0.2, 0, 3e37, false}}, {"real"},
                       factory<Sar>()));
    auto factor = [](const char* name, double def) { return ParamSpec{name, def, 0, 3e37, false}; };
    out.push_back(spec("sarext", "Parabolic SAR - Extended", Group::overlap, {"high", "low"},
                       {{"startvalue", 0, -3e37, 3e37, false}, factor("offsetonreverse", 0),
                        factor("accelerationinitlong", 0.02), factor("accelerationlong", 0.02),
                        factor("accelerationmaxlong", 0.2), factor("accelerationinitshort", 0.02),
                        factor("accelerationshort", 0.02), factor("accelerationmaxshort", 0.2)},
                       {"real"}, factory<SarExt>()));
    out.push_back(spec("mama", "MESA Adaptive Moving Average", Group::overlap, {"close"},
                       {{"fastlimit", 0.5, 0.01, 0.99, false}, {"slowlimit", 0.05, 0.01, 0.99, false}},
                       {"mama", "fama"}, factory<Mama>()));
    out.push_back(spec("ma", "Moving average", Group::overlap, {"close"},
                       {period_param(30, 1), {"matype", 0, 0, 8, true}}, {"real"},
                       [](const Params& p) -> std::unique_ptr<Indicator> {
                           if (ma_type(p.at(1)) == MaType::sma) return std::make_unique<Member<Sma>>(p);
                           return std::make_unique<Member<Ma>>(p);
                       }));
    out.push_back(spec("bbands", "Bollinger Bands", Group::overlap, {"close"},
                       {period_param(5), {"nbdevup", 2, -3e37, 3e37, false}, {"nbdevdn", 2, -3e37, 3e37, false},
                        {"matype", 0, 0, 8, true}},
                       {"upperband", "middleband", "lowerband"}, factory<Bbands>()));
    out.push_back(spec("midpoint", "MidPoint over period", Group::overlap, {"close"}, {period_param(14)}, {"real"},
                       factory<Midpoint>()));
    out.push_back(spec("midprice", "Midpoint Price over period", Group::overlap, {"high", "low"}, {period_param(14)},
                       {"real"}, factory<HighLowIndicator<MidPriceOut>>()));
}

}  // namespace pricecast::indicators
