// Internals shared by the indicator families (not part of the public API).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "indicators/indicator.hpp"

namespace pricecast::indicators {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// CRTP base: a concrete indicator is a value type constructed from its Params,
// with `template <class V> void fields(V& v)` listing its state once; clone,
// reset and save/restore follow from that.
template <class Derived>
class IndicatorImpl : public Indicator {
public:
    void reset() override {
        Derived fresh(params_);
        fresh.spec_ = spec_;
        self() = std::move(fresh);
    }
    std::unique_ptr<Indicator> clone() const override { return std::make_unique<Derived>(self()); }

protected:
    using Indicator::Indicator;
    void save_fields(StateWriter& out) const override { const_cast<Derived&>(self()).fields(out); }
    void restore_fields(StateReader& in) override { self().fields(in); }

private:
    Derived& self() { return static_cast<Derived&>(*this); }
    const Derived& self() const { return static_cast<const Derived&>(*this); }
};

inline int iparam(const Params& p, std::size_t i) { return static_cast<int>(p.at(i)); }

template <class T>
Factory factory() {
    return [](const Params& p) -> std::unique_ptr<Indicator> { return std::make_unique<T>(p); };
}

// A spec whose TA-Lib name is the upper-cased name.
inline IndicatorSpec spec(std::string name, std::string description, Group group, std::vector<std::string> inputs,
                          std::vector<ParamSpec> params, std::vector<std::string> outputs, Factory make,
                          bool integer_output = false) {
    std::string upper = name;
    for (auto& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    return {std::move(name), std::move(upper), std::move(description), group, std::move(inputs), std::move(params),
            std::move(outputs), integer_output, std::move(make)};
}

inline ParamSpec period_param(double def, double min = 2, const char* name = "timeperiod") {
    return {name, def, min, 100000, true};
}

// Wilder's true range of a bar against the previous close (TA-Lib's TRUE_RANGE).
inline double true_range(double high, double low, double prev_close) noexcept {
    double r = high - low;
    if (std::abs(high - prev_close) > r) r = std::abs(high - prev_close);
    if (std::abs(low - prev_close) > r) r = std::abs(low - prev_close);
    return r;
}

// TA-Lib's TA_IS_ZERO / TA_IS_ZERO_OR_NEG.
inline bool is_zero(double v) noexcept { return -0.00000000000001 < v && v < 0.00000000000001; }
inline bool is_zero_or_neg(double v) noexcept { return v < 0.00000000000001; }

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

// Fixed-capacity window of the most recent values; never allocates after construction.
template <class T = double>
class Window {
public:
    Window() = default;
    explicit Window(std::size_t capacity) : buf_(capacity ? capacity : 1) {}
    // Adds a value, dropping the oldest when full.
    void push(T v) noexcept {
        buf_[head_] = v;
        head_ = head_ + 1 == buf_.size() ? 0 : head_ + 1;
        if (size_ < buf_.size()) ++size_;
    }
    // ago(0) is the newest value, ago(size()-1) the oldest.
    const T& ago(std::size_t k) const noexcept {
        std::size_t i = head_ + buf_.size() - 1 - k;
        return buf_[i >= buf_.size() ? i - buf_.size() : i];
    }
    const T& oldest() const noexcept { return ago(size_ - 1); }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return buf_.size(); }
    bool full() const noexcept { return size_ == buf_.size(); }
    void clear() noexcept { size_ = head_ = 0; }

    template <class V>
    void fields(V& v) { v(buf_, head_, size_); }

private:
    std::vector<T> buf_ = std::vector<T>(1);
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

// Sum of the last `period` values. By default an exact recompute every
// `period * 64` updates keeps floating-point error from add/subtract from
// drifting on long streams. Statistics where TA-Lib's own rounding dominates
// (variances as E[x^2] - E[x]^2 on a small spread) pass `drift_fix = false` to
// reproduce TA-Lib's running sum operation for operation.
class WindowSum {
public:
    WindowSum() = default;
    explicit WindowSum(std::size_t period, bool drift_fix = true) : win_(period), drift_fix_(drift_fix) {}
    void push(double v) noexcept {
        if (win_.full()) sum_ -= win_.oldest();
        win_.push(v);
        sum_ += v;
        if (drift_fix_ && ++since_exact_ >= win_.capacity() * 64) {
            since_exact_ = 0;
            double s = 0;
            for (std::size_t k = win_.size(); k-- > 0;) s += win_.ago(k);
            sum_ = s;
        }
    }
    double sum() const noexcept { return sum_; }
    bool full() const noexcept { return win_.full(); }
    const Window<double>& window() const noexcept { return win_; }

    template <class V>
    void fields(V& v) { v(win_, sum_, since_exact_); }

private:
    Window<double> win_;
    bool drift_fix_ = true;
    double sum_ = 0;
    std::size_t since_exact_ = 0;
};

// Max (or min) over the last `period` values in O(1) amortized with a monotonic
// deque of (index, value) kept in a fixed ring, so push never allocates.
// On ties the newest occurrence wins, or with EarliestTie the oldest one still
// in the window (what TA-Lib's rescans pick in MAXINDEX/MININDEX/MINMAXINDEX).
template <bool IsMax, bool EarliestTie = false>
class WindowExtreme {
public:
    WindowExtreme() = default;
    explicit WindowExtreme(std::size_t period) : period_(period ? period : 1), ring_(std::bit_ceil(period_ + 1)) {}
    void push(double v) noexcept {
        while (size_ > 0 && dominated(at(size_ - 1).second, v)) --size_;
        at(size_++) = {count_, v};
        ++count_;
        // Indices are consecutive, so at most the front entry can expire.
        if (at(0).first + period_ < count_) {
            front_ = (front_ + 1) & (ring_.size() - 1);
            --size_;
        }
    }
    double value() const noexcept { return at(0).second; }
    // Zero-based index (in pushes) of the extreme's kept occurrence.
    std::size_t index() const noexcept { return at(0).first; }
    std::size_t count() const noexcept { return count_; }

    template <class V>
    void fields(V& v) { v(period_, ring_, front_, size_, count_); }

private:
    using Entry = std::pair<std::size_t, double>;
    static bool dominated(double old, double v) noexcept {
        if constexpr (EarliestTie) return IsMax ? old < v : old > v;
        return IsMax ? old <= v : old >= v;
    }
    // The ring's size is a power of two so wrapping is a mask, not a division.
    Entry& at(std::size_t k) noexcept { return ring_[(front_ + k) & (ring_.size() - 1)]; }
    const Entry& at(std::size_t k) const noexcept { return ring_[(front_ + k) & (ring_.size() - 1)]; }

    std::size_t period_ = 1;
    std::vector<Entry> ring_ = std::vector<Entry>(2);
    std::size_t front_ = 0;
    std::size_t size_ = 0;
    std::size_t count_ = 0;
};
using WindowMax = WindowExtreme<true>;
using WindowMin = WindowExtreme<false>;

}  // namespace pricecast::indicators
