// Process metrics in the Prometheus text exposition format (version 0.0.4).
//
//   auto& bars = metrics::registry().counter("pricecast_bars_total", "Bars consumed", {{"role", "features"}});
//   bars.inc();
//   auto& lat = metrics::registry().histogram("pricecast_stage_latency_seconds", "...", {{"stage", "inference"}});
//   lat.observe(0.0012);
//   std::string text = metrics::registry().exposition();   // GET /metrics
//
// A metric is created once (name + labels) and updated lock-free afterwards;
// references stay valid for the registry's life.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pricecast::metrics {

using Labels = std::map<std::string, std::string>;

class Counter {
public:
    void inc(double v = 1);
    double value() const;

private:
    friend class Registry;
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

class Gauge {
public:
    void set(double v);
    void add(double v);
    double value() const;

private:
    friend class Registry;
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

class Histogram {
public:
    void observe(double v);
    std::uint64_t count() const;
    double sum() const;
    // Upper bound of the bucket holding quantile q (0..1); NaN when empty.
    double quantile(double q) const;

private:
    friend class Registry;
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

// Seconds, 50 µs .. 10 s.
std::vector<double> latency_buckets();

class Registry {
public:
    Registry();
    ~Registry();
    // Same name + labels returns the same metric. A name registered with
    // another type or help text throws std::invalid_argument.
    Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
    Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
    Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                         std::vector<double> buckets = latency_buckets());
    std::string exposition() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The process-wide registry that /metrics exposes.
Registry& registry();

}  // namespace pricecast::metrics
