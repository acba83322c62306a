#include "indicators/families.hpp"
#include "indicators/impl.hpp"
#include "indicators/ma.hpp"

namespace pricecast::indicators {

namespace {

// TA-Lib's true range; the first bar has none (lookback 1).
class TrueRangeState {
public:
    bool update(const Bar& b) noexcept {
        const bool had = has_prev_;
        value_ = had ? true_range(b.high, b.low, prev_close_) : b.high - b.low;
        prev_close_ = b.close;
        has_prev_ = true;
        return had;
    }
    double value() const noexcept { return value_; }
    template <class V>
    void fields(V& v) { v(has_prev_, prev_close_, value_); }

private:
    bool has_prev_ = false;
    double prev_close_ = 0;
    double value_ = 0;
};

class Trange : public IndicatorImpl<Trange> {
public:
    explicit Trange(const Params& p) : IndicatorImpl(p, 1) {}
    int lookback() const override { return 1; }
    template <class V>
    void fields(V& v) { v(tr_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (tr_.update(b)) out_[0] = tr_.value();
    }
    TrueRangeState tr_;
};

// ATR: Wilder's smoothing of the true range, seeded with the SMA of the first
// `period` true ranges; NATR is ATR / close * 100.
template <bool Normalized>
class Atr : public IndicatorImpl<Atr<Normalized>> {
public:
    explicit Atr(const Params& p) : IndicatorImpl<Atr<Normalized>>(p, 1), period_(iparam(p, 0)), seed_(period_) {}
    int lookback() const override { return period_; }
    template <class V>
    void fields(V& v) { v(tr_, seed_, atr_, seeded_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!tr_.update(b)) return;
        const double tr = tr_.value();
        if (period_ == 1) {
            atr_ = tr;
        } else if (!seeded_) {
            if (!seed_.update(tr)) return;
            atr_ = seed_.value();
            seeded_ = true;
        } else {
            atr_ *= period_ - 1;
            atr_ += tr;
            atr_ /= period_;
        }
        // TA-Lib's NATR with period 1 returns the plain true range, unnormalized.
        if (Normalized && period_ != 1)
            this->out_[0] = b.close != 0.0 ? (atr_ / b.close) * 100.0 : 0.0;
        else
            this->out_[0] = atr_;
    }
    int period_;
    TrueRangeState tr_;
    SmaState seed_;
    double atr_ = 0;
    bool seeded_ = false;
};

}  // namespace

void register_volatility(std::vector<IndicatorSpec>& out) {
    out.push_back(spec("trange", "True Range", Group::volatility, {"high", "low", "close"}, {}, {"real"},
                       factory<Trange>()));
    out.push_back(spec("atr", "Average True Range", Group::volatility, {"high", "low", "close"}, {period_param(14, 1)},
                       {"real"}, factory<Atr<false>>()));
    out.push_back(spec("natr", "Normalized Average True Range", Group::volatility, {"high", "low", "close"},
                       {period_param(14, 1)}, {"real"}, factory<Atr<true>>()));
}

}  // namespace pricecast::indicators
