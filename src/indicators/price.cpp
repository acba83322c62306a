#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {
namespace {

// A value of the current bar alone (lookback 0), in TA-Lib's operation order.
template <double (*F)(const Bar&)>
class BarFunction : public IndicatorImpl<BarFunction<F>> {
public:
    explicit BarFunction(const Params&) {}
    int lookback() const override { return 0; }
    template <class V>
    void fields(V&) {}

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override { this->out_[0] = F(b); }
};

double avgprice(const Bar& b) { return (b.high + b.low + b.close + b.open) / 4; }
double medprice(const Bar& b) { return (b.high + b.low) / 2.0; }
double typprice(const Bar& b) { return (b.high + b.low + b.close) / 3.0; }
double wclprice(const Bar& b) { return (b.high + b.low + b.close * 2) / 4.0; }

}  // namespace

void register_price(std::vector<IndicatorSpec>& out) {
    out.push_back(spec("avgprice", "Average Price", Group::price, {"open", "high", "low", "close"}, {}, {"real"},
                       factory<BarFunction<avgprice>>()));
    out.push_back(spec("medprice", "Median Price", Group::price, {"high", "low"}, {}, {"real"},
                       factory<BarFunction<medprice>>()));
    out.push_back(spec("typprice", "Typical Price", Group::price, {"high", "low", "close"}, {}, {"real"},
                       factory<BarFunction<typprice>>()));
    out.push_back(spec("wclprice", "Weighted Close Price", Group::price, {"high", "low", "close"}, {}, {"real"},
                       factory<BarFunction<wclprice>>()));
}

}  // namespace pricecast::indicators
