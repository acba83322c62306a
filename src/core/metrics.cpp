#include "core/metrics.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace pricecast::metrics {

struct Counter::Impl {
    std::atomic<double> value{0};
};

struct Gauge::Impl {
    std::atomic<double> value{0};
};

struct Histogram::Impl {
    explicit Impl(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1) {}
    std::vector<double> bounds;                      // upper bounds, increasing; +Inf is implicit
    std::vector<std::atomic<std::uint64_t>> counts;  // per bucket, not cumulative; last is +Inf
    std::atomic<double> sum{0};
    std::atomic<std::uint64_t> count{0};
};

void Counter::inc(double v) {
    if (!(v >= 0)) throw std::invalid_argument(fmt::format("counter increment must be >= 0, got {}", v));
    impl_->value.fetch_add(v, std::memory_order_relaxed);
}
double Counter::value() const { return impl_->value.load(std::memory_order_relaxed); }

void Gauge::set(double v) { impl_->value.store(v, std::memory_order_relaxed); }
void Gauge::add(double v) { impl_->value.fetch_add(v, std::memory_order_relaxed); }
double Gauge::value() const { return impl_->value.load(std::memory_order_relaxed); }

void Histogram::observe(double v) {
    if (std::isnan(v)) return;  // a NaN would poison the sum forever
    const auto i = static_cast<std::size_t>(std::lower_bound(impl_->bounds.begin(), impl_->bounds.end(), v) -
                                            impl_->bounds.begin());
    impl_->counts[i].fetch_add(1, std::memory_order_relaxed);
    impl_->sum.fetch_add(v, std::memory_order_relaxed);
    impl_->count.fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t Histogram::count() const { return impl_->count.load(std::memory_order_relaxed); }
double Histogram::sum() const { return impl_->sum.load(std::memory_order_relaxed); }

double Histogram::quantile(double q) const {
    std::uint64_t total = 0;
    for (const auto& c : impl_->counts) total += c.load(std::memory_order_relaxed);
    if (total == 0) return std::numeric_limits<double>::quiet_NaN();
    const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < impl_->bounds.size(); ++i) {
        seen += impl_->counts[i].load(std::memory_order_relaxed);
        if (seen > 0 && static_cast<double>(seen) >= rank) return impl_->bounds[i];
    }
    return std::numeric_limits<double>::infinity();
}

std::vector<double> latency_buckets() {
    return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
            50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};
}

namespace {

enum class Type { counter, gauge, histogram };

std::string_view type_name(Type t) {
    switch (t) {
        case Type::counter:
            return "counter";
        case Type::gauge:
            return "gauge";
        case Type::histogram:
            return "histogram";
    }
    return "untyped";
}

bool valid_name(std::string_view s, bool colon) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    return std::all_of(s.begin(), s.end(), [colon](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               (colon && c == ':');
    });
}

// Go's strconv formatting as Prometheus parses it: +Inf/-Inf/NaN spelled out.
std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

std::string escape(std::string_view s, bool quote) {
    std::string out;
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

std::string label_text(const Labels& labels, const std::string& extra_name = {}, const std::string& extra = {}) {
    std::string out;
    auto add = [&out](const std::string& k, const std::string& v) {
        out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", k, escape(v, true));
    };
    for (const auto& [k, v] : labels) add(k, v);
    if (!extra_name.empty()) add(extra_name, extra);
    return out.empty() ? "" : "{" + out + "}";
}

struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

}  // namespace

struct Registry::Impl {
    mutable std::mutex mutex;
    std::map<std::string, Family> families;

    Family& family(const std::string& name, const std::string& help, Type type, const Labels& labels) {
        if (!valid_name(name, true)) throw std::invalid_argument("metric name '" + name + "' is not valid");
        for (const auto& [k, v] : labels)
            if (!valid_name(k, false) || k.starts_with("__") || (type == Type::histogram && k == "le"))
                throw std::invalid_argument("metric " + name + ": label name '" + k + "' is not valid");
        auto [it, fresh] = families.try_emplace(name, Family{type, help, {}, {}, {}});
        if (!fresh && it->second.type != type)
            throw std::invalid_argument(
                fmt::format("metric {} is already a {}, not a {}", name, type_name(it->second.type), type_name(type)));
        if (!fresh && it->second.help != help)
            throw std::invalid_argument(
                fmt::format("metric {} is already registered with help '{}'", name, it->second.help));
        return it->second;
    }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard lock(impl_->mutex);
    auto& slot = impl_->family(name, help, Type::counter, labels).counters[labels];
    if (!slot) {
        slot = std::make_unique<Counter>();
        slot->impl_ = std::make_shared<Counter::Impl>();
    }
    return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard lock(impl_->mutex);
    auto& slot = impl_->family(name, help, Type::gauge, labels).gauges[labels];
    if (!slot) {
        slot = std::make_unique<Gauge>();
        slot->impl_ = std::make_shared<Gauge::Impl>();
    }
    return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               std::vector<double> buckets) {
    if (buckets.empty() || !std::all_of(buckets.begin(), buckets.end(), [](double b) { return std::isfinite(b); }) ||
        std::adjacent_find(buckets.begin(), buckets.end(), std::greater_equal<>()) != buckets.end())
        throw std::invalid_argument("histogram " + name + ": buckets must be finite and strictly increasing");
    std::lock_guard lock(impl_->mutex);
    auto& slot = impl_->family(name, help, Type::histogram, labels).histograms[labels];
    if (!slot) {
        slot = std::make_unique<Histogram>();
        slot->impl_ = std::make_shared<Histogram::Impl>(std::move(buckets));
    }
    return *slot;
}

std::string Registry::exposition() const {
    std::lock_guard lock(impl_->mutex);
    std::string out;
    for (const auto& [name, f] : impl_->families) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(f.help, false), name, type_name(f.type));
        for (const auto& [labels, c] : f.counters)
            out += fmt::format("{}{} {}\n", name, label_text(labels), number(c->value()));
        for (const auto& [labels, g] : f.gauges)
            out += fmt::format("{}{} {}\n", name, label_text(labels), number(g->value()));
        for (const auto& [labels, h] : f.histograms) {
            const auto& impl = *h->impl_;
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i <= impl.bounds.size(); ++i) {
                cumulative += impl.counts[i].load(std::memory_order_relaxed);
                const double le = i < impl.bounds.size() ? impl.bounds[i] : std::numeric_limits<double>::infinity();
                out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, "le", number(le)), cumulative);
            }
            // The count is the buckets' total so one scrape is self-consistent while observations race.
            const double sum = impl.sum.load(std::memory_order_relaxed);
            out += fmt::format("{}_sum{} {}\n", name, label_text(labels), number(sum));
            out += fmt::format("{}_count{} {}\n", name, label_text(labels), cumulative);
        }
    }
    return out;
}

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace pricecast::metrics
