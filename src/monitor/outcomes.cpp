#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/state.hpp"
#include "models/dataset.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::monitor {

void validate(const LabelRule& rule) {
    if (rule.horizon < 1) throw MonitorError(fmt::format("label horizon: must be at least 1 bar, got {}", rule.horizon));
    if (!std::isfinite(rule.down) || !std::isfinite(rule.up) || rule.down > rule.up)
        throw MonitorError(fmt::format("label threshold: DOWN below {} and UP above {} need finite returns, the "
                                       "first not above the second (a fixed threshold must be >= 0)",
                                       rule.down, rule.up));
    if (rule.vol_window < 0 || rule.vol_window == 1)
        throw MonitorError(fmt::format("label vol_window: must be 0 (no volatility scaling) or at least 2 bars, got {}",
                                       rule.vol_window));
}

std::optional<LabelRule> LabelRule::of_model(const nlohmann::json& labels) {
    if (!labels.is_object() || !labels.contains("mode") || !labels.contains("horizon") || !labels.contains("down") ||
        !labels.contains("up"))
        return std::nullopt;
    LabelRule r;
    try {
        const auto mode = labels["mode"].get<std::string>();
        r = {labels["horizon"].get<int>(), labels["down"].get<double>(), labels["up"].get<double>(), 0};
        if (mode == "volatility") {
            if (!labels.contains("vol_window")) return std::nullopt;
            r.vol_window = labels["vol_window"].get<int>();
        } else if (mode != "fixed" && mode != "quantile") {
            return std::nullopt;
        }
    } catch (const nlohmann::json::exception& e) {
        throw MonitorError(fmt::format("label parameters {}: {}", labels.dump(), e.what()));
    }
    validate(r);
    return r;
}

std::string LabelRule::describe() const {
    if (vol_window > 0)
        return fmt::format("horizon {}, DOWN below {:+.4g} x, UP above {:+.4g} x the {}-bar volatility", horizon, down,
                           up, vol_window);
    return fmt::format("horizon {}, DOWN below {:+.4g}%, UP above {:+.4g}%", horizon, down * 100, up * 100);
}

// models::Labeler::classify (src/models/dataset.cpp).
int realized_class(double close_at_prediction, double close_after_horizon, const LabelRule& rule, double scale) {
    const double ret = close_after_horizon / close_at_prediction - 1;
    if (ret > rule.up * scale) return 2;
    if (ret < rule.down * scale) return 0;
    return 1;
}

OutcomeResolver::OutcomeResolver(LabelRule rule, Sink sink, std::size_t keep_bars)
    : rule_(rule),
      sink_(std::move(sink)),
      keep_bars_(std::max<std::size_t>(keep_bars, std::size_t(rule.horizon) + std::size_t(rule.vol_window) + 1)) {
    validate(rule_);
}

void OutcomeResolver::set_rule(const LabelRule& rule) {
    validate(rule);
    rule_ = rule;
    keep_bars_ = std::max<std::size_t>(keep_bars_, std::size_t(rule.horizon) + std::size_t(rule.vol_window) + 1);
}

OutcomeResolver::SymbolState& OutcomeResolver::state(const std::string& symbol) {
    auto it = std::find_if(symbols_.begin(), symbols_.end(), [&](const SymbolState& s) { return s.symbol == symbol; });
    if (it != symbols_.end()) return *it;
    symbols_.push_back({.symbol = symbol});
    return symbols_.back();
}

namespace {

using Closes = std::vector<std::pair<Timestamp, double>>;

Closes::const_iterator after(const Closes& c, Timestamp t) {
    return std::upper_bound(c.begin(), c.end(), t, [](Timestamp x, const auto& e) { return x < e.first; });
}

}  // namespace

// The label the trainer gives (models::row_returns): the close `horizon` bars
// of the symbol after the prediction's own bar, counted in bars, so a weekend
// or a halt is stepped over as in training. A volatility rule also needs the
// vol_window bars before it. Returns whether the prediction is settled:
// resolved, or dropped as unscored.
bool OutcomeResolver::try_resolve(SymbolState& s, const Waiting& w) {
    const auto& c = s.closes;
    const auto next = after(c, w.bar_time);
    const bool own_kept = next != c.begin() && (next - 1)->first == w.bar_time;
    if (!own_kept) {
        if (next == c.end()) return false;  // its bar, or the next, may still come
        // Without its own bar (not seen, or dropped from the kept closes), the
        // count can start only from the bar right after it in time.
        if (next->first != w.bar_time + s.interval) {
            ++stats_.unscored;
            return true;
        }
    }
    if (c.end() - next < rule_.horizon) return false;
    double scale = 1;
    if (rule_.vol_window > 0) {
        const auto own = next - 1;
        if (!own_kept || own - c.begin() < rule_.vol_window) {
            ++stats_.unscored;
            return true;
        }
        const auto first = own - rule_.vol_window;
        const auto close = [first](int j) { return first[j].second; };
        scale = models::volatility_scale(close, rule_.vol_window, rule_.horizon);
    }
    const auto& last = *(next + rule_.horizon - 1);
    sink_(Outcome{.symbol = s.symbol,
                  .bar_time = w.bar_time,
                  .cls = realized_class(w.close, last.second, rule_, scale),
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
    if (!c.empty() && b.close_time <= c.back().first) {
        const auto pos = std::lower_bound(c.begin(), c.end(), b.close_time,
                                          [](const auto& e, Timestamp t) { return e.first < t; });
        // A redelivery, or a bar older than its symbol's newest: the feature
        // pipeline drops that one as out of order, so no label counts it either.
        if (pos == c.end() || pos->first != b.close_time) ++stats_.bad_bars;
        return;
    }
    c.emplace_back(b.close_time, b.close);
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
    w.tag("monitor.outcomes/2");
    w(rule_.horizon, rule_.down, rule_.up, rule_.vol_window, symbols_, stats_.bars, stats_.predictions, stats_.resolved,
      stats_.bad_bars, stats_.unscored);
    return w.take();
}

void OutcomeResolver::restore(std::string_view bytes) {
    StateReader r(bytes);
    r.tag("monitor.outcomes/2");
    LabelRule saved;
    std::vector<SymbolState> symbols;
    Stats stats;
    r(saved.horizon, saved.down, saved.up, saved.vol_window, symbols, stats.bars, stats.predictions, stats.resolved,
      stats.bad_bars, stats.unscored);
    if (!r.done()) throw StateError("outcome resolver snapshot has trailing bytes");
    if (saved != rule_)
        throw StateError(fmt::format("outcome resolver snapshot is for the rule {}, not {}", saved.describe(),
                                     rule_.describe()));
    symbols_ = std::move(symbols);
    stats_ = stats;
}

}  // namespace pricecast::monitor
