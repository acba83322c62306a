#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "features/features.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

constexpr std::size_t kBins = 10;
constexpr double kShareFloor = 1e-4;  // an empty bin would make PSI infinite

std::vector<double> finite_sorted(std::span<const double> values) {
    std::vector<double> v;
    v.reserve(values.size());
    for (double x : values)
        if (std::isfinite(x)) v.push_back(x);
    std::sort(v.begin(), v.end());
    return v;
}

// numpy's default (linear) quantile of sorted values.
double quantile(const std::vector<double>& sorted, double q) {
    const double pos = q * double(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const auto hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

std::vector<double> bin_shares(const std::vector<double>& edges, std::span<const double> sorted) {
    std::vector<double> shares(kBins, 0);
    for (double x : sorted) shares[static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), x) - edges.begin())] += 1;
    for (auto& s : shares) s /= double(sorted.size());
    return shares;
}

// Kolmogorov's limit distribution: P(K > x) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2).
double kolmogorov_sf(double x) {
    if (x < 0.2) return 1;  // the series converges slowly there and the value is 1 to double precision
    double sum = 0;
    for (int k = 1; k <= 100; ++k) {
        const double term = std::exp(-2.0 * k * k * x * x);
        sum += (k % 2 ? term : -term);
        if (term < 1e-17) break;
    }
    return std::clamp(2 * sum, 0.0, 1.0);
}

template <class T>
T field(const nlohmann::json& j, const std::string& path, const char* key) {
    const std::string where = path + "." + key;
    if (!j.is_object() || !j.contains(key)) throw MonitorError("drift reference: missing " + where);
    try {
        return j.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw MonitorError("drift reference: bad type of " + where);
    }
}

void check_feature(const Reference::Feature& f, const std::string& path) {
    if (f.name.empty()) throw MonitorError("drift reference: empty " + path + ".name");
    if (f.edges.size() != kBins - 1 || !std::is_sorted(f.edges.begin(), f.edges.end()) ||
        !std::all_of(f.edges.begin(), f.edges.end(), [](double e) { return std::isfinite(e); }))
        throw MonitorError("drift reference: " + path + ".edges must be 9 finite ascending cut points");
    if (f.shares.size() != kBins || std::any_of(f.shares.begin(), f.shares.end(), [](double s) { return !(s >= 0 && s <= 1); }))
        throw MonitorError("drift reference: " + path + ".shares must be 10 shares in [0, 1]");
    if (f.sample.empty() || !std::is_sorted(f.sample.begin(), f.sample.end()) ||
        !std::all_of(f.sample.begin(), f.sample.end(), [](double e) { return std::isfinite(e); }))
        throw MonitorError("drift reference: " + path + ".sample must be finite, ascending and not empty");
    if (!(f.noise_psi >= 0) || !std::isfinite(f.noise_psi))
        throw MonitorError("drift reference: " + path + ".noise_psi must be finite and >= 0");
    if (!(f.effective_share > 0 && f.effective_share <= 1))
        throw MonitorError("drift reference: " + path + ".effective_share must be in (0, 1]");
    if (f.count < f.sample.size()) throw MonitorError("drift reference: " + path + ".count is below the sample size");
}

// Windows stepping by a quarter window over the time-ordered finite values.
double noise_psi(const Reference::Feature& f, std::span<const double> values, std::size_t window) {
    std::vector<double> finite;
    for (double x : values)
        if (std::isfinite(x)) finite.push_back(x);
    if (window == 0 || finite.size() < 2 * window) return 0;
    double worst = 0;
    for (std::size_t start = 0; start + window <= finite.size(); start += std::max<std::size_t>(1, window / 4))
        worst = std::max(worst, psi(f, std::span(finite).subspan(start, window)));
    return worst;
}

// (1 - r) / (1 + r) for the autocorrelation r at `lag`, over pairs both finite.
double effective_share(std::span<const double> x, std::size_t lag) {
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = 0;
    for (std::size_t i = 0; i + lag < x.size(); ++i) {
        const double a = x[i], b = x[i + lag];
        if (!std::isfinite(a) || !std::isfinite(b)) continue;
        sx += a, sy += b, sxx += a * a, syy += b * b, sxy += a * b, n += 1;
    }
    if (n < 3) return 1;
    const double vx = sxx - sx * sx / n, vy = syy - sy * sy / n;
    if (!(vx > 0 && vy > 0)) return 1e-6;  // constant: nothing to learn from more values
    const double r = std::clamp((sxy - sx * sy / n) / std::sqrt(vx * vy), 0.0, 1.0);
    return std::max(1e-6, (1 - r) / (1 + r));
}

}  // namespace

void validate(const DriftConfig& c) {
    if (c.short_window <= 0 || c.long_window <= c.short_window)
        throw MonitorError("drift: long_window must be longer than short_window, both positive");
    if (!(c.max_accuracy_drop >= 0 && c.max_accuracy_drop <= 1))
        throw MonitorError("drift: max_accuracy_drop must be in [0, 1]");
    if (!(c.psi_alarm > 0)) throw MonitorError("drift: psi_alarm must be positive");
    if (!(c.noise_multiplier >= 0)) throw MonitorError("drift: noise_multiplier must be >= 0");
    if (!(c.ks_alarm > 0 && c.ks_alarm < 1)) throw MonitorError("drift: ks_alarm must be in (0, 1)");
    if (c.min_samples == 0 || c.min_feature_samples == 0) throw MonitorError("drift: minimum sample counts must be positive");
}

PerformanceDrift performance_drift(const Metrics& short_window, const Metrics& long_window, const DriftConfig& c) {
    PerformanceDrift d{.short_accuracy = short_window.accuracy,
                       .long_accuracy = long_window.accuracy,
                       .short_resolved = short_window.resolved,
                       .long_resolved = long_window.resolved};
    d.enough_samples = d.short_resolved >= c.min_samples && d.long_resolved >= c.min_samples;
    d.alarm = d.enough_samples && d.long_accuracy - d.short_accuracy > c.max_accuracy_drop;
    return d;
}

Reference Reference::fit(const std::vector<std::string>& names, const std::vector<std::vector<double>>& columns,
                         std::size_t sample_size, std::size_t window, std::size_t lag) {
    if (names.size() != columns.size())
        throw MonitorError(fmt::format("drift reference: {} names for {} columns", names.size(), columns.size()));
    if (sample_size < 2) throw MonitorError("drift reference: sample_size must be at least 2");
    Reference ref;
    for (std::size_t f = 0; f < names.size(); ++f) {
        const auto sorted = finite_sorted(columns[f]);
        if (sorted.size() < kBins)
            throw MonitorError(fmt::format("drift reference: feature '{}' has {} finite values, needs {}", names[f],
                                           sorted.size(), kBins));
        Feature feat{.name = names[f]};
        for (std::size_t i = 1; i < kBins; ++i) feat.edges.push_back(quantile(sorted, double(i) / kBins));
        feat.shares = bin_shares(feat.edges, sorted);
        // Evenly spaced order statistics keep the shape of the whole distribution.
        const std::size_t m = std::min(sample_size, sorted.size());
        for (std::size_t j = 0; j < m; ++j) feat.sample.push_back(sorted[j * (sorted.size() - 1) / (m - 1)]);
        feat.noise_psi = noise_psi(feat, columns[f], window);
        feat.effective_share = effective_share(columns[f], lag);
        feat.count = sorted.size();
        ref.features_.push_back(std::move(feat));
    }
    return ref;
}

Reference Reference::fit(const features::FeatureMatrix& m, Duration short_window, std::size_t sample_size) {
    if (m.rows() == 0) throw MonitorError("drift reference: the feature matrix has no rows");
    if (short_window <= 0) throw MonitorError("drift reference: short_window must be positive");
    const std::size_t width = m.columns.size();
    std::vector<std::vector<double>> columns(width);
    for (std::size_t r = 0; r < m.rows(); ++r)
        for (std::size_t c = 0; c < width; ++c) columns[c].push_back(m.values[r * width + c]);
    const std::set<std::string> symbols(m.symbols.begin(), m.symbols.end());
    const auto [first, last] = std::minmax_element(m.times.begin(), m.times.end());
    // Rows per window at the matrix's average density; the last bar's own interval counts too.
    const double span = double(*last - *first) * double(m.rows()) / double(std::max<std::size_t>(1, m.rows() - symbols.size()));
    const auto window = span > 0 ? static_cast<std::size_t>(double(m.rows()) * double(short_window) / span) : 0;
    return fit(m.columns, columns, sample_size, window, symbols.size());
}

nlohmann::json Reference::to_json() const {
    auto features = nlohmann::json::array();
    for (const auto& f : features_)
        features.push_back({{"name", f.name},
                            {"edges", f.edges},
                            {"shares", f.shares},
                            {"sample", f.sample},
                            {"noise_psi", f.noise_psi},
                            {"effective_share", f.effective_share},
                            {"count", f.count}});
    return {{"format", "pricecast.drift_reference/1"}, {"features", features}};
}

Reference Reference::from_json(const nlohmann::json& j) {
    if (field<std::string>(j, "reference", "format") != "pricecast.drift_reference/1")
        throw MonitorError("drift reference: unknown reference.format");
    const auto list = field<nlohmann::json>(j, "reference", "features");
    if (!list.is_array()) throw MonitorError("drift reference: reference.features must be an array");
    Reference ref;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string path = fmt::format("features[{}]", i);
        Feature f{.name = field<std::string>(list[i], path, "name"),
                  .edges = field<std::vector<double>>(list[i], path, "edges"),
                  .shares = field<std::vector<double>>(list[i], path, "shares"),
                  .sample = field<std::vector<double>>(list[i], path, "sample"),
                  .noise_psi = field<double>(list[i], path, "noise_psi"),
                  .effective_share = field<double>(list[i], path, "effective_share"),
                  .count = field<std::size_t>(list[i], path, "count")};
        check_feature(f, path);
        ref.features_.push_back(std::move(f));
    }
    return ref;
}

std::optional<Reference> Reference::load(const std::filesystem::path& artifact_dir) {
    const auto path = artifact_dir / kFile;
    if (!std::filesystem::exists(path)) return std::nullopt;
    std::ifstream in(path);
    try {
        return from_json(nlohmann::json::parse(in));
    } catch (const std::exception& e) {  // nlohmann's parse errors and MonitorError alike
        throw MonitorError(path.string() + ": " + e.what());
    }
}

double psi(const Reference::Feature& ref, std::span<const double> current) {
    const auto sorted = finite_sorted(current);
    if (sorted.empty()) return 0;
    const auto cur = bin_shares(ref.edges, sorted);
    double sum = 0;
    for (std::size_t i = 0; i < kBins; ++i) {
        const double c = std::max(cur[i], kShareFloor), r = std::max(ref.shares[i], kShareFloor);
        sum += (c - r) * std::log(c / r);
    }
    return sum;
}

KsResult ks_two_sample(std::span<const double> a, std::span<const double> b) {
    if (a.empty() || b.empty()) return {};
    std::size_t i = 0, j = 0;
    double d = 0;
    const double na = double(a.size()), nb = double(b.size());
    while (i < a.size() && j < b.size()) {
        const double x = std::min(a[i], b[j]);  // step both empirical CDFs past every value equal to x
        while (i < a.size() && a[i] == x) ++i;
        while (j < b.size() && b[j] == x) ++j;
        d = std::max(d, std::abs(double(i) / na - double(j) / nb));
    }
    return {d, kolmogorov_sf(std::sqrt(na * nb / (na + nb)) * d)};
}

DataDrift data_drift(const Reference& ref, const std::vector<std::vector<double>>& current, const DriftConfig& c) {
    const auto& feats = ref.features();
    if (current.size() != feats.size())
        throw MonitorError(fmt::format("data drift: {} current columns for {} reference features", current.size(),
                                       feats.size()));
    DataDrift out;
    for (std::size_t f = 0; f < feats.size(); ++f) {
        const auto sorted = finite_sorted(current[f]);
        FeatureDrift fd{.name = feats[f].name, .n = sorted.size()};
        if (!sorted.empty()) {
            fd.psi = psi(feats[f], sorted);
            const auto ks = ks_two_sample(feats[f].sample, sorted);
            fd.ks = ks.statistic;
            fd.ks_p = ks.p_value;
        }
        const auto& ref_f = feats[f];
        const double by_chance = double(kBins - 1) / ref_f.effective_share *
                                 (1 / std::max(1.0, double(fd.n)) + 1 / std::max(1.0, double(ref_f.count)));
        fd.psi_threshold = std::max({c.psi_alarm, c.noise_multiplier * ref_f.noise_psi, c.noise_multiplier * by_chance});
        fd.alarm = fd.n >= c.min_feature_samples && fd.psi > fd.psi_threshold && fd.ks > c.ks_alarm;
        out.features.push_back(std::move(fd));
    }
    std::stable_sort(out.features.begin(), out.features.end(),
                     [](const FeatureDrift& x, const FeatureDrift& y) { return x.psi > y.psi; });
    for (const auto& fd : out.features)
        if (fd.alarm && out.top.size() < c.top_features) out.top.push_back(fd.name);
    out.alarm = !out.top.empty();
    return out;
}

}  // namespace pricecast::monitor
