// Cost of a full feature vector per closed bar (default timeframes 1m/5m/1h,
// the default 60+ indicators on each, derived features, sentiment windows and
// interactions) next to recomputing the same features over the last 100 bars on
// every bar, as a naive service does. Data: the simulator (1-minute bars with news).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "data/simulator.hpp"
#include "features/features.hpp"

namespace pc = pricecast;
namespace ft = pricecast::features;

namespace {

struct Market {
    std::vector<pc::Bar> bars;
    std::vector<pc::NewsItem> news;
};

const Market& market(std::size_t symbols) {
    static std::map<std::size_t, Market> cache;
    auto& m = cache[symbols];
    if (!m.bars.empty()) return m;
    auto cfg = pc::data::default_simulator_config();
    cfg.trades = false;
    cfg.symbols.clear();
    for (std::size_t i = 0; i < symbols; ++i) cfg.symbols.push_back({fmt::format("S{}", i), 100.0 + 10.0 * static_cast<double>(i)});
    cfg.news_rate = 0.05;
    pc::data::MarketSimulator sim(cfg);
    for (int i = 0; i < 20000 / static_cast<int>(symbols); ++i) {
        auto s = sim.step();
        m.bars.insert(m.bars.end(), s.bars.begin(), s.bars.end());
        m.news.insert(m.news.end(), s.news.begin(), s.news.end());
    }
    return m;
}

void per_bar(benchmark::State& state, double bars) {
    state.counters["ns_per_bar"] =
        benchmark::Counter(bars, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void streaming(benchmark::State& state) {
    const auto& m = market(static_cast<std::size_t>(state.range(0)));
    std::size_t complete = 0;
    for (auto _ : state) {
        auto rows = ft::build(ft::FeatureConfig{}, m.bars, m.news);
        complete = static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [](auto& r) { return r.complete; }));
        benchmark::DoNotOptimize(rows.data());
    }
    state.counters["complete_rows"] = static_cast<double>(complete);
    per_bar(state, static_cast<double>(m.bars.size()));
}

// Push only, no collection of the rows: the live path's cost.
void streaming_push(benchmark::State& state) {
    const auto& m = market(1);
    for (auto _ : state) {
        ft::Pipeline p(ft::FeatureConfig{});
        double sink_sum = 0;
        ft::VectorSink sink = [&](const ft::FeatureVector& v) { sink_sum += v.values[0]; };
        std::size_t n = 0;
        for (const auto& b : m.bars) {
            while (n < m.news.size() && m.news[n].event_time <= b.close_time) p.push(m.news[n++], sink);
            p.push(b, sink);
        }
        p.finish(sink);
        benchmark::DoNotOptimize(sink_sum);
    }
    per_bar(state, static_cast<double>(m.bars.size()));
}

// Naive: on each new bar, a fresh pipeline over the last 100 bars (and their news).
void recompute_100(benchmark::State& state) {
    const auto& m = market(1);
    const std::size_t first = 1000, count = 200;
    for (auto _ : state) {
        for (std::size_t t = first; t < first + count; ++t) {
            std::span<const pc::Bar> window(m.bars.data() + t - 99, 100);
            std::vector<pc::NewsItem> news;
            for (const auto& n : m.news)
                if (n.event_time > window.front().open_time - pc::kHour && n.event_time <= window.back().close_time)
                    news.push_back(n);
            auto rows = ft::build(ft::FeatureConfig{}, window, news);
            benchmark::DoNotOptimize(rows.back().values.data());
        }
    }
    per_bar(state, static_cast<double>(count));
}

class Collector : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> ns;
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs)
            if (auto it = r.counters.find("ns_per_bar"); it != r.counters.end())
                ns[r.benchmark_name()] = it->second.value * 1e9;
        ConsoleReporter::ReportRuns(runs);
    }
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::RegisterBenchmark("features/streaming/symbols:1", streaming)->Arg(1)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("features/streaming/symbols:20", streaming)->Arg(20)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("features/push_only", streaming_push)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("features/recompute_100", recompute_100)->Iterations(2)->Unit(benchmark::kMillisecond);
    benchmark::Initialize(&argc, argv);
    Collector c;
    benchmark::RunSpecifiedBenchmarks(&c);
    auto get = [&](const std::string& prefix) {
        for (const auto& [k, v] : c.ns)
            if (k.rfind(prefix, 0) == 0) return v;
        return 0.0;
    };
    const double push = get("features/push_only"), naive = get("features/recompute_100");
    ft::Pipeline p(ft::FeatureConfig{});
    std::printf("\nFull feature vector per closed 1m bar (%zu columns: 1m/5m/1h, %zu indicator refs, sentiment windows)\n",
                p.schema().size(), p.config().indicators.size());
    std::printf("  streaming, 1 symbol, rows collected   : %10.0f ns/bar\n", get("features/streaming/symbols:1/"));
    std::printf("  streaming, 20 symbols, rows collected : %10.0f ns/bar\n", get("features/streaming/symbols:20/"));
    std::printf("  streaming, push only (the live path)  : %10.0f ns/bar   (goal < 5000)\n", push);
    std::printf("  naive: recompute over last 100 bars   : %10.0f ns/bar   naive / streaming = %.0fx\n", naive,
                push > 0 ? naive / push : 0);
    benchmark::Shutdown();
}
