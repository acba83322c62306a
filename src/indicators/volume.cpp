#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

// One step of the accumulation/distribution line, as TA-Lib computes it.
double next_ad(double ad, const Bar& b) noexcept {
    const double range = b.high - b.low;
    return range > 0.0 ? ad + (((b.close - b.low) - (b.high - b.close)) / range) * b.volume : ad;
}

// Chaikin accumulation/distribution line.
class Ad : public IndicatorImpl<Ad> {
public:
    explicit Ad(const Params& p) : IndicatorImpl(p, 1) {}
    int lookback() const override { return 0; }
    template <class V>
    void fields(V& v) { v(ad_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        ad_ = next_ad(ad_, b);
        out_[0] = ad_;
    }
    double ad_ = 0;
};

// On-balance volume, starting from the first bar's volume as TA-Lib does.
class Obv : public IndicatorImpl<Obv> {
public:
    explicit Obv(const Params& p) : IndicatorImpl(p, 1) {}
    int lookback() const override { return 0; }
    template <class V>
    void fields(V& v) { v(started_, obv_, prev_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (!started_) {
            obv_ = b.volume;
            started_ = true;
        } else {
            // Up or down is a coin toss on real prices: select, do not branch.
            const double moved = select(b.close > prev_, obv_ + b.volume, obv_ - b.volume);
            obv_ = select(b.close != prev_, moved, obv_);
        }
        prev_ = b.close;
        out_[0] = obv_;
    }
    bool started_ = false;
    double obv_ = 0;
    double prev_ = 0;
};

// Chaikin A/D oscillator: EMA(fast) - EMA(slow) of the A/D line, both started
// at the first bar's A/D value (not SMA-seeded), as TA-Lib does.
class AdOsc : public IndicatorImpl<AdOsc> {
public:
    explicit AdOsc(const Params& p)
        : IndicatorImpl(p, 1),
          fast_k_(2.0 / (iparam(p, 0) + 1)),
          slow_k_(2.0 / (iparam(p, 1) + 1)),
          lookback_(std::max(iparam(p, 0), iparam(p, 1)) - 1) {}
    int lookback() const override { return lookback_; }
    template <class V>
    void fields(V& v) { v(ad_, fast_, slow_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        ad_ = next_ad(ad_, b);
        if (bars_seen_ == 0) {
            fast_ = slow_ = ad_;
        } else {
            fast_ = (fast_k_ * ad_) + ((1.0 - fast_k_) * fast_);
            slow_ = (slow_k_ * ad_) + ((1.0 - slow_k_) * slow_);
        }
        if (bars_seen_ >= static_cast<std::size_t>(lookback_)) out_[0] = fast_ - slow_;
    }
    double fast_k_, slow_k_;
    int lookback_;
    double ad_ = 0, fast_ = 0, slow_ = 0;
};

}  // namespace

void register_volume(std::vector<IndicatorSpec>& out) {
    out.push_back(spec("ad", "Chaikin A/D Line", Group::volume, {"high", "low", "close", "volume"}, {}, {"real"},
                       factory<Ad>()));
    out.push_back(spec("adosc", "Chaikin A/D Oscillator", Group::volume, {"high", "low", "close", "volume"},
                       {period_param(3, 2, "fastperiod"), period_param(10, 2, "slowperiod")}, {"real"},
                       factory<AdOsc>()));
    out.push_back(spec("obv", "On Balance Volume", Group::volume, {"close", "volume"}, {}, {"real"}, factory<Obv>()));
}

}  // namespace pricecast::indicators
