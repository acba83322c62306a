#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kBins = 10;
constexpr double kLogLossEps = 1e-15;

double ratio(double num, double den) { return den > 0 ? num / den : 0; }

// NaN stays null in JSON (nlohmann writes NaN as null too, but say so).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

void score_classes(Metrics& m, const std::array<std::array<std::size_t, kClasses>, kClasses>& confusion) {
    double f1_sum = 0;
    for (std::size_t k = 0; k < kClasses; ++k) {
        auto& c = m.classes[k];
        std::size_t tp = confusion[k][k];
        for (std::size_t j = 0; j < kClasses; ++j) {
            c.support += confusion[k][j];
            c.predicted += confusion[j][k];
        }
        c.precision = ratio(double(tp), double(c.predicted));
        c.recall = ratio(double(tp), double(c.support));
        c.f1 = ratio(2 * c.precision * c.recall, c.precision + c.recall);
        f1_sum += c.f1;
    }
    m.macro_f1 = f1_sum / kClasses;
}

void finish_reliability(Metrics& m, std::size_t resolved) {
    m.ece = 0;
    for (auto& b : m.reliability) {
        if (b.count == 0) {
            b.mean_confidence = b.accuracy = kNaN;
            continue;
        }
        const double n = double(b.count);
        m.ece += n / double(resolved) * std::abs(b.accuracy / n - b.mean_confidence / n);
        b.mean_confidence /= n;
        b.accuracy /= n;
    }
}

}  // namespace

Metrics compute_metrics(std::span<const LoggedPrediction> rows) {
    Metrics m;
    m.reliability.resize(kBins);
    for (std::size_t i = 0; i < kBins; ++i) m.reliability[i].lower = double(i) / kBins, m.reliability[i].upper = double(i + 1) / kBins;
    std::array<std::array<std::size_t, kClasses>, kClasses> confusion{};  // [true][predicted]
    double log_loss = 0, brier = 0;
    std::size_t correct = 0;
    for (const auto& row : rows) {
        const auto& p = row.prediction;
        ++m.predictions;
        m.class_mix[static_cast<std::size_t>(p.cls)] += 1;
        if (!row.outcome) continue;
        const auto y = static_cast<std::size_t>(*row.outcome);
        const auto pred = static_cast<std::size_t>(p.cls);
        ++m.resolved;
        ++confusion[y][pred];
        correct += y == pred ? 1 : 0;
        double sum = 0;
        for (float q : p.probs) sum += q;
        log_loss -= std::log(std::clamp(sum > 0 ? double(p.probs[y]) / sum : 0.0, kLogLossEps, 1.0));
        for (std::size_t k = 0; k < kClasses; ++k) {
            const double d = double(p.probs[k]) - (k == y ? 1.0 : 0.0);
            brier += d * d;
        }
        const double conf = double(*std::max_element(p.probs.begin(), p.probs.end()));
        auto& bin = m.reliability[std::min(kBins - 1, static_cast<std::size_t>(conf * kBins))];
        ++bin.count;
        bin.mean_confidence += conf;
        bin.accuracy += y == pred ? 1 : 0;
    }
    for (auto& share : m.class_mix) share = ratio(share, double(m.predictions));
    if (m.resolved == 0) {
        m.accuracy = m.macro_f1 = m.log_loss = m.brier = m.ece = kNaN;
        finish_reliability(m, 0);
        return m;
    }
    const double n = double(m.resolved);
    m.accuracy = double(correct) / n;
    m.log_loss = log_loss / n;
    m.brier = brier / n;
    score_classes(m, confusion);
    finish_reliability(m, m.resolved);
    return m;
}

nlohmann::json to_json(const Metrics& m) {
    static constexpr std::array<const char*, kClasses> kNames = {"down", "stable", "up"};
    nlohmann::json classes = nlohmann::json::object(), mix = nlohmann::json::object();
    for (std::size_t k = 0; k < kClasses; ++k) {
        const auto& c = m.classes[k];
        classes[kNames[k]] = {{"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                              {"support", c.support}, {"predicted", c.predicted}};
        mix[kNames[k]] = m.class_mix[k];
    }
    auto bins = nlohmann::json::array();
    for (const auto& b : m.reliability)
        bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count},
                        {"mean_confidence", number(b.mean_confidence)}, {"accuracy", number(b.accuracy)}});
    return {{"predictions", m.predictions}, {"resolved", m.resolved}, {"accuracy", number(m.accuracy)},
            {"macro_f1", number(m.macro_f1)}, {"log_loss", number(m.log_loss)}, {"brier", number(m.brier)},
            {"ece", number(m.ece)}, {"classes", classes}, {"class_mix", mix}, {"reliability", bins}};
}

nlohmann::json to_json(const MetricsRow& r) {
    return {{"model", r.key.model},       {"version", r.key.version}, {"slot", r.key.slot},
            {"symbol", r.symbol.empty() ? "all" : r.symbol},
            {"window", format_duration(r.window)}, {"end", format_iso8601(r.end)}, {"metrics", to_json(r.metrics)}};
}

std::vector<MetricsRow> rolling_metrics(const PredictionLog& log, const MetricsQuery& q,
                                        std::span<const Duration> windows) {
    std::vector<MetricsRow> out;
    const auto end = q.end ? q.end : log.latest_bar_time();
    if (!end) return out;
    for (const auto& key : log.models()) {
        if (!q.model.empty() && key.model != q.model) continue;
        if (q.version && key.version != *q.version) continue;
        for (Duration window : windows) {
            const auto rows = log.query({.model = key.model, .version = key.version, .slot = key.slot,
                                         .symbol = q.symbol, .from = *end - window, .to = *end});
            if (rows.empty()) continue;
            out.push_back({key, q.symbol, window, *end, compute_metrics(rows)});
            if (!q.symbol.empty()) continue;
            std::set<std::string> symbols;
            for (const auto& r : rows) symbols.insert(r.prediction.symbol);
            for (const auto& symbol : symbols) {
                std::vector<LoggedPrediction> mine;
                std::copy_if(rows.begin(), rows.end(), std::back_inserter(mine),
                             [&](const LoggedPrediction& r) { return r.prediction.symbol == symbol; });
                out.push_back({key, symbol, window, *end, compute_metrics(mine)});
            }
        }
    }
    return out;
}

}  // namespace pricecast::monitor
