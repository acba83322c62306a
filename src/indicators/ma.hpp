// Scalar moving-average kernels with TA-Lib's seeding and warm-up, used by the
// bar indicators and by composites (BBANDS, MACD, STOCH, APO, ...). Each kernel:
// update(x) -> true once it has a value; value(); lookback() = inputs consumed
// before the first value; fields() for snapshots.
#pragma once

#include <variant>

#include "indicators/impl.hpp"

namespace pricecast::indicators {

class SmaState {
public:
    SmaState() = default;
    explicit SmaState(int period) : period_(period), sum_(static_cast<std::size_t>(period)) {}
    bool update(double x) noexcept {
        sum_.push(x);
        return sum_.full();
    }
    double value() const noexcept { return sum_.sum() / period_; }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(sum_); }

private:
    int period_ = 1;
    WindowSum sum_;
};

// TA-Lib's EMA: seeded with the SMA of the first `period` inputs (its default
// compatibility mode), then prev + k * (x - prev) with k = 2 / (period + 1).
class EmaState {
public:
    EmaState() = default;
    explicit EmaState(int period) : EmaState(period, 2.0 / (period + 1)) {}
    EmaState(int period, double k) : period_(period), k_(k) {}
    bool update(double x) noexcept {
        if (n_ < period_) {
            seed_ += x;
            if (++n_ < period_) return false;
            prev_ = seed_ / period_;
            return true;
        }
        prev_ = (x - prev_) * k_ + prev_;
        return true;
    }
    double value() const noexcept { return prev_; }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(n_, seed_, prev_); }

private:
    int period_ = 1;
    double k_ = 1;
    int n_ = 0;
    double seed_ = 0;
    double prev_ = 0;
};

// TA-Lib's MA(matype): one object for whichever average a parameter selects.
class MovingAverage {
public:
    MovingAverage() = default;
    MovingAverage(MaType type, int period);
    bool update(double x) noexcept {
        return std::visit([x](auto& k) { return k.update(x); }, kernel_);
    }
    double value() const noexcept {
        return std::visit([](const auto& k) { return k.value(); }, kernel_);
    }
    int lookback() const noexcept {
        return std::visit([](const auto& k) { return k.lookback(); }, kernel_);
    }
    template <class V>
    void fields(V& v) {
        std::visit([&v](auto& k) { k.fields(v); }, kernel_);
    }

private:
    std::variant<SmaState, EmaState> kernel_;
};

// Throws IndicatorError for a matype that has no streaming kernel.
MaType ma_type(double param);

}  // namespace pricecast::indicators
