// pricecast monitor report: rolling metrics from the prediction log, and the
// performance-drift verdict where both of its windows are shown.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::cli {
namespace {

struct MonitorOptions {
    CommonOptions common;
    std::string model, symbol, windows = "24h,168h", at;
    int version = -1;
    std::size_t min_samples = monitor::DriftConfig{}.min_samples;
    bool json = false;
};

MonitorOptions& opts() {
    static MonitorOptions o;
    return o;
}

std::vector<Duration> parse_windows(const std::string& text) {
    std::vector<Duration> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        const auto d = parse_duration(item);
        if (!d || *d <= 0) throw UsageError(fmt::format("--window: '{}' is not a positive duration (e.g. 24h)", item));
        out.push_back(*d);
    }
    if (out.empty()) throw UsageError("--window: give at least one duration (e.g. 24h)");
    return out;
}

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", 100 * v) : "-"; }
std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }

void print_table(const std::vector<monitor::MetricsRow>& rows) {
    std::cout << fmt::format("{:<16} {:>4} {:<10} {:<10} {:>6} {:>7} {:>8} {:>6} {:>6} {:>8} {:>7} {:>6}  {}\n", "model",
                             "ver", "slot", "symbol", "window", "preds", "resolved", "acc%", "mF1%", "logloss",
                             "brier", "ece", "mix D/S/U %");
    for (const auto& r : rows) {
        const auto& m = r.metrics;
        std::cout << fmt::format("{:<16} {:>4} {:<10} {:<10} {:>6} {:>7} {:>8} {:>6} {:>6} {:>8} {:>7} {:>6}  {:.0f}/{:.0f}/{:.0f}\n",
                                 r.key.model, r.key.version, r.key.slot, r.symbol.empty() ? "all" : r.symbol,
                                 format_duration(r.window), m.predictions, m.resolved, pct(m.accuracy),
                                 pct(m.macro_f1), num(m.log_loss), num(m.brier), num(m.ece), 100 * m.class_mix[0],
                                 100 * m.class_mix[1], 100 * m.class_mix[2]);
    }
}

// The original rule on the rows that have both of its windows.
void print_performance_drift(const std::vector<monitor::MetricsRow>& rows, std::size_t min_samples) {
    monitor::DriftConfig c;
    c.min_samples = min_samples;
    for (const auto& s : rows) {
        if (s.window != c.short_window) continue;
        for (const auto& l : rows) {
            if (l.window != c.long_window || l.key != s.key || l.symbol != s.symbol) continue;
            const auto d = monitor::performance_drift(s.metrics, l.metrics, c);
            const char* verdict = d.alarm ? "DRIFT" : d.enough_samples ? "ok" : "too few resolved";
            std::cout << fmt::format("performance {} v{} {} {}: {}% over {} vs {}% over {}: {}\n", s.key.model,
                                     s.key.version, s.key.slot, s.symbol.empty() ? "all" : s.symbol,
                                     pct(d.short_accuracy), format_duration(c.short_window), pct(d.long_accuracy),
                                     format_duration(c.long_window), verdict);
        }
    }
}

void report() {
    auto& o = opts();
    const auto windows = parse_windows(o.windows);
    monitor::MetricsQuery q{.model = o.model, .symbol = o.symbol};
    if (o.version >= 0) q.version = o.version;
    if (!o.at.empty()) {
        q.end = parse_iso8601(o.at);
        if (!q.end) throw UsageError(fmt::format("--at: '{}' is not an ISO-8601 time", o.at));
    }
    const auto path = monitor::PredictionLog::default_path(o.common.data_dir());
    if (!std::filesystem::exists(path)) throw UsageError(fmt::format("no prediction log at {}", path.string()));
    const monitor::PredictionLog log(path);
    const auto rows = monitor::rolling_metrics(log, q, windows);
    if (o.json) {
        auto j = nlohmann::json::array();
        for (const auto& r : rows) j.push_back(monitor::to_json(r));
        std::cout << j.dump(2) << "\n";
        return;
    }
    if (rows.empty()) {
        std::cout << "no predictions match in " << path.string() << "\n";
        return;
    }
    std::cout << fmt::format("window end {} (event time)\n", format_iso8601(rows.front().end));
    print_table(rows);
    print_performance_drift(rows, o.min_samples);
}

}  // namespace

void add_monitor_command(CLI::App& app) {
    auto& o = opts();
    auto* cmd = app.add_subcommand("monitor", "model monitoring from the prediction log under --data-dir");
    cmd->require_subcommand(1);
    auto* rep = cmd->add_subcommand("report", "rolling metrics per model version and symbol");
    add_common_options(*rep, o.common);
    rep->add_option("--model", o.model, "only this model");
    rep->add_option("--version", o.version, "only this version")->check(CLI::NonNegativeNumber);
    rep->add_option("--symbol", o.symbol, "only this symbol (default: all symbols and each one)");
    rep->add_option("--window", o.windows, "windows ending at the newest prediction, comma-separated")
        ->capture_default_str();
    rep->add_option("--at", o.at, "end of the windows (ISO-8601; default: the newest prediction's bar time)");
    rep->add_option("--min-samples", o.min_samples,
                    "resolved predictions each window needs before the drift rule (24h accuracy more than 5 points "
                    "below 168h) is judged")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    rep->add_flag("--json", o.json, "machine-readable output");
    rep->callback(report);
}

}  // namespace pricecast::cli
