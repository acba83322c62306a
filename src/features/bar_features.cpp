#include "features/bar_features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pricecast::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> outputs_of(const indicators::IndicatorRef& ref) {
    const auto& outs = ref.spec->outputs;
    if (ref.output >= 0) return {ref.canonical()};
    if (outs.size() == 1) return {ref.canonical()};
    std::vector<std::string> names;
    for (const auto& o : outs) names.push_back(ref.canonical() + "." + o);
    return names;
}

// Sample standard deviation (pandas' rolling std) of the newest n values.
template <std::size_t N>
double sample_std(const History<N>& h, std::size_t n) {
    if (h.size() < n || n < 2) return kNaN;
    double mean = 0;
    for (std::size_t k = 0; k < n; ++k) mean += h.ago(k);
    mean /= static_cast<double>(n);
    double ss = 0;
    for (std::size_t k = 0; k < n; ++k) ss += (h.ago(k) - mean) * (h.ago(k) - mean);
    return std::sqrt(ss / static_cast<double>(n - 1));
}

}  // namespace

// ---- columns -------------------------------------------------------------------

const std::vector<std::string>& DerivedFeatures::names() {
    static const std::vector<std::string> n = {
        "pct_change(1)", "pct_change(5)", "pct_change(10)", "log_return(1)", "log_return(5)",
        "log_return(10)", "return_lag(1)", "return_lag(2)", "return_lag(3)", "hl_ratio",
        "oc_ratio", "volume_sma(20)", "volume_ratio(20)", "volatility(5)", "volatility(20)",
        "bb_width(20,2)", "bb_position(20,2)"};
    return n;
}

void append_columns(const TimeframePlan& plan, std::vector<FeatureColumn>& out) {
    for (const auto& ref : plan.refs)
        for (const auto& name : outputs_of(ref))
            out.push_back({plan.name + ":" + name, ColumnKind::indicator, plan.name, name, ref.spec->integer_output});
    for (const auto& d : DerivedFeatures::names())
        out.push_back({plan.name + ":" + d, ColumnKind::derived, plan.name, d, false});
}

std::size_t column_count(const TimeframePlan& plan) {
    std::size_t n = DerivedFeatures::names().size();
    for (const auto& ref : plan.refs) n += outputs_of(ref).size();
    return n;
}

std::size_t derived_offset(const TimeframePlan& plan, std::string_view derived_name) {
    const auto& d = DerivedFeatures::names();
    auto it = std::find(d.begin(), d.end(), derived_name);
    if (it == d.end()) throw std::logic_error("no derived feature " + std::string(derived_name));
    return column_count(plan) - d.size() + static_cast<std::size_t>(it - d.begin());
}

// ---- derived features ------------------------------------------------------------

void DerivedFeatures::update(const Bar& b, const indicators::Indicator& bbands, std::span<double> out) noexcept {
    const double prev = closes_.size() ? closes_.ago(0) : kNaN;
    closes_.push(b.close);
    volumes_.push(b.volume);
    if (closes_.size() > 1) returns_.push(b.close / prev - 1);

    auto change = [&](std::size_t k) { return closes_.size() > k ? b.close / closes_.ago(k) - 1 : kNaN; };
    auto log_return = [&](std::size_t k) { return closes_.size() > k ? std::log(b.close / closes_.ago(k)) : kNaN; };
    auto lag = [&](std::size_t k) { return returns_.size() > k ? returns_.ago(k) : kNaN; };
    double vsum = 0;
    for (std::size_t k = 0; k < volumes_.size(); ++k) vsum += volumes_.ago(k);
    const double vsma = volumes_.size() == 20 ? vsum / 20 : kNaN;
    const double upper = bbands.value(0), middle = bbands.value(1), lower = bbands.value(2);

    std::size_t i = 0;
    out[i++] = change(1);
    out[i++] = change(5);
    out[i++] = change(10);
    out[i++] = log_return(1);
    out[i++] = log_return(5);
    out[i++] = log_return(10);
    out[i++] = lag(1);
    out[i++] = lag(2);
    out[i++] = lag(3);
    out[i++] = b.high / b.low;
    out[i++] = b.open / b.close;
    out[i++] = vsma;
    // A market with no volume (some FX feeds) has no volume ratio; 1 = "as usual".
    out[i++] = std::isnan(vsma) ? kNaN : vsma > 0 ? b.volume / vsma : 1.0;
    out[i++] = sample_std(returns_, 5);
    out[i++] = sample_std(returns_, 20);
    out[i++] = bbands.ready() ? (middle != 0 ? (upper - lower) / middle : 0.0) : kNaN;
    out[i++] = bbands.ready() ? (upper > lower ? (b.close - lower) / (upper - lower) : 0.5) : kNaN;
}

void DerivedFeatures::save(StateWriter& w) const {
    w(closes_, returns_, volumes_);
}

void DerivedFeatures::restore(StateReader& r) {
    r(closes_, returns_, volumes_);
}

// ---- one timeframe -----------------------------------------------------------------

TimeframeFeatures::TimeframeFeatures(const TimeframePlan& plan)
    : interval_(plan.interval), values_(column_count(plan), kNaN) {
    for (const auto& ref : plan.refs) {
        const std::size_t k = indicators_.add(ref);
        if (ref.output >= 0) outputs_.push_back({static_cast<std::size_t>(ref.output), 1});
        else outputs_.push_back({0, indicators_[k].values().size()});
    }
    bbands_ = indicators_.add(indicators::parse(DerivedFeatures::kBbands));
}

void TimeframeFeatures::on_base_bar(const Bar& b) {
    const Timestamp bucket = b.open_time - ((b.open_time % interval_) + interval_) % interval_;
    if (has_open_ && open_.open_time != bucket) close_bar();  // the bucket's end is missing
    if (!has_open_) {
        open_ = b;
        open_.interval = interval_;
        open_.open_time = bucket;
        open_.close_time = bucket + interval_;
        has_open_ = true;
    } else {
        open_.high = std::max(open_.high, b.high);
        open_.low = std::min(open_.low, b.low);
        open_.close = b.close;
        open_.volume += b.volume;
        open_.trade_count += b.trade_count;
    }
    if (b.close_time >= open_.close_time) close_bar();
}

void TimeframeFeatures::close_bar() {
    has_open_ = false;
    indicators_.update_valid(open_);  // built from base bars the pipeline checked
    std::size_t i = 0;
    // value(), not values(): values() looks the output count up in the spec, off the indicator's hot line.
    for (std::size_t k = 0; k < outputs_.size(); ++k) {
        const auto& [first, count] = outputs_[k];
        for (std::size_t j = first; j < first + count; ++j) values_[i++] = indicators_[k].value(j);
    }
    derived_.update(open_, indicators_[bbands_], std::span<double>(values_).subspan(i));
}

void TimeframeFeatures::save(StateWriter& w) const {
    indicators_.save(w);
    derived_.save(w);
    w(values_, has_open_, open_.symbol, open_.interval, open_.open_time, open_.close_time, open_.open, open_.high,
      open_.low, open_.close, open_.volume, open_.trade_count);
}

void TimeframeFeatures::restore(StateReader& r) {
    indicators_.restore(r);
    derived_.restore(r);
    r(values_, has_open_, open_.symbol, open_.interval, open_.open_time, open_.close_time, open_.open, open_.high,
      open_.low, open_.close, open_.volume, open_.trade_count);
}

}  // namespace pricecast::features
