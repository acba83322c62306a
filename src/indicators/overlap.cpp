#include <algorithm>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"
#include "indicators/ma.hpp"

namespace pricecast::indicators {

MovingAverage::MovingAverage(MaType type, int period) {
    // TA-Lib's MA with period 1 is the input itself, whatever the type.
    if (period == 1) type = MaType::sma;
    switch (type) {
        case MaType::sma: kernel_ = SmaState(period); break;
        case MaType::ema: kernel_ = EmaState(period); break;
        case MaType::wma: kernel_ = WmaState(period); break;
        case MaType::dema: kernel_ = MultiEmaState<2>(period); break;
        case MaType::tema: kernel_ = MultiEmaState<3>(period); break;
        case MaType::trima: kernel_ = TrimaState(period); break;
        default: throw IndicatorError("moving average type " + std::to_string(static_cast<int>(type)) + " not supported");
    }
}

MaType ma_type(double param) {
    int t = static_cast<int>(param);
    if (t < 0 || t > 8) throw IndicatorError("matype must be in [0, 8]");
    return static_cast<MaType>(t);
}

namespace {


// MA(timeperiod, matype): any of the kernels by TA-Lib's type number.
class Ma : public IndicatorImpl<Ma> {
public:
    explicit Ma(const Params& p) : IndicatorImpl(p, 1), k_(ma_type(p.at(1)), iparam(p, 0)) {}
    int lookback() const override { return k_.lookback(); }
    template <class V>
    void fields(V& v) { v(k_); }

private:
    void step(const Bar& b) noexcept override {
        if (k_.update(b.close)) out_[0] = k_.value();
    }
    MovingAverage k_;
};

// Bollinger Bands: MA +- nbdev * population standard deviation over the period.
class Bbands : public IndicatorImpl<Bbands> {
public:
    explicit Bbands(const Params& p)
        : IndicatorImpl(p, 3),
          period_(iparam(p, 0)),
          up_(p.at(1)),
          down_(p.at(2)),
          ma_(ma_type(p.at(3)), period_),
          sum_(static_cast<std::size_t>(period_), false),
          sum2_(static_cast<std::size_t>(period_), false) {}
    int lookback() const override { return ma_.lookback(); }
    template <class V>
    void fields(V& v) { v(ma_, sum_, sum2_); }

private:
    void step(const Bar& b) noexcept override {
        sum_.push(b.close);
        sum2_.push(b.close * b.close);
        if (!ma_.update(b.close)) return;
        const double mean = sum_.sum() / period_;
        const double var = sum2_.sum() / period_ - mean * mean;
        const double sd = !is_zero_or_neg(var) ? std::sqrt(var) : 0.0;
        const double mid = ma_.value();
        out_[0] = mid + up_ * sd;
        out_[1] = mid;
        out_[2] = mid - down_ * sd;
    }
    int period_;
    double up_, down_;
    MovingAverage ma_;
    WindowSum sum_, sum2_;
};

// MIDPOINT: (max + min) / 2 of the close; MIDPRICE: (highest high + lowest low) / 2.
template <bool Price>
class Midpoint : public IndicatorImpl<Midpoint<Price>> {
public:
    explicit Midpoint(const Params& p)
        : IndicatorImpl<Midpoint<Price>>(p, 1),
          period_(iparam(p, 0)),
          hi_(static_cast<std::size_t>(period_)),
          lo_(static_cast<std::size_t>(period_)) {}
    int lookback() const override { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(hi_, lo_); }

private:
    void step(const Bar& b) noexcept override {
        hi_.push(Price ? b.high : b.close);
        lo_.push(Price ? b.low : b.close);
        if (hi_.count() >= static_cast<std::size_t>(period_)) this->out_[0] = (hi_.value() + lo_.value()) / 2.0;
    }
    int period_;
    WindowMax hi_;
    WindowMin lo_;
};

// KAMA, Kaufman's adaptive MA, in TA-Lib's formulation (its efficiency ratio
// is 1 whenever the path length <= the signed net change).
class Kama : public IndicatorImpl<Kama> {
public:
    explicit Kama(const Params& p) : IndicatorImpl(p, 1), period_(iparam(p, 0)), win_(static_cast<std::size_t>(period_) + 1) {}
    int lookback() const override { return period_; }
    template <class V>
    void fields(V& v) { v(win_, sum_roc_, trailing_, kama_); }

private:
    void step(const Bar& b) noexcept override {
        const double x = b.close;
        const std::size_t i = bars_seen_;
        const std::size_t n = static_cast<std::size_t>(period_);
        if (i > 0 && i <= n) sum_roc_ += std::abs(win_.ago(0) - x);
        win_.push(x);
        if (i < n) return;
        const double oldest = win_.oldest();  // the close `period` bars ago
        if (i == n) {
            kama_ = win_.ago(1);
        } else {
            sum_roc_ -= std::abs(trailing_ - oldest);
            sum_roc_ += std::abs(x - win_.ago(1));
        }
        trailing_ = oldest;
        const double roc = x - oldest;
        double er = (sum_roc_ <= roc || is_zero(sum_roc_)) ? 1.0 : std::abs(roc / sum_roc_);
        constexpr double kFast = 2.0 / (2.0 + 1.0), kSlow = 2.0 / (30.0 + 1.0);
        er = er * (kFast - kSlow) + kSlow;
        er *= er;
        kama_ = (x - kama_) * er + kama_;
        out_[0] = kama_;
    }
    int period_;
    Window<double> win_;
    double sum_roc_ = 0, trailing_ = 0, kama_ = 0;
};

// T3 (Tillson): six cascaded EMAs, each seeded by the mean of the first
// `period` values of the one before, combined with the volume factor.
class T3 : public IndicatorImpl<T3> {
public:
    explicit T3(const Params& p) : IndicatorImpl(p, 1) {
        for (auto& e : ema_) e = EmaState(iparam(p, 0));
        const double a = p.at(1), a2 = a * a;
        c1_ = -a2 * a;
        c2_ = 3.0 * (a2 - c1_);
        c3_ = -6.0 * a2 - 3.0 * (a - c1_);
        c4_ = 1.0 + 3.0 * a - c1_ + 3.0 * a2;
    }
    int lookback() const override { return 6 * ema_[0].lookback(); }
    template <class V>
    void fields(V& v) {
        for (auto& e : ema_) e.fields(v);
    }

private:
    void step(const Bar& b) noexcept override {
        double x = b.close;
        for (auto& e : ema_) {
            if (!e.update(x)) return;
            x = e.value();
        }
        out_[0] = c1_ * ema_[5].value() + c2_ * ema_[4].value() + c3_ * ema_[3].value() + c4_ * ema_[2].value();
    }
    std::array<EmaState, 6> ema_;
    double c1_ = 0, c2_ = 0, c3_ = 0, c4_ = 0;
};

// Parabolic SAR in TA-Lib's formulation: the first direction comes from the
// first bar's minus directional movement; the value is the SAR in force for
// the bar, before it is moved for the next one.
class Sar : public IndicatorImpl<Sar> {
public:
    explicit Sar(const Params& p) : IndicatorImpl(p, 1), accel_(p.at(0)), max_(p.at(1)) {
        if (accel_ > max_) accel_ = max_;
        af_ = accel_;
    }
    int lookback() const override { return 1; }
    template <class V>
    void fields(V& v) { v(af_, ep_, sar_, is_long_, prev_high_, prev_low_); }

private:
    void step(const Bar& b) noexcept override {
        if (bars_seen_ == 0) {
            prev_high_ = b.high, prev_low_ = b.low;
            return;
        }
        if (bars_seen_ == 1) {
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
                if (high > ep_) {
                    ep_ = high;
                    af_ = std::min(af_ + accel_, max_);
                }
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
                if (low < ep_) {
                    ep_ = low;
                    af_ = std::min(af_ + accel_, max_);
                }
                sar_ = std::max({sar_ + af_ * (ep_ - sar_), prev_high, high});
            }
        }
    }
    double accel_, max_;
    double af_ = 0, ep_ = 0, sar_ = 0;
    bool is_long_ = true;
    double prev_high_ = 0, prev_low_ = 0;
};

}  // namespace

void register_overlap(std::vector<IndicatorSpec>& out) {
    out.push_back({"sma", "SMA", "Simple Moving Average", Group::overlap, {"close"}, {period_param(30)}, {"real"},
                   false, factory<CloseKernel<SmaState>>()});
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
                       {"real"}, factory<Kama>()));
    out.push_back(spec("t3", "Triple Exponential Moving Average (T3)", Group::overlap, {"close"},
                       {period_param(5), {"vfactor", 0.7, 0, 1, false}}, {"real"}, factory<T3>()));
    out.push_back(spec("sar", "Parabolic SAR", Group::overlap, {"high", "low"},
                       {{"acceleration", 0.02, 0, 3e37, false}, {"maximum", 0.2, 0, 3e37, false}}, {"real"},
                       factory<Sar>()));
    out.push_back(spec("ma", "Moving average", Group::overlap, {"close"},
                       {period_param(30, 1), {"matype", 0, 0, 8, true}}, {"real"}, factory<Ma>()));
    out.push_back(spec("bbands", "Bollinger Bands", Group::overlap, {"close"},
                       {period_param(5), {"nbdevup", 2, -3e37, 3e37, false}, {"nbdevdn", 2, -3e37, 3e37, false},
                        {"matype", 0, 0, 8, true}},
                       {"upperband", "middleband", "lowerband"}, factory<Bbands>()));
    out.push_back(spec("midpoint", "MidPoint over period", Group::overlap, {"close"}, {period_param(14)}, {"real"},
                       factory<Midpoint<false>>()));
    out.push_back(spec("midprice", "Midpoint Price over period", Group::overlap, {"high", "low"}, {period_param(14)},
                       {"real"}, factory<Midpoint<true>>()));
}

}  // namespace pricecast::indicators
