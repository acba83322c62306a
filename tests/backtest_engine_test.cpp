// The walk-forward engine with models that need no training: what each block
// may see, the metrics of a perfect and a constant predictor, the report files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "backtest/engine.hpp"
#include "backtest/report.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::backtest {
namespace {

constexpr int D = 0, S = 1, U = 2;

// Two symbols, one bar each per minute; closes zig-zag so every class occurs.
std::vector<Bar> market(std::size_t minutes) {
    std::vector<Bar> bars;
    for (std::size_t t = 0; t < minutes; ++t)
        for (const char* symbol : {"AAA", "BBB"}) {
            Bar b;
            b.symbol = symbol;
            b.interval = kMinute;
            b.open_time = static_cast<Timestamp>(t) * kMinute;
            b.close_time = b.open_time + kMinute;
            b.open = 100 + static_cast<double>(t % 7);
            b.close = 100 + static_cast<double>((t + 1) % 7) + (t % 3 == 0 ? 0.0 : 0.5);
            b.high = std::max(b.open, b.close);
            b.low = std::min(b.open, b.close);
            bars.push_back(b);
        }
    return bars;
}

EngineConfig config(std::size_t min_train, std::size_t retrain_every, std::size_t horizon) {
    EngineConfig c;
    c.min_train = min_train;
    c.retrain_every = retrain_every;
    c.horizon = horizon;
    return c;
}

// The class of the next close of the row's own symbol (horizon 1), kUnknown at the end.
int truth(const std::vector<Bar>& bars, std::size_t row) {
    if (row + 2 >= bars.size()) return kUnknown;
    const double r = bars[row + 2].close / bars[row].close - 1;
    return r > 0.001 ? U : r < -0.001 ? D : S;
}

Probs one_hot(int c) {
    Probs p{0.1f, 0.1f, 0.1f};
    p[static_cast<std::size_t>(c == kUnknown ? S : c)] = 0.8f;
    return p;
}

TEST(BacktestEngine, BlocksTrainOnlyOnThePurgedPastAndPredictEveryLaterBar) {
    const auto bars = market(200);
    const EngineConfig cfg = config(50, 30, 3);
    std::vector<std::size_t> seen;
    const auto r = run(bars, cfg, [&](const BlockRows& b) {
        EXPECT_FALSE(b.train.empty());
        EXPECT_FALSE(b.valid.empty());
        const Timestamp first = bars[b.predict.front()].close_time;
        // 3 bars of purge before the block and before the validation tail.
        EXPECT_LE(bars[b.valid.back()].close_time + 3 * kMinute, first);
        EXPECT_LE(bars[b.train.back()].close_time + 3 * kMinute, bars[b.valid.front()].close_time);
        seen.insert(seen.end(), b.predict.begin(), b.predict.end());
        BlockOutput out;
        for (auto row : b.predict) {
            out.probs.push_back(one_hot(truth(bars, row)));
            out.actual.push_back(truth(bars, row));
            out.majority.push_back(S);
            out.persistence.push_back(U);
        }
        return out;
    });
    // Every bar from minute 53 on is predicted once, both symbols.
    ASSERT_EQ(seen.size(), 2 * (200 - 53));
    for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 2 * 53 + i);
    EXPECT_EQ(r.blocks.size(), 5u);
    EXPECT_EQ(r.blocks.front().predicted, 60u);
    EXPECT_DOUBLE_EQ(r.report.accuracy, 1.0);
    for (std::size_t c = 0; c < 3; ++c)
        EXPECT_DOUBLE_EQ(r.report.f1[c], r.report.support[c] > 0 ? 1.0 : 0.0) << c;
    EXPECT_EQ(r.report.support[0] + r.report.support[1] + r.report.support[2], 2 * (200 - 53) - 2);
    ASSERT_EQ(r.trading.size(), 2u);
    EXPECT_EQ(r.trading[0].runs.size(), 4u);
    EXPECT_EQ(r.trading[0].runs[0].result.equity.size(), 200 - 53 + 1);
    for (const auto& b : r.calibration)
        if (b.count > 0) {
            EXPECT_NEAR(b.confidence, 0.8, 1e-6);
        }
    EXPECT_TRUE(std::all_of(r.rolling_accuracy.begin(), r.rolling_accuracy.end(), [](double a) { return a == 1; }));
}

TEST(BacktestEngine, ClassReportOfAKnownMatrix) {
    ConfusionMatrix m{};
    m[0] = {2, 1, 0};  // actual DOWN
    m[1] = {0, 3, 1};
    m[2] = {0, 0, 3};
    const auto r = class_report(m);
    EXPECT_DOUBLE_EQ(r.precision[1], 0.75);
    EXPECT_DOUBLE_EQ(r.recall[1], 0.75);
    EXPECT_DOUBLE_EQ(r.precision[0], 1.0);
    EXPECT_DOUBLE_EQ(r.recall[0], 2.0 / 3);
    EXPECT_DOUBLE_EQ(r.f1[0], 0.8);
    EXPECT_EQ(r.support[2], 3);
    EXPECT_DOUBLE_EQ(r.accuracy, 0.8);
}

BlockOutput constant(const BlockRows& b, int cls) {
    BlockOutput out;
    out.probs.assign(b.predict.size(), one_hot(cls));
    out.actual.assign(b.predict.size(), cls);
    out.majority.assign(b.predict.size(), cls);
    out.persistence.assign(b.predict.size(), cls);
    return out;
}

TEST(BacktestEngine, BadInputNamesTheField) {
    const auto bars = market(100);
    const EngineConfig cfg = config(20, 10, 1);
    auto message = [&](const std::vector<Bar>& b, const EngineConfig& c, const BlockModel& m) {
        try {
            run(b, c, m);
        } catch (const BacktestError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const BlockModel ok = [](const BlockRows& b) { return constant(b, U); };
    EXPECT_NE(message(bars, config(20, 0, 1), ok).find("retrain_every"), std::string::npos);
    EXPECT_NE(message(bars, config(100, 10, 1), ok).find("history"), std::string::npos);
    auto shuffled = bars;
    std::swap(shuffled[10], shuffled[40]);
    EXPECT_NE(message(shuffled, cfg, ok).find("bars[11].close_time"), std::string::npos);
    const BlockModel short_output = [](const BlockRows& b) {
        auto out = constant(b, U);
        out.probs.pop_back();
        return out;
    };
    EXPECT_NE(message(bars, cfg, short_output).find("model: block 1"), std::string::npos);
    const BlockModel bad_class = [](const BlockRows& b) {
        auto out = constant(b, U);
        out.majority.assign(out.majority.size(), 7);  // a baseline's class out of range, probabilities valid
        return out;
    };
    EXPECT_NE(message(bars, cfg, bad_class).find("class must be"), std::string::npos);
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(BacktestReport, WritesSelfContainedHtmlJsonAndPredictions) {
    const test::TempDir tmp("backtest-report");
    const auto dir = tmp / "report";  // not there yet: write_report makes it, as it must for --out
    const auto bars = market(60);
    const auto r = run(bars, config(20, 10, 1),
                       [](const BlockRows& b) { return constant(b, U); });
    write_report(dir, r);
    const auto html = read(dir / "report.html");
    for (const char* id : {"equity-AAA", "equity-BBB", "rolling-accuracy", "calibration", "confusion"})
        EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    EXPECT_NE(html.find("buy_and_hold"), std::string::npos);
    EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
    const auto j = nlohmann::json::parse(read(dir / "report.json"));
    EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 1.0);
    EXPECT_EQ(j["blocks"].size(), 4u);
    EXPECT_EQ(j["trading"]["AAA"]["buy_and_hold"]["equity"].size(), 60u - 21 + 1);
    // Buy-and-hold and always-UP are the same trades.
    EXPECT_EQ(j["trading"]["AAA"]["model"]["total_return"], j["trading"]["AAA"]["buy_and_hold"]["total_return"]);
    const auto csv = read(dir / "predictions.csv");
    EXPECT_EQ(csv.substr(0, csv.find('\n')), "time,symbol,class,p_down,p_stable,p_up,actual,block");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2 * (60 - 21));
    EXPECT_NE(csv.find(",AAA,UP,0.1,0.1,0.8,UP,1\n"), std::string::npos);
}

TEST(BacktestReport, UnwritableDirectoryNamesOut) {
    const auto r = run(market(60), config(20, 10, 1),
                       [](const BlockRows& b) { return constant(b, U); });
    try {
        write_report("/proc/pricecast-cannot-write-here", r);
        FAIL();
    } catch (const BacktestError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("out:", 0), 0u) << e.what();
    }
}

}  // namespace
}  // namespace pricecast::backtest
