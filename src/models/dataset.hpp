// From a feature matrix to what models train on: labels (the trend over the
// next `horizon` bars against a threshold), samples (a window of feature
// vectors per row), and the StandardScaler.
//
// Labels use only the row's own symbol: rows of a matrix are interleaved by
// symbol, so every series is taken per symbol. A row whose future is not in the
// matrix (the last `horizon` bars of a symbol) has no label.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "features/features.hpp"
#include "models/model.hpp"

namespace pricecast::models {

enum class ThresholdMode : std::uint8_t { fixed, volatility, quantile };
std::optional<ThresholdMode> parse_threshold_mode(std::string_view s);  // "fixed", "volatility", "quantile"

struct LabelConfig {
    int horizon = 1;                 // bars ahead
    ThresholdMode mode = ThresholdMode::fixed;
    double threshold = 0.01;         // fixed: |return| above this is UP / DOWN
    double vol_k = 0.5;              // volatility: k x the rolling std of 1-bar returns
    int vol_window = 20;             // bars of that std (known at the row's time)
    double quantile = 1.0 / 3.0;     // quantile: this share of training returns is DOWN, as many UP
    nlohmann::json to_json() const;
    static LabelConfig from_json(const nlohmann::json& j);
};

// Per matrix row: the forward return (NaN when unknown), the return over the
// last `horizon` bars and the volatility scale, each from the row's own symbol;
// and the close time of the last bar the forward return reads (the largest
// Timestamp when unknown). Across a gap in the symbol's bars that is later than
// horizon x the bar interval, so purging splits needs it.
struct RowReturns {
    std::vector<double> forward, past, scale;
    std::vector<Timestamp> forward_end;
};
RowReturns row_returns(const features::FeatureMatrix& m, const LabelConfig& cfg);

// The scale of volatility labels: the sample std of the `win` one-bar returns
// over close(0) .. close(win), times sqrt(horizon) (a random walk's spread
// grows with it). Training (row_returns) and the live monitor's outcomes both
// call this, so a bar gets the same double either way.
template <class Close>
double volatility_scale(const Close& close, int win, int horizon) {
    double sum = 0, sum2 = 0;
    for (int j = 1; j <= win; ++j) {
        const double x = close(j) / close(j - 1) - 1;
        sum += x;
        sum2 += x * x;
    }
    const double n = static_cast<double>(win);
    return std::sqrt(std::max(0.0, (sum2 - sum * sum / n) / (n - 1))) * std::sqrt(double(horizon));
}

// Turns returns into classes. Quantile thresholds are fit on training rows only.
class Labeler {
public:
    explicit Labeler(LabelConfig cfg) : cfg_(cfg) {}
    void fit(const RowReturns& r, std::span<const std::size_t> train_rows);
    std::optional<Trend> forward_class(const RowReturns& r, std::size_t row) const;
    std::optional<Trend> past_class(const RowReturns& r, std::size_t row) const;
    const LabelConfig& config() const { return cfg_; }
    nlohmann::json to_json() const;  // the configuration and the fitted thresholds
    static Labeler from_json(const nlohmann::json& j);

private:
    std::optional<Trend> classify(double ret, double scale) const;
    LabelConfig cfg_;
    double down_ = 0, up_ = 0;  // thresholds in units of the scale
};

// One sample per matrix row that has `steps` complete vectors of its symbol
// ending at the row (the oldest first). `rows` maps samples back to matrix rows.
struct Windows {
    SampleSet set;  // labels left empty: they depend on the Labeler
    std::vector<std::size_t> rows;
};
Windows make_windows(const features::FeatureMatrix& m, std::size_t steps);
// The subset of samples `idx`, with labels; samples without a label are dropped.
SampleSet select(const Windows& w, std::span<const std::size_t> idx, const Labeler& labeler, const RowReturns& r);

// Mean/std per feature column, fit on training samples only.
class StandardScaler {
public:
    void fit(const SampleSet& train);
    void transform(SampleSet& s) const;  // in place; NaN stays NaN
    bool fitted() const { return !mean_.empty(); }
    nlohmann::json to_json() const;
    static StandardScaler from_json(const nlohmann::json& j);

private:
    std::vector<double> mean_, inv_std_;
};

}  // namespace pricecast::models
