// A/B and shadow tests: the champion against the challenger on resolved outcomes.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

using Rows = std::vector<LoggedPrediction>;

bool right(const LoggedPrediction& r) { return r.outcome == r.prediction.cls; }

// P(X <= k) for X ~ Bin(n, 1/2), summed in log space so large n cannot overflow.
double binomial_half_cdf(std::size_t k, std::size_t n) {
    const double nn = static_cast<double>(n);
    double sum = 0;
    for (std::size_t i = 0; i <= k; ++i) {
        const double ii = static_cast<double>(i);
        sum += std::exp(std::lgamma(nn + 1) - std::lgamma(ii + 1) - std::lgamma(nn - ii + 1) - nn * std::log(2.0));
    }
    return sum;
}

// The arm's rows of its newest version in the window (the version being
// compared now; an older one that served earlier in the window is not).
Rows newest_version(Rows rows) {
    if (rows.empty()) return rows;
    const auto newest = std::max_element(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        return std::pair(a.prediction.bar_time, a.prediction.version) <
               std::pair(b.prediction.bar_time, b.prediction.version);
    });
    const int version = newest->prediction.version;
    std::erase_if(rows, [&](const LoggedPrediction& r) { return r.prediction.version != version; });
    return rows;
}

AbArm arm(const Rows& rows, const std::string& model, const char* slot) {
    return {ModelKey{model, rows.front().prediction.version, slot}, compute_metrics(rows)};
}

AbVerdict judge(double p_value, bool challenger_ahead, double alpha) {
    if (!(p_value < alpha)) return AbVerdict::no_significant_difference;
    return challenger_ahead ? AbVerdict::challenger_better : AbVerdict::challenger_worse;
}

void shadow(AbReport& r, const Rows& champion, const Rows& challenger) {
    std::map<std::pair<std::string, Timestamp>, const LoggedPrediction*> by_bar;
    for (const auto& c : champion) by_bar[{c.prediction.symbol, c.prediction.bar_time}] = &c;
    Rows champ_pairs, chall_pairs;
    for (const auto& c : challenger) {
        const auto it = by_bar.find({c.prediction.symbol, c.prediction.bar_time});
        if (it == by_bar.end()) continue;
        champ_pairs.push_back(*it->second);
        chall_pairs.push_back(c);
    }
    r.pairs = champ_pairs.size();
    if (r.pairs == 0) return;
    r.champion = arm(champ_pairs, r.model, "champion");
    r.challenger = arm(chall_pairs, r.model, "challenger");
    std::size_t b = 0, c = 0;
    for (std::size_t i = 0; i < r.pairs; ++i) {
        b += right(champ_pairs[i]) && !right(chall_pairs[i]);
        c += !right(champ_pairs[i]) && right(chall_pairs[i]);
    }
    r.mcnemar = mcnemar(b, c);
    r.p_value = r.mcnemar->p_value;
    r.verdict = judge(r.p_value, c > b, r.alpha);
}

void split(AbReport& r, const Rows& champion, const Rows& challenger) {
    r.champion = arm(champion, r.model, "champion");
    r.challenger = arm(challenger, r.model, "challenger");
    const auto correct = [](const Rows& rows) {
        return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), right));
    };
    r.z_test = two_proportion_z(correct(champion), champion.size(), correct(challenger), challenger.size());
    r.p_value = r.z_test->p_value;
    r.verdict = judge(r.p_value, r.z_test->z > 0, r.alpha);
}

nlohmann::json arm_json(const std::optional<AbArm>& a) {
    if (!a) return nullptr;
    return {{"version", a->key.version}, {"slot", a->key.slot}, {"metrics", to_json(a->metrics)}};
}

}  // namespace

McNemar mcnemar(std::size_t b, std::size_t c, std::size_t exact_below) {
    McNemar m{.b = b, .c = c};
    const std::size_t n = b + c;
    if (n == 0) return m;
    if (n < exact_below) {
        m.p_value = std::min(1.0, 2 * binomial_half_cdf(std::min(b, c), n));
        return m;
    }
    m.exact = false;
    const double diff = std::abs(static_cast<double>(b) - static_cast<double>(c)) - 1;
    m.statistic = diff * diff / static_cast<double>(n);
    m.p_value = std::erfc(std::sqrt(m.statistic / 2));  // chi-square(1) survival
    return m;
}

ZTest two_proportion_z(std::size_t x1, std::size_t n1, std::size_t x2, std::size_t n2) {
    if (n1 == 0 || n2 == 0) throw MonitorError("two_proportion_z: each sample needs at least one observation");
    if (x1 > n1 || x2 > n2) throw MonitorError("two_proportion_z: more successes than observations");
    const double p1 = static_cast<double>(x1) / static_cast<double>(n1);
    const double p2 = static_cast<double>(x2) / static_cast<double>(n2);
    const double pooled = static_cast<double>(x1 + x2) / static_cast<double>(n1 + n2);
    const double se =
        std::sqrt(pooled * (1 - pooled) * (1.0 / static_cast<double>(n1) + 1.0 / static_cast<double>(n2)));
    if (se == 0) return {};
    const double z = (p2 - p1) / se;
    return {z, std::erfc(std::abs(z) / std::sqrt(2.0))};
}

std::string_view to_string(AbMode m) { return m == AbMode::split ? "split" : "shadow"; }

std::string_view to_string(AbVerdict v) {
    switch (v) {
        case AbVerdict::challenger_better: return "challenger_better";
        case AbVerdict::challenger_worse: return "challenger_worse";
        case AbVerdict::no_significant_difference: return "no_significant_difference";
        case AbVerdict::insufficient_data: break;
    }
    return "insufficient_data";
}

void validate(const AbOptions& o) {
    if (o.model.empty()) throw MonitorError("model: empty; name the registered model to compare");
    if (o.window <= 0) throw MonitorError("window: must be a positive duration");
    if (!(o.alpha > 0 && o.alpha < 1)) throw MonitorError(fmt::format("alpha: {} is not in (0, 1)", o.alpha));
}

AbReport ab_report(const PredictionLog& log, const AbOptions& o) {
    validate(o);
    AbReport r{.model = o.model, .window = o.window, .alpha = o.alpha};
    const auto end = o.end ? o.end : log.latest_bar_time();
    if (!end) return r;
    r.end = *end;
    const auto resolved = [&](const char* slot) {
        return newest_version(log.query(
            {.model = o.model, .slot = slot, .from = *end - o.window, .to = *end, .resolved_only = true}));
    };
    const Rows champion = resolved("champion"), challenger = resolved("challenger");
    if (champion.empty() || challenger.empty()) {
        r.mode = o.mode.value_or(AbMode::shadow);
        if (!champion.empty()) r.champion = arm(champion, r.model, "champion");
        if (!challenger.empty()) r.challenger = arm(challenger, r.model, "challenger");
        return r;
    }
    std::set<std::pair<std::string, Timestamp>> champion_bars;
    for (const auto& c : champion) champion_bars.insert({c.prediction.symbol, c.prediction.bar_time});
    const bool paired = std::any_of(challenger.begin(), challenger.end(), [&](const LoggedPrediction& c) {
        return champion_bars.contains({c.prediction.symbol, c.prediction.bar_time});
    });
    r.mode = o.mode.value_or(paired ? AbMode::shadow : AbMode::split);
    if (r.mode == AbMode::shadow) shadow(r, champion, challenger);
    else split(r, champion, challenger);
    return r;
}

nlohmann::json to_json(const AbReport& r) {
    nlohmann::json test = nullptr;
    if (r.mcnemar)
        test = {{"name", "mcnemar"},
                {"b_champion_only", r.mcnemar->b},
                {"c_challenger_only", r.mcnemar->c},
                {"exact", r.mcnemar->exact},
                {"statistic", r.mcnemar->exact ? nlohmann::json(nullptr) : nlohmann::json(r.mcnemar->statistic)}};
    if (r.z_test) test = {{"name", "two_proportion_z"}, {"z", r.z_test->z}};
    return {{"model", r.model},
            {"mode", to_string(r.mode)},
            {"end", format_iso8601(r.end)},
            {"window", format_duration(r.window)},
            {"alpha", r.alpha},
            {"champion", arm_json(r.champion)},
            {"challenger", arm_json(r.challenger)},
            {"pairs", r.pairs},
            {"test", test},
            {"p_value", r.p_value},
            {"verdict", to_string(r.verdict)}};
}

}  // namespace pricecast::monitor
