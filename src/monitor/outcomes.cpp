#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/state.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::monitor {

void validate(const LabelRule& rule) {
    if (rule.horizon < 1) throw MonitorError(fmt::format("label horizon: must be at least 1 bar, got {}", rule.horizon));
    if (!std::isfinite(rule.threshold) || rule.threshold < 0)
        throw MonitorError(fmt::format("label threshold: must be a finite return >= 0, got {}", rule.threshold));
}

// The fixed-threshold rule of models::Labeler::classify (src/models/dataset.cpp)
// with down = -threshold and up = threshold.
int realized_class(double close_at_prediction, double close_after_horizon, double threshold) {
    const double ret = close_after_horizon / close_at_prediction - 1;
    if (ret > threshold) return 2;
    if (ret < -threshold) return 0;
    return 1;
}

OutcomeResolver::OutcomeResolver(LabelRule rule, Sink sink, std::size_t keep_bars)
    : rule_(rule), sink_(std::move(sink)), keep_bars_(std::max<std::size_t>(keep_bars, std::size_t(rule.horizon) + 1)) {
    validate(rule_);
}

OutcomeResolver::SymbolState& OutcomeResolver::state(const std::string& symbol) {
    auto it = std::find_if(symbols_.begin(), symbols_.end(), [&](const SymbolState& s) { return s.symbol == symbol; });
    if (it != symbols_.end()) return *it;
    symbols_.push_back({.symbol = symbol});
    return symbols_.back();
}

// Needs the bars closing at bar_time + k * interval for k = 1..horizon, all of them.
bool OutcomeResolver::try_resolve(SymbolState& s, const Waiting& w) {
    if (s.interval <= 0) return false;
    const auto& c = s.closes;
    auto it = std::lower_bound(c.begin(), c.end(), w.bar_time + s.interval,
                               [](const auto& e, Timestamp t) { return e.first < t; });
    for (int k = 1; k <= rule_.horizon; ++k, ++it)
        if (it == c.end() || it->first != w.bar_time + k * s.interval) return false;
    const auto& last = *(it - 1);
    sink_(Outcome{.symbol = s.symbol,
                  .bar_time = w.bar_time,
                  .cls = realized_class(w.close, last.second, rule_.threshold),
                  .close_after = last.second,
                  .resolved_at = last.first});
    ++stats_.resolved;
    return true;
}

void OutcomeResolver::on_prediction(const Prediction& p) {
    if (!std::isfinite(p.close) || p.close <= 0) throw MonitorError(fmt::format("prediction for '{}': bad close", p.symbol));
    ++stats_.predictions;
    auto& s = state(p.symbol);
    const Waiting w{p.bar_time, p.close};
    auto pos = std::lower_bound(s.waiting.begin(), s.waiting.end(), w.bar_time,
                                [](const Waiting& e, Timestamp t) { return e.bar_time < t; });
    // Models and slots share the outcome of a bar: the first one waits for all.
    if (pos != s.waiting.end() && pos->bar_time == w.bar_time) return;
    if (!try_resolve(s, w)) s.waiting.insert(pos, w);
}

void OutcomeResolver::on_bar(const Bar& b) {
    if (check_bar(b) != BarProblem::none || b.interval <= 0 || b.symbol.empty()) {
        ++stats_.bad_bars;
        return;
    }
    ++stats_.bars;
    auto& s = state(b.symbol);
    s.interval = b.interval;
    auto& c = s.closes;
    auto pos = std::lower_bound(c.begin(), c.end(), b.close_time, [](const auto& e, Timestamp t) { return e.first < t; });
    if (pos != c.end() && pos->first == b.close_time) return;  // a redelivery
    c.insert(pos, {b.close_time, b.close});
    if (c.size() > keep_bars_) c.erase(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(c.size() - keep_bars_));
    std::erase_if(s.waiting, [&](const Waiting& w) { return try_resolve(s, w); });
}

std::size_t OutcomeResolver::pending() const {
    std::size_t n = 0;
    for (const auto& s : symbols_) n += s.waiting.size();
    return n;
}

std::string OutcomeResolver::save() const {
    StateWriter w;
    w.tag("monitor.outcomes/1");
    w(rule_.horizon, rule_.threshold, symbols_, stats_.bars, stats_.predictions, stats_.resolved, stats_.bad_bars);
    return w.take();
}

void OutcomeResolver::restore(std::string_view bytes) {
    StateReader r(bytes);
    r.tag("monitor.outcomes/1");
    LabelRule saved;
    std::vector<SymbolState> symbols;
    Stats stats;
    r(saved.horizon, saved.threshold, symbols, stats.bars, stats.predictions, stats.resolved, stats.bad_bars);
    if (!r.done()) throw StateError("outcome resolver snapshot has trailing bytes");
    if (saved.horizon != rule_.horizon || saved.threshold != rule_.threshold)
        throw StateError(fmt::format("outcome resolver snapshot is for horizon {} threshold {}, not {} and {}",
                                     saved.horizon, saved.threshold, rule_.horizon, rule_.threshold));
    symbols_ = std::move(symbols);
    stats_ = stats;
}

}  // namespace pricecast::monitor
