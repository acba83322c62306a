// The LSTM-attention model, C++ (our fused inference kernel, and libtorch's
// modules) next to python3-torch on the same architecture, weights and shapes,
// one thread each, in the same run: batch-1, batch-256 and batch-1000
// inference, one training step of batch 64 (libtorch), and 1,000 symbols
// predicted in one batched call against 1,000 batch-1 calls.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "models/lstm.hpp"

namespace pm = pricecast::models;

namespace {

pm::LstmConfig config() {
    pm::LstmConfig c;  // the original design's architecture on [B, 60, 40]
    c.width = 40;
    c.threads = 1;
    return c;
}

const pm::LstmAttentionModel& model() {
    static const pm::LstmAttentionModel m(config());
    return m;
}

std::vector<float> input(std::size_t batch) {
    std::mt19937_64 rng(batch);
    std::normal_distribution<float> z(0, 1);
    std::vector<float> x(batch * 60 * 40);
    for (auto& v : x) v = z(rng);
    return x;
}

void forward(benchmark::State& state, pm::LstmEngine engine) {
    const auto b = static_cast<std::size_t>(state.range(0));
    const auto x = input(b);
    for (auto _ : state) benchmark::DoNotOptimize(model().forward_raw(x, b, engine));
}

// 1,000 symbols one by one, as a service that predicts per symbol would.
void forward_1000_singly(benchmark::State& state) {
    const auto x = input(1000);
    for (auto _ : state)
        for (std::size_t s = 0; s < 1000; ++s)
            benchmark::DoNotOptimize(model().forward_raw(std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(s * 2400),
                                                                            x.begin() + static_cast<std::ptrdiff_t>((s + 1) * 2400)),
                                                         1));
}

// One epoch of ten batch-64 steps (fit also fits the scaler: a small extra).
void train_steps(benchmark::State& state) {
    pm::SampleSet s;
    s.steps = 60;
    s.width = 40;
    s.values = input(640);
    for (int i = 0; i < 640; ++i) s.labels.push_back(static_cast<pm::Trend>(i % 3));
    auto cfg = config();
    cfg.max_epochs = 1;
    for (auto _ : state) {
        pm::LstmAttentionModel m(cfg);
        m.fit(s, {}, {});
    }
    state.counters["steps"] = 10;
}

// Keeps, per benchmark, the best single call's CPU time over its repetitions:
// the statistic bench/lstm_reference.py reports (best of N calls, process CPU
// time), so both columns of the ratio table are measured the same way, and
// other load on a shared machine inflates neither. Only the aggregates
// (mean, median, stddev) are printed.
class Collector : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> seconds;
    void ReportRuns(const std::vector<Run>& runs) override {
        std::vector<Run> aggregates;
        for (const auto& r : runs) {
            if (r.run_type == Run::RT_Aggregate) {
                aggregates.push_back(r);
                continue;
            }
            const double t = r.cpu_accumulated_time / static_cast<double>(r.iterations);
            auto [it, fresh] = seconds.emplace(r.benchmark_name(), t);
            if (!fresh) it->second = std::min(it->second, t);
        }
        if (!aggregates.empty()) ConsoleReporter::ReportRuns(aggregates);
    }
};

std::string fmt_ms(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f ms", seconds * 1e3);
    return buf;
}

nlohmann::json python_reference() {
    if (std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) return {};
    const auto dir = std::filesystem::temp_directory_path() / ("pricecast-lstm-bench-" + std::to_string(::getpid()));
    model().export_parameters(dir);
    const std::string cmd = "/usr/bin/python3 " + std::string(PRICECAST_TEST_DATA) + "/../../bench/lstm_reference.py " + dir.string();
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    std::filesystem::remove_all(dir);
    try {
        return nlohmann::json::parse(out);
    } catch (const std::exception&) {
        std::fprintf(stderr, "python reference failed: %s\n", out.c_str());
        return {};
    }
}

}  // namespace

int main(int argc, char** argv) {
    // One call per repetition, as many repetitions as the python side's best_of.
    auto reg = [](const char* name, auto fn, int repetitions) {
        return benchmark::RegisterBenchmark(name, fn)
            ->Unit(benchmark::kMillisecond)
            ->Iterations(1)
            ->Repetitions(repetitions);
    };
    for (const auto engine : {pm::LstmEngine::kernel, pm::LstmEngine::libtorch}) {
        const std::string tag = engine == pm::LstmEngine::kernel ? "lstm/kernel" : "lstm/libtorch";
        auto fn = [engine](benchmark::State& s) { forward(s, engine); };
        reg((tag + "/batch:1").c_str(), fn, 50)->Arg(1);
        reg((tag + "/batch:256").c_str(), fn, 5)->Arg(256);
        reg((tag + "/batch:1000").c_str(), fn, 3)->Arg(1000);
    }
    reg("lstm/forward/1000_singly", forward_1000_singly, 1);
    reg("lstm/train/epoch_10x64", train_steps, 2);
    benchmark::Initialize(&argc, argv);
    Collector c;
    benchmark::RunSpecifiedBenchmarks(&c);
    auto get = [&](const std::string& prefix) {
        for (const auto& [k, v] : c.seconds)
            if (k.rfind(prefix, 0) == 0) return v;
        return 0.0;
    };
    const auto py = python_reference();
    auto ms = [](double s) { return s > 0 ? fmt_ms(s) : std::string("-"); };
    auto row = [&](const char* what, double kernel, double torch, const char* key) {
        const double ref = py.contains(key) ? py[key].get<double>() : 0.0;
        auto ratio = [&](double x) {
            char buf[32];
            if (x > 0 && ref > 0) std::snprintf(buf, sizeof buf, "%.2fx", ref / x);
            return x > 0 && ref > 0 ? std::string(buf) : std::string("-");
        };
        std::printf("  %-26s %12s %12s %12s %10s %10s\n", what, ms(kernel).c_str(), ms(torch).c_str(), ms(ref).c_str(),
                    ratio(kernel).c_str(), ratio(torch).c_str());
    };
    std::printf("\nLSTM(2x128) + MHA(8) + MLP on [B, 60, 40], one thread, same weights: time per call, and how\n"
                "many times faster than python3-torch\n");
    std::printf("  %-26s %12s %12s %12s %10s %10s\n", "", "kernel", "libtorch", "python", "kernel", "libtorch");
    for (const char* b : {"1", "256", "1000"}) {
        const std::string what = std::string("forward, batch ") + b;
        row(what.c_str(), get(std::string("lstm/kernel/batch:") + b + "/"), get(std::string("lstm/libtorch/batch:") + b + "/"),
            (std::string("forward_b") + b).c_str());
    }
    row("training step, batch 64", 0, get("lstm/train/epoch_10x64") / 10, "train_step_b64");
    if (py.empty()) std::printf("  (python3-torch not available: no reference column)\n");
    const double batched = get("lstm/kernel/batch:1000/"), singly = get("lstm/forward/1000_singly");
    std::printf("\n1,000 symbols: one batched call %.1f ms vs 1,000 batch-1 calls %.1f ms (%.1fx)\n", batched * 1e3,
                singly * 1e3, batched > 0 ? singly / batched : 0.0);
    benchmark::Shutdown();
}
