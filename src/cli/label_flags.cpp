#include "cli/label_flags.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "cli/commands.hpp"

namespace pricecast::cli {

// --horizon and --threshold mean what monitor.horizon and monitor.threshold
// mean for the monitor's outcomes: the same ranges, from their rules.
void add_label_options(CLI::App& cmd, LabelFlags& f, const std::string& horizon_help, const std::string& quantile_fit) {
    cmd.add_option("--horizon", f.horizon, horizon_help)->check(config_range("monitor.horizon"))->capture_default_str();
    cmd.add_option("--labels", f.rule,
                   "threshold: fixed (--threshold), volatility (--vol-k x rolling std), quantile (balanced on " +
                       quantile_fit + ")")
        ->check(CLI::IsMember({"fixed", "volatility", "quantile"}))
        ->capture_default_str();
    cmd.add_option("--threshold", f.threshold, "fixed threshold on the return")
        ->check(config_range("monitor.threshold"))
        ->capture_default_str();
    cmd.add_option("--vol-k", f.vol_k, "volatility threshold multiple")->check(CLI::Range(0.0, 100.0))->capture_default_str();
    cmd.add_option("--quantile", f.quantile, "quantile labels: share of DOWN (and of UP) in training")
        ->check(CLI::Range(0.01, 0.49))
        ->capture_default_str();
}

models::LabelConfig label_config(const LabelFlags& f) {
    models::LabelConfig lc;
    lc.horizon = f.horizon;
    lc.mode = *models::parse_threshold_mode(f.rule);
    lc.threshold = f.threshold;
    lc.vol_k = f.vol_k;
    lc.quantile = f.quantile;
    return lc;
}

std::string class_balance(const std::array<double, models::kClasses>& share) {
    return fmt::format("DOWN {:.1f}%  STABLE {:.1f}%  UP {:.1f}%", 100 * share[0], 100 * share[1], 100 * share[2]);
}

std::string one_class_warning(const std::array<double, models::kClasses>& share, const LabelFlags& f) {
    static constexpr const char* kNames[] = {"DOWN", "STABLE", "UP"};
    const auto top = static_cast<std::size_t>(std::max_element(share.begin(), share.end()) - share.begin());
    if (share[top] < 0.95) return {};
    std::string text = fmt::format(
        "warning: {:.1f}% of the test labels are {}: always saying {} scores {:.4f}, so accuracy shows little here.",
        100 * share[top], kNames[top], kNames[top], share[top]);
    const bool calm = top == 1;
    if (f.rule == "fixed")
        text += fmt::format(" A return beyond the fixed ±{:g}% is {} over {} bar(s); --labels quantile balances the "
                            "classes on the training data, or give a {} --threshold.",
                            100 * f.threshold, calm ? "rare" : "the rule", f.horizon, calm ? "smaller" : "larger");
    return text + "\n";
}

}  // namespace pricecast::cli
