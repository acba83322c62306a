// XGBoost predictions per second through the Model interface: one sample at a
// time (a single symbol's bar) against batches (every symbol closing at once),
// on the default feature width and a GBDT of 200 trees per class.
#include <unistd.h>

#include <filesystem>
#include <random>

#include <benchmark/benchmark.h>

#include "models/xgboost_model.hpp"

namespace {

using namespace pricecast::models;

constexpr std::size_t kWidth = 283;  // the default feature schema

SampleSet random_samples(std::size_t n, std::uint64_t seed, bool labelled) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> z;
    SampleSet s;
    s.width = kWidth;
    s.values.resize(n * kWidth);
    for (auto& v : s.values) v = z(rng);
    if (labelled)
        for (std::size_t i = 0; i < n; ++i) {
            const float x = s.values[i * kWidth] + 0.5f * s.values[i * kWidth + 1];
            s.labels.push_back(x < -0.4f ? Trend::down : x > 0.4f ? Trend::up : Trend::stable);
        }
    return s;
}

const XgboostModel& model() {
    static const auto m = [] {
        XgboostConfig cfg;
        cfg.rounds = 200;
        cfg.early_stopping = 0;
        XgboostModel trained(cfg);
        trained.fit(random_samples(4000, 1, true), random_samples(800, 2, true), {});
        // Served models are loaded from the registry: measure that one.
        const auto dir = std::filesystem::temp_directory_path() / ("pricecast-xgb-bench-" + std::to_string(::getpid()));
        trained.save(dir);
        auto model = XgboostModel::load(dir);
        std::filesystem::remove_all(dir);
        return model;
    }();
    return *m;
}

void BM_XgboostPredict(benchmark::State& state) {
    const auto batch = random_samples(static_cast<std::size_t>(state.range(0)), 3, false);
    const auto& m = model();
    for (auto _ : state) benchmark::DoNotOptimize(m.predict_proba(batch));
    state.counters["predictions/s"] =
        benchmark::Counter(static_cast<double>(state.iterations() * batch.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_XgboostPredict)->Arg(1)->Arg(64)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
