// pricecast ab report: the champion against the challenger on the resolved
// outcomes of the prediction log, and optionally the challenger's promotion
// through the registry's gate when it is significantly better.
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "monitor/monitor.hpp"
#include "registry/registry.hpp"

namespace pricecast::cli {
namespace {

struct AbCliOptions {
    CommonOptions common;
    std::string model, window = "168h", mode = "auto", at;
    double alpha = 0.05;
    bool promote = false, json = false;
};

AbCliOptions& opts() {
    static AbCliOptions o;
    return o;
}

monitor::AbOptions parse(const AbCliOptions& o) {
    monitor::AbOptions a;
    a.model = o.model;
    if (a.model.empty()) throw UsageError("--model: give the registered model to compare");
    const auto window = parse_duration(o.window);
    if (!window || *window <= 0)
        throw UsageError(fmt::format("--window: '{}' is not a positive duration (e.g. 168h)", o.window));
    a.window = *window;
    if (!(o.alpha > 0 && o.alpha < 1)) throw UsageError(fmt::format("--alpha: {} is not in (0, 1)", o.alpha));
    a.alpha = o.alpha;
    if (o.mode == "shadow") a.mode = monitor::AbMode::shadow;
    else if (o.mode == "split") a.mode = monitor::AbMode::split;
    else if (o.mode != "auto") throw UsageError(fmt::format("--mode: '{}' is not auto, shadow or split", o.mode));
    if (!o.at.empty()) {
        a.end = parse_iso8601(o.at);
        if (!a.end) throw UsageError(fmt::format("--at: '{}' is not an ISO-8601 time", o.at));
    }
    return a;
}

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", 100 * v) : "-"; }
std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }

void print_arm(const char* name, const std::optional<monitor::AbArm>& a) {
    if (!a) {
        std::cout << fmt::format("{:<11} {:>4} {:>9}\n", name, "-", 0);
        return;
    }
    const auto& m = a->metrics;
    std::cout << fmt::format("{:<11} {:>4} {:>9} {:>6} {:>6} {:>8}\n", name, a->key.version, m.resolved,
                             pct(m.accuracy), pct(m.macro_f1), num(m.log_loss));
}

void print_report(const monitor::AbReport& r) {
    std::cout << fmt::format("A/B {} ({}) over {} ending {} (event time)", r.model, to_string(r.mode),
                             format_duration(r.window), format_iso8601(r.end));
    if (r.mode == monitor::AbMode::shadow) std::cout << fmt::format(": {} paired bars", r.pairs);
    std::cout << "\n"
              << fmt::format("{:<11} {:>4} {:>9} {:>6} {:>6} {:>8}\n", "arm", "ver", "resolved", "acc%", "mF1%",
                             "logloss");
    print_arm("champion", r.champion);
    print_arm("challenger", r.challenger);
    if (r.mcnemar) {
        const auto& m = *r.mcnemar;
        std::cout << fmt::format("McNemar: {} bars only the champion got right, {} only the challenger; {}, "
                                 "p = {:.4g}\n",
                                 m.b, m.c,
                                 m.exact ? std::string("exact binomial")
                                         : fmt::format("chi-square {:.4f} (continuity-corrected)", m.statistic),
                                 r.p_value);
    }
    if (r.z_test) std::cout << fmt::format("two-proportion z-test: z = {:.4f}, p = {:.4g}\n", r.z_test->z, r.p_value);
    std::cout << fmt::format("verdict: {} (alpha {})\n", to_string(r.verdict), r.alpha);
}

// The gate compares the registered metrics; the A/B result is the reason on record.
void promote(const monitor::AbReport& r, const std::filesystem::path& data_dir) {
    if (r.verdict != monitor::AbVerdict::challenger_better) {
        std::cout << fmt::format("not promoted: {}\n", to_string(r.verdict));
        return;
    }
    registry::Options ro;
    ro.who = "pricecast ab";
    registry::Registry reg(data_dir, ro);
    const int version = r.challenger->key.version;
    if (reg.alias_version(r.model, std::string(registry::kChallenger)) != version) {
        std::cout << fmt::format("not promoted: version {} won the test but is no longer '{}''s challenger\n",
                                 version, r.model);
        exit_code() = 1;
        return;
    }
    const std::string reason = fmt::format("A/B {}: challenger v{} better than champion v{}, p = {:.4g} < {} over {}",
                                           to_string(r.mode), version, r.champion->key.version, r.p_value, r.alpha,
                                           format_duration(r.window));
    try {
        reg.promote(r.model, version, std::string(registry::kChampion), {}, reason);
        std::cout << fmt::format("promoted: '{}' version {} is the champion\n", r.model, version);
    } catch (const registry::PromotionRefused& e) {
        std::cout << "not promoted: " << e.what() << "\n";
        exit_code() = 1;
    }
}

void report() {
    auto& o = opts();
    const auto options = parse(o);
    const auto data_dir = std::filesystem::path(o.common.data_dir());
    const auto path = monitor::PredictionLog::default_path(data_dir);
    if (!std::filesystem::exists(path))
        throw UsageError(fmt::format("--data-dir: no prediction log at {}", path.string()));
    const monitor::PredictionLog log(path);
    const auto r = monitor::ab_report(log, options);
    if (o.json) std::cout << monitor::to_json(r).dump(2) << "\n";
    else print_report(r);
    if (o.promote) promote(r, data_dir);
}

}  // namespace

void add_ab_command(CLI::App& app) {
    auto& o = opts();
    auto* cmd = app.add_subcommand("ab", "champion/challenger A/B and shadow tests from the prediction log");
    cmd->require_subcommand(1);
    auto* rep = cmd->add_subcommand(
        "report", "per-arm metrics on resolved outcomes, McNemar (shadow) or two-proportion z-test (split), verdict");
    add_common_options(*rep, o.common);
    rep->add_option("--model", o.model, "registered model whose champion and challenger are compared")->required();
    rep->add_option("--window", o.window, "predictions with bar times in this window before --at")
        ->capture_default_str();
    rep->add_option("--at", o.at, "end of the window (ISO-8601; default: the newest prediction's bar time)");
    rep->add_option("--alpha", o.alpha, "significance level of the verdict")->capture_default_str();
    rep->add_option("--mode", o.mode,
                    "auto (shadow when the arms predicted the same bars, else split), shadow (McNemar on paired "
                    "bars) or split (two-proportion z-test)")
        ->capture_default_str();
    rep->add_flag("--promote", o.promote,
                  "promote the challenger to champion through the registry's gate when it is significantly better "
                  "(exit 1 when the gate refuses)");
    rep->add_flag("--json", o.json, "machine-readable output");
    rep->callback(report);
}

}  // namespace pricecast::cli
