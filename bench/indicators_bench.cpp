// Streaming indicator cost per bar next to TA-Lib's C batch functions run over
// the same array in the same process, and next to what a naive streaming
// service does: recompute every indicator over the last 100 bars on each bar.
//
// Prints Google Benchmark's table, then ratio tables per indicator, per group
// and for the full set. Data: ETH_BTC-5m from ../shared/data when present,
// otherwise a synthetic series of the same length.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/ohlcv.hpp"
#include "indicators/indicator.hpp"
#include "support/paths.hpp"
#include "support/series.hpp"
#include "support/talib_oracle.hpp"

namespace pc = pricecast;
namespace ind = pricecast::indicators;

namespace {

const std::vector<pc::Bar>& bars() {
    static const std::vector<pc::Bar> b = [] {
        const auto path = pc::test::shared_data() / "ohlcv/freqtrade/ETH_BTC-5m.json";
        if (std::filesystem::exists(path)) return pc::data::read_bars(path);
        std::fprintf(stderr, "note: %s absent, using a synthetic series\n", path.c_str());
        return pc::test::synthetic_bars(5700, 1, 0.08);
    }();
    return b;
}

const pc::test::OhlcvColumns& columns() {
    static const pc::test::OhlcvColumns c(bars());
    return c;
}

double n_bars() { return static_cast<double>(bars().size()); }

// The full-set figures are the ratios the goals are stated in, and a shared
// machine has slow spells of seconds: each runs kRepeats times, and its
// fastest run is its figure, the cost without interference.
constexpr int kRepeats = 9;

void ours(benchmark::State& state, const ind::IndicatorSpec* spec) {
    for (auto _ : state) {
        auto x = ind::parse(spec->name).make();
        for (const auto& b : bars()) x->update(b);
        benchmark::DoNotOptimize(x->value());
    }
    state.counters["ns_per_bar"] =
        benchmark::Counter(n_bars(), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void talib(benchmark::State& state, const ind::IndicatorSpec* spec) {
    pc::test::TalibCall call(spec->talib_name, ind::parse(spec->name).params, columns());
    for (auto _ : state) call.run(0, static_cast<int>(bars().size()) - 1);
    state.counters["ns_per_bar"] =
        benchmark::Counter(n_bars(), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The full set as separate objects, each checking the bar: every bar through every indicator.
void ours_all(benchmark::State& state) {
    std::vector<std::unique_ptr<ind::Indicator>> all;
    for (auto _ : state) {
        // Construction (and destruction) is once per stream, as TA-Lib's set-up is outside its timing.
        state.PauseTiming();
        all.clear();
        for (const auto& s : ind::registry()) all.push_back(s.make(ind::parse(s.name).params));
        state.ResumeTiming();
        for (const auto& b : bars())
            for (auto& x : all) x->update(b);
        benchmark::DoNotOptimize(all.back()->value());
    }
    state.counters["ns_per_bar"] =
        benchmark::Counter(n_bars(), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The same, with the bar checked once per bar instead of once per indicator.
void ours_all_checked_once(benchmark::State& state) {
    std::vector<std::unique_ptr<ind::Indicator>> all;
    for (auto _ : state) {
        // Construction (and destruction) is once per stream, as TA-Lib's set-up is outside its timing.
        state.PauseTiming();
        all.clear();
        for (const auto& s : ind::registry()) all.push_back(s.make(ind::parse(s.name).params));
        state.ResumeTiming();
        for (const auto& b : bars()) {
            if (pc::check_bar(b) != pc::BarProblem::none) continue;
            for (auto& x : all) x->update_valid(b);
        }
        benchmark::DoNotOptimize(all.back()->value());
    }
    state.counters["ns_per_bar"] =
        benchmark::Counter(n_bars(), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The full set as the feature engine runs it, so the headline figure: one
// IndicatorSet, which checks each bar once and computes the state several
// indicators share once.
void ours_set(benchmark::State& state) {
    ind::IndicatorSet set;
    for (auto _ : state) {
        state.PauseTiming();
        set = ind::IndicatorSet();
        for (const auto& s : ind::registry()) set.add(ind::parse(s.name));
        state.ResumeTiming();
        for (const auto& b : bars()) set.update(b);
        benchmark::DoNotOptimize(set[set.size() - 1].value());
    }
    state.counters["ns_per_bar"] =
        benchmark::Counter(n_bars(), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void talib_all(benchmark::State& state) {
    std::vector<std::unique_ptr<pc::test::TalibCall>> calls;
    for (const auto& s : ind::registry())
        calls.push_back(std::make_unique<pc::test::TalibCall>(s.talib_name, ind::parse(s.name).params, columns()));
    for (auto _ : state)
        for (auto& c : calls) c->run(0, static_cast<int>(bars().size()) - 1);
    state.counters["ns_per_bar"] =
        benchmark::Counter(n_bars(), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// A naive streaming service: on each new bar, recompute every indicator over the
// last 100 bars with TA-Lib and keep the last value. Measured on 500 bars.
void naive_all(benchmark::State& state) {
    std::vector<std::unique_ptr<pc::test::TalibCall>> calls;
    for (const auto& s : ind::registry())
        calls.push_back(std::make_unique<pc::test::TalibCall>(s.talib_name, ind::parse(s.name).params, columns()));
    const int first = 200, last = first + 500;
    for (auto _ : state)
        for (int t = first; t < last; ++t)
            for (auto& c : calls) c->run(t - 99, t);
    state.counters["ns_per_bar"] =
        benchmark::Counter(500, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The same naive service built on our own indicators: on each new bar, fresh
// objects give the values of the last 100 bars, so they are fed those and the
// lookback before them, as TA-Lib reads them above. Against our streaming run
// this isolates what streaming saves from how fast either implementation is.
void naive_ours_all(benchmark::State& state) {
    struct Naive {
        const ind::IndicatorSpec* spec;
        std::vector<double> params;
        int lookback;
    };
    std::vector<Naive> specs;
    for (const auto& s : ind::registry()) {
        const auto params = ind::parse(s.name).params;
        specs.push_back({&s, params, s.make(params)->lookback()});
    }
    const int first = 200, last = first + 500;
    for (auto _ : state)
        for (int t = first; t < last; ++t)
            for (const auto& [spec, params, lookback] : specs) {
                auto x = spec->make(params);
                for (int i = t - 99 - lookback; i <= t; ++i) x->update_valid(bars()[static_cast<std::size_t>(i)]);
                benchmark::DoNotOptimize(x->value());
            }
    state.counters["ns_per_bar"] =
        benchmark::Counter(500, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Collects ns/bar per benchmark for the ratio tables: a single run's figure,
// or a repeated one's minimum and median.
class Collector : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> ns_per_bar, median;
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) {
            auto it = r.counters.find("ns_per_bar");
            if (it == r.counters.end()) continue;
            const double ns = it->second.value * 1e9;  // the counter is seconds per bar
            if (r.run_type != Run::RT_Aggregate || r.aggregate_name == "min")
                ns_per_bar[r.run_name.function_name] = ns;
            else if (r.aggregate_name == "median")
                median[r.run_name.function_name] = ns;
        }
        ConsoleReporter::ReportRuns(runs);
    }
};

void print_tables(const Collector& c) {
    auto get = [&](const std::string& k) {
        auto it = c.ns_per_bar.find(k);
        return it == c.ns_per_bar.end() ? 0.0 : it->second;
    };
    std::printf("\nPer indicator: our streaming update vs TA-Lib's batch function (ns per bar, %zu bars)\n",
                bars().size());
    std::printf("%-22s %-11s %10s %10s %8s\n", "indicator", "group", "ours", "ta-lib", "ratio");
    std::map<std::string, std::pair<double, double>> groups;
    for (const auto& s : ind::registry()) {
        const double o = get("ours/" + s.name), t = get("talib/" + s.name);
        groups[std::string(ind::to_string(s.group))].first += o;
        groups[std::string(ind::to_string(s.group))].second += t;
        std::printf("%-22s %-11s %10.1f %10.1f %8.2f\n", s.name.c_str(), std::string(ind::to_string(s.group)).c_str(),
                    o, t, t > 0 ? o / t : 0);
    }
    std::printf("\nPer group (sum of per-indicator ns per bar)\n%-11s %10s %10s %8s\n", "group", "ours", "ta-lib",
                "ratio");
    for (const auto& [g, v] : groups)
        std::printf("%-11s %10.1f %10.1f %8.2f\n", g.c_str(), v.first, v.second, v.second > 0 ? v.first / v.second : 0);
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
    std::printf("\nFull set of %zu indicators, ns per bar: the fastest of %d runs each, in shuffled order (median)\n",
                ind::registry().size(), kRepeats);
    // One figure, and its ratio to `base` when there is one: "x" marks a speed-up.
    auto line = [&](const char* what, const std::string& k, const char* vs, const std::string& base, bool times,
                    const char* goal) {
        auto med = [&](const std::string& n) { return c.median.count(n) ? c.median.at(n) : 0.0; };
        const double f = get(k), m = med(k);
        std::printf("  %-40s: %9.1f (%9.1f)", what, f, m);
        if (vs && times) std::printf("   %s = %.0fx (%.0fx)%s", vs, ratio(f, get(base)), ratio(m, med(base)), goal);
        else if (vs) std::printf("   %s = %.2f (%.2f)%s", vs, ratio(f, get(base)), ratio(m, med(base)), goal);
        std::printf("\n");
    };
    line("TA-Lib, batch over the array", "talib_all", nullptr, "", false, "");
    line("ours, streaming, one IndicatorSet", "ours_set", "ours / TA-Lib", "talib_all", false, " (goal <= 2)");
    line("ours, separate objects, bar checked once", "ours_all_checked_once", "ours / TA-Lib", "talib_all", false, "");
    line("ours, separate objects, each checks it", "ours_all", "ours / TA-Lib", "talib_all", false, "");
    line("naive: TA-Lib over the last 100 bars", "naive_all", "naive / ours", "ours_set", true, " (goal >= 100x)");
    line("naive: ours over the last 100 bars", "naive_ours_all", "naive / ours", "ours_set", true,
         " (the same code both ways)");
}

void repeated(benchmark::internal::Benchmark* b) {
    b->Repetitions(kRepeats)
        ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
        ->ReportAggregatesOnly(true);
}

}  // namespace

int main(int argc, char** argv) {
    for (const auto& s : ind::registry()) {
        benchmark::RegisterBenchmark(("ours/" + s.name).c_str(), ours, &s);
        if (pc::test::have_talib()) benchmark::RegisterBenchmark(("talib/" + s.name).c_str(), talib, &s);
    }
    repeated(benchmark::RegisterBenchmark("ours_all", ours_all));
    repeated(benchmark::RegisterBenchmark("ours_all_checked_once", ours_all_checked_once));
    repeated(benchmark::RegisterBenchmark("ours_set", ours_set));
    repeated(benchmark::RegisterBenchmark("naive_ours_all", naive_ours_all)->Iterations(3));
    if (pc::test::have_talib()) {
        repeated(benchmark::RegisterBenchmark("talib_all", talib_all));
        repeated(benchmark::RegisterBenchmark("naive_all", naive_all)->Iterations(3));
    }
    // Shuffled, so a slow spell of a shared machine does not fall on one side of a ratio.
    std::vector<char*> args(argv, argv + argc);
    std::string interleave = "--benchmark_enable_random_interleaving=true";
    args.insert(args.begin() + 1, interleave.data());
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    Collector collector;
    benchmark::RunSpecifiedBenchmarks(&collector);
    print_tables(collector);
    benchmark::Shutdown();
}
