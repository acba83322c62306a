#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

// Chaikin accumulation/distribution line.
class Ad : public IndicatorImpl<Ad> {
public:
    explicit Ad(const Params& p) : IndicatorImpl(p, 1) {}
    int lookback() const override { return 0; }
    template <class V>
    void fields(V& v) { v(ad_); }

private:
    void step(const Bar& b) noexcept override {
        const double range = b.high - b.low;
        if (range > 0.0) ad_ += (((b.close - b.low) - (b.high - b.close)) / range) * b.volume;
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
    void step(const Bar& b) noexcept override {
        if (!started_) {
            obv_ = b.volume;
            started_ = true;
        } else if (b.close > prev_) {
            obv_ += b.volume;
        } else if (b.close < prev_) {
            obv_ -= b.volume;
        }
        prev_ = b.close;
        out_[0] = obv_;
    }
    bool started_ = false;
    double obv_ = 0;
    double prev_ = 0;
};

}  // namespace

void register_volume(std::vector<IndicatorSpec>& out) {
    out.push_back(spec("ad", "Chaikin A/D Line", Group::volume, {"high", "low", "close", "volume"}, {}, {"real"},
                       factory<Ad>()));
    out.push_back(spec("obv", "On Balance Volume", Group::volume, {"close", "volume"}, {}, {"real"}, factory<Obv>()));
}

}  // namespace pricecast::indicators
