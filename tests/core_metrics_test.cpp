// Metrics registry: identity of (name, labels), type/help conflicts, lock-free
// updates from many threads, and the Prometheus text format.
#include <cmath>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/metrics.hpp"

using namespace pricecast::metrics;

TEST(Metrics, SameNameAndLabelsIsTheSameMetric) {
    Registry r;
    auto& a = r.counter("x_total", "X", {{"role", "a"}});
    auto& b = r.counter("x_total", "X", {{"role", "b"}});
    EXPECT_EQ(&a, &r.counter("x_total", "X", {{"role", "a"}}));
    EXPECT_NE(&a, &b);
    a.inc();
    a.inc(2.5);
    EXPECT_DOUBLE_EQ(a.value(), 3.5);
    EXPECT_DOUBLE_EQ(b.value(), 0);
}

TEST(Metrics, ConflictingTypeOrHelpIsRejected) {
    Registry r;
    r.counter("x_total", "X");
    EXPECT_THROW(r.gauge("x_total", "X"), std::invalid_argument);
    EXPECT_THROW(r.counter("x_total", "other help"), std::invalid_argument);
}

TEST(Metrics, BadNamesLabelsBucketsAndIncrementsAreRejected) {
    Registry r;
    EXPECT_THROW(r.counter("1x", "X"), std::invalid_argument);
    EXPECT_THROW(r.counter("x-y", "X"), std::invalid_argument);
    EXPECT_THROW(r.counter("x", "X", {{"bad-label", "v"}}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h", "H", {{"le", "1"}}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h2", "H", {}, {1.0, 1.0}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h3", "H", {}, {}), std::invalid_argument);
    EXPECT_THROW(r.counter("c", "C").inc(-1), std::invalid_argument);
}

TEST(Metrics, GaugeSetAndAdd) {
    Registry r;
    auto& g = r.gauge("clients", "Clients");
    g.set(5);
    g.add(-2);
    EXPECT_DOUBLE_EQ(g.value(), 3);
}

TEST(Metrics, HistogramCountsSumAndQuantiles) {
    Registry r;
    auto& h = r.histogram("lat_seconds", "Latency", {}, {0.001, 0.01, 0.1});
    EXPECT_TRUE(std::isnan(h.quantile(0.5)));
    for (int i = 0; i < 90; ++i) h.observe(0.0005);
    for (int i = 0; i < 9; ++i) h.observe(0.05);
    h.observe(3.0);
    h.observe(std::nan(""));  // ignored
    EXPECT_EQ(h.count(), 100u);
    EXPECT_NEAR(h.sum(), 90 * 0.0005 + 9 * 0.05 + 3.0, 1e-12);
    EXPECT_DOUBLE_EQ(h.quantile(0.5), 0.001);
    EXPECT_DOUBLE_EQ(h.quantile(0.99), 0.1);
    EXPECT_TRUE(std::isinf(h.quantile(1.0)));
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
    Registry r;
    auto& c = r.counter("n_total", "N");
    auto& h = r.histogram("v", "V");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10'000; ++i) {
                c.inc();
                h.observe(0.001);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_DOUBLE_EQ(c.value(), 40'000);
    EXPECT_EQ(h.count(), 40'000u);
}

TEST(Metrics, ExpositionFormat) {
    Registry r;
    r.counter("req_total", "Requests \\ served\nnow", {{"code", "200"}, {"route", "/a\"b"}}).inc(3);
    r.gauge("up", "Up").set(1);
    auto& h = r.histogram("lat_seconds", "Latency", {{"stage", "x"}}, {0.5, 1});
    h.observe(0.25);
    h.observe(0.75);
    h.observe(2);
    const std::string expected =
        "# HELP lat_seconds Latency\n"
        "# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{stage=\"x\",le=\"0.5\"} 1\n"
        "lat_seconds_bucket{stage=\"x\",le=\"1\"} 2\n"
        "lat_seconds_bucket{stage=\"x\",le=\"+Inf\"} 3\n"
        "lat_seconds_sum{stage=\"x\"} 3\n"
        "lat_seconds_count{stage=\"x\"} 3\n"
        "# HELP req_total Requests \\\\ served\\nnow\n"
        "# TYPE req_total counter\n"
        "req_total{code=\"200\",route=\"/a\\\"b\"} 3\n"
        "# HELP up Up\n"
        "# TYPE up gauge\n"
        "up 1\n";
    EXPECT_EQ(r.exposition(), expected);
}

TEST(Metrics, LatencyBucketsSpan50usTo10s) {
    const auto b = latency_buckets();
    EXPECT_DOUBLE_EQ(b.front(), 50e-6);
    EXPECT_DOUBLE_EQ(b.back(), 10.0);
    EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(Metrics, ProcessRegistryIsOneObject) { EXPECT_EQ(&registry(), &registry()); }
