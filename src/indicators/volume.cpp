#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

// The accumulation/distribution line, as TA-Lib computes it. AD and ADOSC of
// a set share it: both start it at their first bar.
class AdLine {
public:
    void update(const Bar& b) noexcept {
        const double range = b.high - b.low;
        if (range > 0.0) ad_ += (((b.close - b.low) - (b.high - b.close)) / range) * b.volume;
    }
    double value() const noexcept { return ad_; }
    template <class V>
    void fields(V& v) { v(ad_); }

private:
    double ad_ = 0;
};

// Chaikin accumulation/distribution line.
class Ad : public IndicatorImpl<Ad> {
public:
    explicit Ad(const Params&) {}
    int lookback() const override { return 0; }
    template <class V>
    void fields(V& v) { v(ad_); }

private:
    void share(SharedStates& pool) override { pool.link(ad_, ""); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        ad_.advance(b, bars_seen_);
        out_[0] = ad_->value();
    }
    Shared<AdLine> ad_;
};

// On-balance volume, starting from the first bar's volume as TA-Lib does.
class Obv : public IndicatorImpl<Obv> {
public:
    explicit Obv(const Params&) {}
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
        : fast_k_(2.0 / (iparam(p, 0) + 1)),
          slow_k_(2.0 / (iparam(p, 1) + 1)),
          lookback_(std::max(iparam(p, 0), iparam(p, 1)) - 1) {}
    int lookback() const override { return lookback_; }
    template <class V>
    void fields(V& v) { v(ad_, fast_, slow_); }

private:
    void share(SharedStates& pool) override { pool.link(ad_, ""); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        ad_.advance(b, bars_seen_);
        const double ad = ad_->value();
        if (bars_seen_ == 0) {
            fast_ = slow_ = ad;
        } else {
            fast_ = (fast_k_ * ad) + ((1.0 - fast_k_) * fast_);
            slow_ = (slow_k_ * ad) + ((1.0 - slow_k_) * slow_);
        }
        if (bars_seen_ >= static_cast<std::size_t>(lookback_)) out_[0] = fast_ - slow_;
    }
    double fast_k_, slow_k_;
    int lookback_;
    Shared<AdLine> ad_;
    double fast_ = 0, slow_ = 0;
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
