// The LSTM-attention model: the same weights give the same probabilities in
// python3-torch (the oracle in tests/oracles/lstm_oracle.py), save/load and
// seeds reproduce exactly, and it learns a planted sequence signal.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "models/lstm.hpp"
#include "training/metrics.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::models {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& cmd) {
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = pclose(p);
    return WEXITSTATUS(status) == 0 ? out : "FAILED " + out;
}

bool python_torch() { return run("/usr/bin/python3 -c 'import torch, numpy'").rfind("FAILED", 0) != 0; }

std::vector<float> random_input(std::size_t n, const LstmConfig& c, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> z(0, 1);
    std::vector<float> x(n * c.steps * c.width);
    for (auto& v : x) v = z(rng);
    return x;
}

// Initialised (untrained) weights are as good as any for a parity check.
void expect_parity(const LstmConfig& cfg) {
    LstmAttentionModel model(cfg);
    const test::TempDir dir(fmt::format("lstm-parity-{}-{}", cfg.hidden, cfg.width));
    model.export_parameters(dir.path());
    const std::size_t n = 16;
    const auto x = random_input(n, cfg, 3);
    std::ofstream(dir / "input.bin", std::ios::binary).write(reinterpret_cast<const char*>(x.data()),
                                                              static_cast<std::streamsize>(x.size() * sizeof(float)));
    const auto out =
        run("/usr/bin/python3 " + std::string(PRICECAST_TEST_DATA) + "/../oracles/lstm_oracle.py " + dir.path().string());
    ASSERT_EQ(out.rfind("FAILED", 0), std::string::npos) << out;
    const auto py = nlohmann::json::parse(out);
    ASSERT_EQ(py.size(), n);
    for (const auto engine : {LstmEngine::kernel, LstmEngine::libtorch}) {
        const auto ours = model.forward_raw(x, n, engine);
        double worst = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t c = 0; c < kClasses; ++c) worst = std::max(worst, std::abs(py[i][c].template get<double>() - ours[i][c]));
        std::printf("parity (%s) hidden=%zu width=%zu steps=%zu: max |p_c++ - p_python| = %.2e\n",
                    engine == LstmEngine::kernel ? "kernel" : "libtorch", cfg.hidden, cfg.width, cfg.steps, worst);
        EXPECT_LT(worst, 1e-5);
    }
}

TEST(LstmParity, SameWeightsSameProbabilitiesAsPythonTorch) {
    if (!python_torch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (./run installs python3-torch)";
    LstmConfig full;  // the original design's architecture
    full.width = 40;
    expect_parity(full);
    LstmConfig small;
    small.width = 5, small.steps = 12, small.hidden = 16, small.heads = 4, small.head_hidden = 8;
    expect_parity(small);
}

// The kernel gives each sample the same probabilities bit for bit whichever
// batch it is in (batch sizes across its 12-sample blocks and 6-row tiles).
TEST(LstmKernel, ASamplesProbabilitiesDoNotDependOnItsBatch) {
    LstmConfig cfg;
    cfg.width = 7, cfg.steps = 9, cfg.hidden = 20, cfg.heads = 4, cfg.head_hidden = 12;  // sizes off every tile width
    LstmAttentionModel model(cfg);
    const std::size_t n = 37;
    const auto x = random_input(n, cfg, 11);
    const auto all = model.forward_raw(x, n);
    const std::size_t per = cfg.steps * cfg.width;
    for (const std::size_t batch : {1, 3, 5, 16, 17}) {
        for (std::size_t from = 0; from + batch <= n; from += batch) {
            const std::vector<float> part(x.begin() + static_cast<std::ptrdiff_t>(from * per),
                                          x.begin() + static_cast<std::ptrdiff_t>((from + batch) * per));
            const auto p = model.forward_raw(part, batch);
            for (std::size_t i = 0; i < batch; ++i) ASSERT_EQ(p[i], all[from + i]) << "sample " << from + i << " in a batch of " << batch;
        }
    }
    for (const int threads : {2, 3, 40}) {  // samples shared out among threads (40: more threads than samples)
        const test::TempDir dir(fmt::format("lstm-threads-{}", threads));
        model.save(dir.path());
        auto saved = nlohmann::json::parse(std::ifstream(dir / "model.json"));
        saved["config"]["threads"] = threads;
        std::ofstream(dir / "model.json") << saved.dump();
        const auto back = load_lstm(dir.path());
        auto* lstm = dynamic_cast<LstmAttentionModel*>(back.get());
        ASSERT_NE(lstm, nullptr);
        EXPECT_EQ(lstm->forward_raw(x, n), all) << threads << " threads";
    }
}

// A sequence task: the class is the sign of the last five values of feature 0
// summed, with a STABLE band; the other features are noise.
SampleSet sequences(std::size_t n, std::uint64_t seed) {
    SampleSet s;
    s.steps = 10;
    s.width = 3;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> z(0, 1);
    for (std::size_t i = 0; i < n; ++i) {
        float sum = 0;
        for (std::size_t t = 0; t < s.steps; ++t)
            for (std::size_t f = 0; f < s.width; ++f) {
                const float v = z(rng) * (f == 2 ? 50.0f : 1.0f) + (f == 2 ? 100.0f : 0.0f);  // an unscaled column
                s.values.push_back(v);
                if (f == 0 && t >= s.steps - 5) sum += v;
            }
        s.labels.push_back(sum > 1.5f ? Trend::up : sum < -1.5f ? Trend::down : Trend::stable);
    }
    return s;
}

LstmConfig small_config() {
    LstmConfig c;
    c.steps = 10, c.hidden = 24, c.heads = 4, c.head_hidden = 16, c.max_epochs = 25, c.early_stopping = 8;
    return c;
}

TEST(Lstm, LearnsAPlantedSequenceSignal) {
    const auto train = sequences(1500, 1), valid = sequences(300, 2), test = sequences(600, 3);
    LstmAttentionModel m(small_config());
    std::size_t epochs = 0;
    m.fit(train, valid, [&](const TrainingProgress& p) { epochs = p.step; });
    const auto r = training::evaluate(test.labels, m.predict_proba(test));
    std::size_t stable = 0;
    for (auto l : test.labels) stable += l == Trend::stable;
    const double majority = static_cast<double>(stable) / static_cast<double>(test.size());
    std::printf("planted sequence: accuracy %.3f vs majority %.3f after %zu epochs\n", r.accuracy, majority, epochs);
    EXPECT_GT(r.accuracy, majority + 0.15);
}

TEST(Lstm, SaveLoadAndSeedsReproduceExactly) {
    const auto train = sequences(300, 4), valid = sequences(100, 5), test = sequences(50, 6);
    auto cfg = small_config();
    cfg.max_epochs = 3;
    LstmAttentionModel a(cfg), b(cfg);
    a.fit(train, valid, {});
    b.fit(train, valid, {});
    const auto pa = a.predict_proba(test), pb = b.predict_proba(test);
    EXPECT_EQ(pa, pb) << "same data and seed, same model";
    {  // trained weights: the kernel still agrees with libtorch's modules
        const std::vector<float> x(test.values.begin(), test.values.end());
        const auto kernel = a.forward_raw(x, test.size(), LstmEngine::kernel);
        const auto torch = a.forward_raw(x, test.size(), LstmEngine::libtorch);
        for (std::size_t i = 0; i < test.size(); ++i)
            for (std::size_t c = 0; c < kClasses; ++c) EXPECT_NEAR(kernel[i][c], torch[i][c], 1e-5) << "sample " << i;
    }
    const test::TempDir dir("lstm-saved");
    a.save(dir.path());
    const auto back = load_lstm(dir.path());
    EXPECT_EQ(back->kind(), "lstm");
    EXPECT_EQ(back->predict_proba(test), pa);
    std::ofstream(dir / "weights.pt", std::ios::trunc) << "garbage";
    try {
        load_lstm(dir.path());
        ADD_FAILURE() << "a corrupted weights file must not load";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("weights.pt"), std::string::npos) << e.what();
    }
    SampleSet wrong = test;
    wrong.steps = 5;
    wrong.width = 6;
    EXPECT_THROW(a.predict_proba(wrong), std::invalid_argument);
}

}  // namespace
}  // namespace pricecast::models
