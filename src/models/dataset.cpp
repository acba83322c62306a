#include "models/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace pricecast::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Row indices of each symbol, in time order.
std::vector<std::vector<std::size_t>> rows_by_symbol(const features::FeatureMatrix& m) {
    std::map<std::string, std::vector<std::size_t>> by;
    for (std::size_t i = 0; i < m.rows(); ++i) by[m.symbols[i]].push_back(i);
    std::vector<std::vector<std::size_t>> out;
    for (auto& [_, rows] : by) out.push_back(std::move(rows));
    return out;
}

bool complete_row(const features::FeatureMatrix& m, std::size_t r) {
    const std::size_t w = m.columns.size();
    return std::all_of(m.values.begin() + static_cast<std::ptrdiff_t>(r * w),
                       m.values.begin() + static_cast<std::ptrdiff_t>((r + 1) * w), [](double v) { return std::isfinite(v); });
}

}  // namespace

std::optional<ThresholdMode> parse_threshold_mode(std::string_view s) {
    if (s == "fixed") return ThresholdMode::fixed;
    if (s == "volatility") return ThresholdMode::volatility;
    if (s == "quantile") return ThresholdMode::quantile;
    return std::nullopt;
}

nlohmann::json LabelConfig::to_json() const {
    static const char* modes[] = {"fixed", "volatility", "quantile"};
    return {{"horizon", horizon}, {"mode", modes[static_cast<int>(mode)]}, {"threshold", threshold},
            {"vol_k", vol_k},     {"vol_window", vol_window},            {"quantile", quantile}};
}

LabelConfig LabelConfig::from_json(const nlohmann::json& j) {
    LabelConfig c;
    c.horizon = j.at("horizon");
    const auto mode = parse_threshold_mode(j.at("mode").get<std::string>());
    if (!mode) throw std::invalid_argument("labels: unknown mode " + j.at("mode").dump());
    c.mode = *mode;
    c.threshold = j.at("threshold");
    c.vol_k = j.at("vol_k");
    c.vol_window = j.at("vol_window");
    c.quantile = j.at("quantile");
    return c;
}

RowReturns row_returns(const features::FeatureMatrix& m, const LabelConfig& cfg) {
    if (cfg.horizon < 1) throw std::invalid_argument("label horizon must be at least 1 bar");
    RowReturns r;
    r.forward.assign(m.rows(), kNaN);
    r.forward_end.assign(m.rows(), std::numeric_limits<Timestamp>::max());
    r.past.assign(m.rows(), kNaN);
    r.scale.assign(m.rows(), cfg.mode == ThresholdMode::volatility ? kNaN : 1.0);
    const auto h = static_cast<std::size_t>(cfg.horizon);
    for (const auto& rows : rows_by_symbol(m)) {
        for (std::size_t k = 0; k < rows.size(); ++k) {
            const double c = m.closes[rows[k]];
            if (k + h < rows.size()) {
                r.forward[rows[k]] = m.closes[rows[k + h]] / c - 1;
                r.forward_end[rows[k]] = m.times[rows[k + h]];
            }
            if (k >= h) r.past[rows[k]] = c / m.closes[rows[k - h]] - 1;
            const auto win = static_cast<std::size_t>(cfg.vol_window);
            if (cfg.mode == ThresholdMode::volatility && k >= win) {
                const auto close = [&](int j) { return m.closes[rows[k - win + static_cast<std::size_t>(j)]]; };
                r.scale[rows[k]] = volatility_scale(close, cfg.vol_window, cfg.horizon);
            }
        }
    }
    return r;
}

void Labeler::fit(const RowReturns& r, std::span<const std::size_t> train_rows) {
    if (cfg_.mode == ThresholdMode::fixed) {
        down_ = -cfg_.threshold, up_ = cfg_.threshold;
        return;
    }
    if (cfg_.mode == ThresholdMode::volatility) {
        down_ = -cfg_.vol_k, up_ = cfg_.vol_k;
        return;
    }
    std::vector<double> v;
    for (auto row : train_rows)
        if (std::isfinite(r.forward[row])) v.push_back(r.forward[row]);
    if (v.size() < 3) throw std::invalid_argument("quantile labels need training rows with known returns");
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
    down_ = at(cfg_.quantile);
    up_ = at(1 - cfg_.quantile);
}

std::optional<Trend> Labeler::classify(double ret, double scale) const {
    if (!std::isfinite(ret) || !std::isfinite(scale)) return std::nullopt;
    if (ret > up_ * scale) return Trend::up;
    if (ret < down_ * scale) return Trend::down;
    return Trend::stable;
}

std::optional<Trend> Labeler::forward_class(const RowReturns& r, std::size_t row) const {
    return classify(r.forward[row], r.scale[row]);
}

std::optional<Trend> Labeler::past_class(const RowReturns& r, std::size_t row) const {
    return classify(r.past[row], r.scale[row]);
}

nlohmann::json Labeler::to_json() const {
    auto j = cfg_.to_json();
    j["down"] = down_;
    j["up"] = up_;
    return j;
}

Labeler Labeler::from_json(const nlohmann::json& j) {
    Labeler l(LabelConfig::from_json(j));
    l.down_ = j.at("down");
    l.up_ = j.at("up");
    return l;
}

Windows make_windows(const features::FeatureMatrix& m, std::size_t steps) {
    if (steps == 0) throw std::invalid_argument("a sample needs at least one step");
    Windows w;
    const std::size_t width = m.columns.size();
    w.set.steps = steps;
    w.set.width = width;
    const auto by_symbol = rows_by_symbol(m);
    struct End {
        std::size_t row, series, k;  // matrix row, its symbol's series, position in it
        bool operator<(const End& o) const { return row < o.row; }
    };
    std::vector<End> ends;
    for (std::size_t s = 0; s < by_symbol.size(); ++s) {
        std::size_t run = 0;  // complete vectors in a row ending here
        for (std::size_t k = 0; k < by_symbol[s].size(); ++k) {
            run = complete_row(m, by_symbol[s][k]) ? run + 1 : 0;
            if (run >= steps) ends.push_back({by_symbol[s][k], s, k});
        }
    }
    std::sort(ends.begin(), ends.end());  // the matrix's own (time) order
    for (const auto& [row, series, k] : ends) {
        const auto& rows = by_symbol[series];
        for (std::size_t s = 0; s < steps; ++s) {
            const std::size_t src = rows[k + 1 - steps + s];
            for (std::size_t f = 0; f < width; ++f) w.set.values.push_back(static_cast<float>(m.values[src * width + f]));
        }
        w.set.times.push_back(m.times[row]);
        w.rows.push_back(row);
    }
    return w;
}

SampleSet select(const Windows& w, std::span<const std::size_t> idx, const Labeler& labeler, const RowReturns& r) {
    SampleSet out;
    out.steps = w.set.steps;
    out.width = w.set.width;
    const std::size_t n = out.steps * out.width;
    for (auto i : idx) {
        const auto label = labeler.forward_class(r, w.rows[i]);
        if (!label) continue;
        const auto sample = w.set.sample(i);
        out.values.insert(out.values.end(), sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(n));
        out.labels.push_back(*label);
        out.last_realized.push_back(labeler.past_class(r, w.rows[i]).value_or(Trend::stable));
        out.times.push_back(w.set.times[i]);
    }
    return out;
}

void StandardScaler::fit(const SampleSet& train) {
    const std::size_t w = train.width;
    std::vector<double> sum(w, 0), sum2(w, 0), n(w, 0);
    for (std::size_t i = 0; i < train.values.size(); ++i) {
        const double v = train.values[i];
        if (!std::isfinite(v)) continue;
        sum[i % w] += v;
        sum2[i % w] += v * v;
        n[i % w] += 1;
    }
    mean_.assign(w, 0);
    inv_std_.assign(w, 1);
    for (std::size_t f = 0; f < w; ++f) {
        if (n[f] < 2) continue;
        mean_[f] = sum[f] / n[f];
        const double var = std::max(0.0, sum2[f] / n[f] - mean_[f] * mean_[f]);
        inv_std_[f] = var > 1e-24 ? 1 / std::sqrt(var) : 1.0;  // a constant column stays centred, not blown up
    }
}

void StandardScaler::transform(SampleSet& s) const {
    if (s.width != mean_.size()) throw std::invalid_argument("scaler was fit on another feature width");
    for (std::size_t i = 0; i < s.values.size(); ++i) {
        const std::size_t f = i % s.width;
        s.values[i] = static_cast<float>((s.values[i] - mean_[f]) * inv_std_[f]);
    }
}

nlohmann::json StandardScaler::to_json() const { return {{"mean", mean_}, {"inv_std", inv_std_}}; }

StandardScaler StandardScaler::from_json(const nlohmann::json& j) {
    StandardScaler s;
    s.mean_ = j.at("mean").get<std::vector<double>>();
    s.inv_std_ = j.at("inv_std").get<std::vector<double>>();
    if (s.mean_.size() != s.inv_std_.size()) throw std::invalid_argument("scaler: mean and inv_std differ in length");
    return s;
}

}  // namespace pricecast::models
