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
    double sum() const noexcept { return sum_.sum(); }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(sum_); }

private:
    int period_ = 1;
    WindowSum sum_;
};

// TA-Lib's EMA: seeded with the SMA of the first `period` inputs (its default
// compatibility mode), then prev + k * (x - prev) with k = 2 / (period + 1).
// TA-Lib's T3 writes the step as k * x + (1 - k) * prev (Tillson = true); the
// two round differently, and T3 must match its own.
template <bool Tillson = false>
class BasicEmaState {
public:
    BasicEmaState() = default;
    explicit BasicEmaState(int period) : BasicEmaState(period, 2.0 / (period + 1)) {}
    BasicEmaState(int period, double k) : period_(period), k_(k) {}
    bool update(double x) noexcept {
        if (n_ < period_) {
            seed_ += x;
            if (++n_ < period_) return false;
            prev_ = seed_ / period_;
            return true;
        }
        if constexpr (Tillson) prev_ = (k_ * x) + ((1.0 - k_) * prev_);
        else prev_ = (x - prev_) * k_ + prev_;
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
using EmaState = BasicEmaState<false>;

// Weighted MA (weights 1..period, newest heaviest) with TA-Lib's running sums,
// operation for operation: `sum_` is the weighted sum less the window sum, so
// adding period * x gives the next weighted sum.
class WmaState {
public:
    WmaState() = default;
    explicit WmaState(int period)
        : period_(period), divider_((period * (period + 1)) >> 1), win_(static_cast<std::size_t>(period)) {}
    bool update(double x) noexcept {
        if (!win_.full() && win_.size() + 1 < win_.capacity()) {
            sub_ += x;
            sum_ += x * static_cast<double>(win_.size() + 1);
            win_.push(x);
            return false;
        }
        const double trailing = win_.full() ? win_.oldest() : 0.0;
        win_.push(x);
        sub_ += x;
        sub_ -= trailing;
        sum_ += x * period_;
        value_ = sum_ / divider_;
        sum_ -= sub_;
        return true;
    }
    double value() const noexcept { return value_; }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(win_, sub_, sum_, value_); }

private:
    int period_ = 1;
    int divider_ = 1;
    Window<double> win_;
    double sub_ = 0, sum_ = 0, value_ = 0;
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

// TRIMA = SMA of an SMA ((n+1)/2 twice for odd n, n/2 + 1 then n/2 for even
// n), computed as TA-Lib does, operation for operation: a numerator of
// triangular weights kept with the sums of its falling (`sub_`) and rising
// (`add_`) halves.
class TrimaState {
public:
    TrimaState() = default;
    explicit TrimaState(int period);
    bool update(double x) noexcept {
        const double trailing = win_.full() ? win_.oldest() : 0.0;
        const bool was_full = win_.full();
        win_.push(x);
        if (!win_.full()) return false;
        if (!was_full) init();
        else slide(trailing, win_.ago(static_cast<std::size_t>(half_)), x);
        value_ = numerator_ * factor_;
        return true;
    }
    double value() const noexcept { return value_; }
    int lookback() const noexcept { return period_ - 1; }
    template <class V>
    void fields(V& v) { v(win_, numerator_, sub_, add_, value_); }

private:
    void init() noexcept;
    void slide(double trailing, double middle, double x) noexcept;
    int period_ = 2, half_ = 1;
    double factor_ = 0.5;
    Window<double> win_;
    double numerator_ = 0, sub_ = 0, add_ = 0, value_ = 0;
};

// KAMA, Kaufman's adaptive MA, in TA-Lib's formulation (its efficiency ratio
// is 1 whenever the path length <= the signed net change).
class KamaState {
public:
    KamaState() = default;
    explicit KamaState(int period) : period_(period), win_(static_cast<std::size_t>(period) + 1) {}
    bool update(double x) noexcept;
    double value() const noexcept { return kama_; }
    int lookback() const noexcept { return period_; }
    template <class V>
    void fields(V& v) { v(win_, sum_roc_, trailing_, kama_); }

private:
    int period_ = 30;
    Window<double> win_;
    double sum_roc_ = 0, trailing_ = 0, kama_ = 0;
};

// T3 (Tillson): six cascaded EMAs, each seeded by the mean of the first
// `period` values of the one before, combined with the volume factor.
class T3State {
public:
    T3State() = default;
    explicit T3State(int period, double vfactor = 0.7);
    bool update(double x) noexcept {
        for (auto& e : ema_) {
            if (!e.update(x)) return false;
            x = e.value();
        }
        return true;
    }
    double value() const noexcept {
        return c1_ * ema_[5].value() + c2_ * ema_[4].value() + c3_ * ema_[3].value() + c4_ * ema_[2].value();
    }
    int lookback() const noexcept { return 6 * ema_[0].lookback(); }
    template <class V>
    void fields(V& v) {
        for (auto& e : ema_) e.fields(v);
    }

private:
    std::array<BasicEmaState<true>, 6> ema_;
    double c1_ = 0, c2_ = 0, c3_ = 0, c4_ = 0;
};

// MAMA/FAMA (Ehlers' MESA adaptive MA) operation for operation as TA-Lib: a
// 4-bar WMA smoother, Hilbert transforms kept separately for even and odd
// bars, and alpha from the phase rate of change. TA-Lib picks even or odd by
// the index in its input array, but each parity's filters are 3-bar delay
// lines that start at zero, so counting from this average's first input gives
// the same values wherever it starts.
class MamaState {
public:
    MamaState() = default;
    MamaState(double fast_limit, double slow_limit) : fast_(fast_limit), slow_(slow_limit) {}
    bool update(double x) noexcept;
    double value() const noexcept { return mama_; }
    double fama() const noexcept { return fama_; }
    static constexpr int lookback() noexcept { return 32; }
    template <class V>
    void fields(V& v) {
        v(n_, recent_, wma_sub_, wma_sum_, trailing_, detrender_, q1_, ji_, jq_, hilbert_idx_);
        v(period_, prev_i2_, prev_q2_, re_, im_, i1_odd_prev2_, i1_odd_prev3_, i1_even_prev2_, i1_even_prev3_);
        v(prev_phase_, mama_, fama_);
    }

private:
    // One of TA-Lib's HILBERT_VARIABLES: a 3-tap filter per bar parity.
    struct Hilbert {
        std::array<double, 3> odd{}, even{};
        double value = 0, prev_odd = 0, prev_even = 0, prev_input_odd = 0, prev_input_even = 0;
        void transform(double input, bool even, int idx, double adjusted_period) noexcept;
        template <class V>
        void fields(V& v) { v(odd, even, value, prev_odd, prev_even, prev_input_odd, prev_input_even); }
    };
    struct Cycle {
        double q2 = 0, i2 = 0, phase = 0;
    };
    double smooth(double x) noexcept;
    Cycle transforms(double smoothed, double adjusted) noexcept;
    void step_cycle(double x) noexcept;
    void adapt_period(const Cycle& c) noexcept;

    double fast_ = 0.5, slow_ = 0.05;
    std::size_t n_ = 0;  // inputs seen
    std::array<double, 4> recent_{};
    double wma_sub_ = 0, wma_sum_ = 0, trailing_ = 0;
    Hilbert detrender_, q1_, ji_, jq_;
    int hilbert_idx_ = 0;
    double period_ = 0, prev_i2_ = 0, prev_q2_ = 0, re_ = 0, im_ = 0;
    double i1_odd_prev2_ = 0, i1_odd_prev3_ = 0, i1_even_prev2_ = 0, i1_even_prev3_ = 0;
    double prev_phase_ = 0, mama_ = 0, fama_ = 0;
};

// TA-Lib's MA(matype): one object for whichever average a parameter selects.
// The kernel's value is taken in the same dispatch as its update and kept, so
// composites that read it several times per bar (MACDEXT, STOCH, APO) pay one
// visit per bar, not one per read.
class MovingAverage {
public:
    MovingAverage() = default;
    MovingAverage(MaType type, int period);
    bool update(double x) noexcept {
        bool ready = false;
        dispatch([this, x, &ready](auto& k) {
            ready = k.update(x);
            value_ = k.value();
        });
        return ready;
    }
    double value() const noexcept { return value_; }
    int lookback() const noexcept {
        return std::visit([](const auto& k) { return k.lookback(); }, kernel_);
    }
    // value_ is derived from the kernel, so it is not saved but recomputed.
    template <class V>
    void fields(V& v) {
        std::visit(
            [this, &v](auto& k) {
                k.fields(v);
                value_ = k.value();
            },
            kernel_);
    }

private:
    // std::visit calls one out-of-line jump table shared by every average in
    // the process, so its indirect jump sees all their types. This chain of
    // index tests is inlined into each caller instead, where the type never
    // changes and the tests are always predicted.
    template <class F>
    [[gnu::always_inline]] void dispatch(F&& f) noexcept {
        dispatch(f, std::make_index_sequence<std::variant_size_v<Kernel>>{});
    }
    template <class F, std::size_t... I>
    [[gnu::always_inline]] void dispatch(F& f, std::index_sequence<I...>) noexcept {
        ((kind_ == I ? (f(kernel<I>()), true) : false) || ...);
    }

    // The alternative kind_ names, without std::get_if's test of the
    // variant's own index, which sits past the largest alternative.
    template <std::size_t I>
    [[gnu::always_inline]] auto& kernel() noexcept {
        if (kernel_.index() != I) __builtin_unreachable();
        return *std::get_if<I>(&kernel_);
    }

    using Kernel = std::variant<SmaState, EmaState, WmaState, MultiEmaState<2>, MultiEmaState<3>, TrimaState,
                                KamaState, MamaState, T3State>;
    // Ahead of the kernel, in the line of a small kernel's state: the variant
    // keeps its index after its largest alternative (MAMA's), 8 lines on, and
    // every update of an SMA read it and wrote value_ there.
    double value_ = 0;
    std::size_t kind_ = 0;  // kernel_.index(), which never changes after construction
    Kernel kernel_;
};

// Throws IndicatorError for a matype outside TA-Lib's list.
MaType ma_type(double param);

}  // namespace pricecast::indicators
