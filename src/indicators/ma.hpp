// Scalar moving-average kernels with TA-Lib's seeding and warm-up, used by the
// bar indicators and by composites (BBANDS, MACD, STOCH, APO, ...). Each kernel:
// update(x) -> true once it has a value; value(); lookback() = inputs consumed
// before the first value; fields() for snapshots.
#pragma once

#include <array>
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

// Weighted MA (weights 1..period, newest heaviest) with running sums: the
// weighted sum loses the whole previous window sum and gains period * x.
class WmaState {
public:
    WmaState() = default;
    explicit WmaState(int period) : period_(period), win_(static_cast<std::size_t>(period)) {}
    bool update(double x) noexcept {
        if (win_.full()) {
            weighted_ += period_ * x - sum_;
            sum_ += x - win_.oldest();
        } else {
            sum_ += x;
            weighted_ += static_cast<double>(win_.size() + 1) * x;
        }
        win_.push(x);
        return win_.full();
    }
    double value() const noexcept { return weighted_ / (period_ * (period_ + 1) / 2.0); }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(win_, sum_, weighted_); }

private:
    int period_ = 1;
    Window<double> win_;
    double sum_ = 0, weighted_ = 0;
};

// DEMA = 2 EMA - EMA(EMA); TEMA = 3 EMA - 3 EMA(EMA) + EMA(EMA(EMA)); each inner
// EMA is seeded from the first values of the one before, as TA-Lib does.
template <int Depth>
class MultiEmaState {
public:
    MultiEmaState() = default;
    explicit MultiEmaState(int period) {
        for (auto& e : ema_) e = EmaState(period);
    }
    bool update(double x) noexcept {
        for (int d = 0; d < Depth; ++d) {
            if (!ema_[static_cast<std::size_t>(d)].update(x)) return false;
            x = ema_[static_cast<std::size_t>(d)].value();
        }
        return true;
    }
    double value() const noexcept {
        if constexpr (Depth == 2) return 2.0 * ema_[0].value() - ema_[1].value();
        else return 3.0 * ema_[0].value() - 3.0 * ema_[1].value() + ema_[2].value();
    }
    int lookback() const noexcept { return Depth * ema_[0].lookback(); }
    template <class V>
    void fields(V& v) {
        for (auto& e : ema_) e.fields(v);
    }

private:
    std::array<EmaState, Depth> ema_;
};

// TRIMA = SMA of an SMA: (n+1)/2 twice for odd n, n/2 + 1 then n/2 for even n.
class TrimaState {
public:
    TrimaState() = default;
    explicit TrimaState(int period)
        : first_(period % 2 ? (period + 1) / 2 : period / 2 + 1), second_(period % 2 ? (period + 1) / 2 : period / 2) {}
    bool update(double x) noexcept { return first_.update(x) && second_.update(first_.value()); }
    double value() const noexcept { return second_.value(); }
    int lookback() const noexcept { return first_.lookback() + second_.lookback(); }
    template <class V>
    void fields(V& v) { v(first_, second_); }

private:
    SmaState first_, second_;
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
    std::variant<SmaState, EmaState, WmaState, MultiEmaState<2>, MultiEmaState<3>, TrimaState> kernel_;
};

// Throws IndicatorError for a matype that has no streaming kernel.
MaType ma_type(double param);

}  // namespace pricecast::indicators
