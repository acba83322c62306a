#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

// Wilder's directional movement and true range, as TA-Lib computes them: sums of
// the first period-1 moves, then x -= x / period; x += move on every bar.
class DirectionalMovement {
public:
    DirectionalMovement() = default;
    explicit DirectionalMovement(int period) : period_(period) {}
    void update(const Bar& b) noexcept {
        if (n_++ == 0) {
            prev_high_ = b.high, prev_low_ = b.low, prev_close_ = b.close;
            return;
        }
        const double diff_p = b.high - prev_high_, diff_m = prev_low_ - b.low;
        const double tr = true_range(b.high, b.low, prev_close_);
        prev_high_ = b.high, prev_low_ = b.low, prev_close_ = b.close;
        const bool smoothing = n_ > period_;
        if (smoothing) {
            minus_ -= minus_ / period_;
            plus_ -= plus_ / period_;
        }
        // The bar's direction is a coin toss on real prices: select, do not branch.
        const bool minus_move = (diff_m > 0) & (diff_p < diff_m);
        const bool plus_move = !minus_move & (diff_p > 0) & (diff_p > diff_m);
        minus_ = select(minus_move, minus_ + diff_m, minus_);
        plus_ = select(plus_move, plus_ + diff_p, plus_);
        tr_ = smoothing ? tr_ - (tr_ / period_) + tr : tr_ + tr;
        indices();
    }
    // Bars seen; DM sums are complete from bar period-1, DI from bar period.
    int bars() const noexcept { return n_; }
    int period() const noexcept { return period_; }
    double plus_dm() const noexcept { return plus_; }
    double minus_dm() const noexcept { return minus_; }
    bool has_range() const noexcept { return has_range_; }
    double plus_di() const noexcept { return plus_di_; }
    double minus_di() const noexcept { return minus_di_; }
    // DX of the current bar, or nothing when the range or the DI sum is zero.
    bool dx(double& out) const noexcept {
        if (has_dx_) out = dx_;
        return has_dx_;
    }
    template <class V>
    void fields(V& v) {
        v(n_, prev_high_, prev_low_, prev_close_, plus_, minus_, tr_);
        indices();
    }

private:
    // The DIs and DX, once per bar for all their readers: the DI members, DX
    // and ADX each divided them again (divisions are the set's scarcest unit).
    void indices() noexcept {
        has_range_ = !is_zero(tr_);
        has_dx_ = false;
        if (!has_range_) return;
        plus_di_ = 100.0 * (plus_ / tr_);
        minus_di_ = 100.0 * (minus_ / tr_);
        const double sum = minus_di_ + plus_di_;
        has_dx_ = !is_zero(sum);
        if (has_dx_) dx_ = 100.0 * (std::abs(minus_di_ - plus_di_) / sum);
    }
    int period_ = 14;
    int n_ = 0;
    double prev_high_ = 0, prev_low_ = 0, prev_close_ = 0;
    double plus_ = 0, minus_ = 0, tr_ = 0;
    bool has_range_ = false, has_dx_ = false;  // derived from the sums by indices(), not saved
    double plus_di_ = 0, minus_di_ = 0, dx_ = 0;
};

enum class DmOut { plus_dm, minus_dm, plus_di, minus_di, dx };

template <DmOut Out>
class Directional : public IndicatorImpl<Directional<Out>> {
public:
    explicit Directional(const Params& p)
        : dm_(DirectionalMovement(iparam(p, 0))) {}
    int lookback() const override { return lookback(dm_->period()); }
    template <class V>
    void fields(V& v) { v(dm_); }

private:
    void share(SharedStates& pool) override { pool.link(dm_, period_key(dm_->period())); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        dm_.advance(b, this->bars_seen_);
        const DirectionalMovement& dm = *dm_;
        if (dm.bars() <= lookback(dm.period())) return;
        double& out = this->out_[0];
        switch (Out) {
            case DmOut::plus_dm: out = dm.plus_dm(); break;
            case DmOut::minus_dm: out = dm.minus_dm(); break;
            case DmOut::plus_di: out = dm.has_range() ? dm.plus_di() * di_scale() : 0.0; break;
            case DmOut::minus_di: out = dm.has_range() ? dm.minus_di() * di_scale() : 0.0; break;
            case DmOut::dx: {
                double dx = 0;
                // TA-Lib repeats the previous DX when it is undefined (0 on the first bar).
                if (dm.dx(dx)) out = dx;
                else if (std::isnan(out)) out = 0.0;
                break;
            }
        }
    }
    // With period 1 the smoothed sums are the bar's own moves, and TA-Lib
    // returns DM / TR there without the percent scale.
    double di_scale() const noexcept { return dm_->period() == 1 ? 0.01 : 1.0; }
    static int lookback(int period) noexcept {
        if (Out == DmOut::plus_dm || Out == DmOut::minus_dm) return period > 1 ? period - 1 : 1;
        return period;
    }
    Shared<DirectionalMovement> dm_;
};

// ADX: the mean of the first `period` DX values, then Wilder-smoothed DX.
class AdxState {
public:
    AdxState() = default;
    explicit AdxState(int period) : period_(period), dm_(DirectionalMovement(period)) {}
    // `seen`: the bar's number, for the DM sums it shares with DX and the DIs.
    bool update(const Bar& b, std::size_t seen) noexcept {
        dm_.advance(b, seen);
        const int n = dm_->bars();
        if (n <= period_) return false;
        double dx = 0;
        const bool has_dx = dm_->dx(dx);
        if (n <= 2 * period_) {
            if (has_dx) sum_dx_ += dx;
            if (n < 2 * period_) return false;
            adx_ = sum_dx_ / period_;
            return true;
        }
        if (has_dx) adx_ = ((adx_ * (period_ - 1)) + dx) / period_;
        return true;
    }
    double value() const noexcept { return adx_; }
    int lookback() const noexcept { return 2 * period_ - 1; }
    template <class V>
    void fields(V& v) { v(dm_, sum_dx_, adx_); }
    void share(SharedStates& pool) { pool.link(dm_, period_key(period_)); }

private:
    int period_ = 14;
    Shared<DirectionalMovement> dm_;
    double sum_dx_ = 0, adx_ = 0;
};

// ADX and ADXR share the ADX; a first ADX of the set shares its DM sums.
void share_adx(SharedStates& pool, Shared<AdxState>& adx, int period) {
    if (pool.link(adx, period_key(period))) adx.mutable_kernel().share(pool);
}

class Adx : public IndicatorImpl<Adx> {
public:
    explicit Adx(const Params& p) : adx_(AdxState(iparam(p, 0))) {}
    int lookback() const override { return adx_->lookback(); }
    template <class V>
    void fields(V& v) { v(adx_); }

private:
    void share(SharedStates& pool) override { share_adx(pool, adx_, iparam(params(), 0)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (adx_.advance(b, bars_seen_)) out_[0] = adx_->value();
    }
    Shared<AdxState> adx_;
};

// ADXR: mean of today's ADX and the ADX period-1 bars ago.
class Adxr : public IndicatorImpl<Adxr> {
public:
    explicit Adxr(const Params& p)
        : period_(iparam(p, 0)),
          adx_(AdxState(period_)),
          past_(static_cast<std::size_t>(period_)) {}
    int lookback() const override { return adx_->lookback() + period_ - 1; }
    template <class V>
    void fields(V& v) { v(adx_, past_); }

private:
    void share(SharedStates& pool) override { share_adx(pool, adx_, period_); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!adx_.advance(b, bars_seen_)) return;
        const double adx = adx_->value();
        past_.push(adx);
        if (past_.full()) out_[0] = (adx + past_.oldest()) / 2.0;
    }
    int period_;
    Shared<AdxState> adx_;
    Window<double> past_;
};

// AROON over period+1 bars: how long ago the highest high and lowest low were
// (the newest occurrence wins ties, as in TA-Lib).
class AroonWindow {
public:
    AroonWindow() = default;
    explicit AroonWindow(int period)
        : hi_(static_cast<std::size_t>(period) + 1), lo_(static_cast<std::size_t>(period) + 1) {}
    void update(const Bar& b) noexcept {
        hi_.push(b.high);
        lo_.push(b.low);
    }
    std::size_t count() const noexcept { return hi_.count(); }
    std::size_t high_index() const noexcept { return hi_.index(); }
    std::size_t low_index() const noexcept { return lo_.index(); }
    template <class V>
    void fields(V& v) { v(hi_, lo_); }

private:
    WindowExtreme<true> hi_;
    WindowExtreme<false> lo_;
};

template <bool Oscillator>
class Aroon : public IndicatorImpl<Aroon<Oscillator>> {
public:
    explicit Aroon(const Params& p)
        : period_(iparam(p, 0)),
          factor_(100.0 / period_),
          win_(AroonWindow(period_)) {}
    int lookback() const override { return period_; }
    template <class V>
    void fields(V& v) { v(win_); }

private:
    void share(SharedStates& pool) override { pool.link(win_, period_key(period_)); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        win_.advance(b, this->bars_seen_);
        const AroonWindow& w = *win_;
        const auto today = static_cast<double>(w.count() - 1);
        if (w.count() <= static_cast<std::size_t>(period_)) return;
        const auto hi_idx = static_cast<double>(w.high_index()), lo_idx = static_cast<double>(w.low_index());
        if constexpr (Oscillator) {
            this->out_[0] = factor_ * (hi_idx - lo_idx);
        } else {
            this->out_[0] = factor_ * (period_ - (today - lo_idx));
            this->out_[1] = factor_ * (period_ - (today - hi_idx));
        }
    }
    int period_;
    double factor_;  // TA-Lib's 100 / period, divided once
    Shared<AroonWindow> win_;
};

}  // namespace

void register_directional(std::vector<IndicatorSpec>& out) {
    const std::vector<std::string> hl{"high", "low"}, hlc{"high", "low", "close"};
    out.push_back(spec("plus_dm", "Plus Directional Movement", Group::momentum, hl, {period_param(14, 1)}, {"real"},
                       factory<Directional<DmOut::plus_dm>>()));
    out.push_back(spec("minus_dm", "Minus Directional Movement", Group::momentum, hl, {period_param(14, 1)}, {"real"},
                       factory<Directional<DmOut::minus_dm>>()));
    out.push_back(spec("plus_di", "Plus Directional Indicator", Group::momentum, hlc, {period_param(14, 1)}, {"real"},
                       factory<Directional<DmOut::plus_di>>()));
    out.push_back(spec("minus_di", "Minus Directional Indicator", Group::momentum, hlc, {period_param(14, 1)}, {"real"},
                       factory<Directional<DmOut::minus_di>>()));
    out.push_back(spec("dx", "Directional Movement Index", Group::momentum, hlc, {period_param(14)}, {"real"},
                       factory<Directional<DmOut::dx>>()));
    out.push_back(spec("adx", "Average Directional Movement Index", Group::momentum, hlc, {period_param(14)},
                       {"real"}, factory<Adx>()));
    out.push_back(spec("adxr", "Average Directional Movement Index Rating", Group::momentum, hlc, {period_param(14)},
                       {"real"}, factory<Adxr>()));
    out.push_back(spec("aroon", "Aroon", Group::momentum, hl, {period_param(14)}, {"aroondown", "aroonup"},
                       factory<Aroon<false>>()));
    out.push_back(spec("aroonosc", "Aroon Oscillator", Group::momentum, hl, {period_param(14)}, {"real"},
                       factory<Aroon<true>>()));
}

}  // namespace pricecast::indicators
