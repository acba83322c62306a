#include "indicators/families.hpp"
#include "indicators/impl.hpp"
#include "indicators/ma.hpp"

namespace pricecast::indicators {

MovingAverage::MovingAverage(MaType type, int period) {
    // TA-Lib's MA with period 1 is the input itself, whatever the type.
    switch (type) {
        case MaType::sma: kernel_ = SmaState(period); break;
        case MaType::ema: kernel_ = EmaState(period); break;
        default: throw IndicatorError("moving average type " + std::to_string(static_cast<int>(type)) + " not supported");
    }
}

MaType ma_type(double param) {
    int t = static_cast<int>(param);
    if (t < 0 || t > 8) throw IndicatorError("matype must be in [0, 8]");
    return static_cast<MaType>(t);
}

namespace {

// An indicator that applies one scalar kernel to the close.
template <class Kernel>
class CloseKernel : public IndicatorImpl<CloseKernel<Kernel>> {
public:
    explicit CloseKernel(const Params& p) : IndicatorImpl<CloseKernel<Kernel>>(p, 1), k_(iparam(p, 0)) {}
    int lookback() const override { return k_.lookback(); }
    template <class V>
    void fields(V& v) { v(k_); }

private:
    void step(const Bar& b) noexcept override {
        if (k_.update(b.close)) this->out_[0] = k_.value();
    }
    Kernel k_;
};

}  // namespace

void register_overlap(std::vector<IndicatorSpec>& out) {
    out.push_back({"sma", "SMA", "Simple Moving Average", Group::overlap, {"close"}, {period_param(30)}, {"real"},
                   false, factory<CloseKernel<SmaState>>()});
    out.push_back({"ema", "EMA", "Exponential Moving Average", Group::overlap, {"close"}, {period_param(30)},
                   {"real"}, false, factory<CloseKernel<EmaState>>()});
}

}  // namespace pricecast::indicators
