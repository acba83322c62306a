// Internal to src/features: the price side of one symbol on one timeframe —
// aggregation of base bars into this timeframe's bars, the indicators on them
// and the derived features.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/state.hpp"
#include "core/types.hpp"
#include "features/features.hpp"
#include "indicators/indicator.hpp"

namespace pricecast::features {

// The columns of one timeframe: its indicators (one entry per reference) and
// the fixed list of derived features.
struct TimeframePlan {
    std::string name;  // "5m"
    Duration interval = 0;
    std::vector<indicators::IndicatorRef> refs;
};

// Appends this timeframe's columns (indicator outputs, then derived) to `out`.
void append_columns(const TimeframePlan& plan, std::vector<FeatureColumn>& out);
std::size_t column_count(const TimeframePlan& plan);
// Index, within a timeframe's block, of a derived feature ("pct_change(1)").
std::size_t derived_offset(const TimeframePlan& plan, std::string_view derived_name);

// The last N values of a series, newest at ago(0).
template <std::size_t N>
class History {
public:
    void push(double v) noexcept {
        head_ = (head_ + 1) % N;
        buf_[head_] = v;
        if (size_ < N) ++size_;
    }
    double ago(std::size_t k) const noexcept { return buf_[(head_ + N - k) % N]; }
    std::size_t size() const noexcept { return size_; }
    template <class V>
    void fields(V& v) { v(buf_, head_, size_); }

private:
    std::array<double, N> buf_{};
    std::size_t head_ = 0, size_ = 0;
};

// Derived features of one bar series: returns, ratios, volume, volatility,
// Bollinger width and position (NaN until enough bars).
class DerivedFeatures {
public:
    static const std::vector<std::string>& names();
    // The BBANDS the width and position are read from.
    static constexpr std::string_view kBbands = "bbands(20,2,2,0)";
    // `bbands`: kBbands, already updated with `bar`.
    void update(const Bar& bar, const indicators::Indicator& bbands, std::span<double> out) noexcept;
    void save(StateWriter& w) const;
    void restore(StateReader& r);

private:
    History<11> closes_;    // for returns over 1, 5, 10 bars
    History<20> returns_;   // 1-bar returns, for lags and volatility
    History<20> volumes_;
};

// One symbol on one timeframe: aggregates base bars (epoch-aligned buckets; a
// bucket closes on the base bar that ends it, or on the first base bar of a
// later bucket when its end is missing) and recomputes the block on each close.
class TimeframeFeatures {
public:
    explicit TimeframeFeatures(const TimeframePlan& plan);
    TimeframeFeatures(const TimeframeFeatures& other) = default;
    void on_base_bar(const Bar& bar);
    std::span<const double> values() const { return values_; }
    void save(StateWriter& w) const;
    void restore(StateReader& r);

private:
    void close_bar();

    Duration interval_;
    // The plan's indicators, then DerivedFeatures::kBbands (the plan's own when it has it).
    indicators::IndicatorSet indicators_;
    // Per plan indicator, the outputs it contributes: [first, first + count).
    struct OutputRange {
        std::size_t first, count;
    };
    std::vector<OutputRange> outputs_;
    std::size_t bbands_ = 0;            // kBbands' member of indicators_
    DerivedFeatures derived_;
    std::vector<double> values_;
    Bar open_;  // the forming bar of this timeframe
    bool has_open_ = false;
};

}  // namespace pricecast::features
