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
    explicit Trange(const Params&) {}
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
class AtrState {
public:
    AtrState() = default;
    explicit AtrState(int period) : period_(period), seed_(period) {}
    int period() const noexcept { return period_; }
    bool update(const Bar& b) noexcept {
        if (!tr_.update(b)) return false;
        const double tr = tr_.value();
        if (period_ == 1) {
            atr_ = tr;
        } else if (!seeded_) {
            if (!seed_.update(tr)) return false;
            atr_ = seed_.value();
            seeded_ = true;
        } else {
            atr_ *= period_ - 1;
            atr_ += tr;
            atr_ /= period_;
        }
        return true;
    }
    double value() const noexcept { return atr_; }
    template <class V>
    void fields(V& v) { v(tr_, seed_, atr_, seeded_); }

private:
    int period_ = 14;
    TrueRangeState tr_;
    SmaState seed_;
    double atr_ = 0;
    bool seeded_ = false;
};

template <bool Normalized>
class Atr : public IndicatorImpl<Atr<Normalized>> {
public:
    explicit Atr(const Params& p) : atr_(AtrState(iparam(p, 0))) {}
    int lookback() const override { return atr_->period(); }
    template <class V>
    void fields(V& v) { v(atr_); }

private:
    void share(SharedStates& pool) override { pool.link(atr_, period_key(atr_->period())); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!atr_.advance(b, this->bars_seen_)) return;
        const double atr = atr_->value();
        // TA-Lib's NATR with period 1 returns the plain true range, unnormalized.
        if (Normalized && atr_->period() != 1)
            this->out_[0] = b.close != 0.0 ? (atr / b.close) * 100.0 : 0.0;
        else
            this->out_[0] = atr;
    }
    Shared<AtrState> atr_;
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
