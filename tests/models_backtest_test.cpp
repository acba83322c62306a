// `pricecast backtest` end to end with real models (GBDT through the trainer):
// bad input exits 2 naming the option; a shuffled future leaves everything up
// to the cut unchanged (lookahead guard); a block's model, registered as
// champion and fed the same bars through the live services, serves exactly the
// backtest's probabilities for that block (backtest == live).
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/quick_features.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

#include "bus/bus.hpp"
#include "data/ohlcv.hpp"
#include "data/simulator.hpp"
#include "models/model.hpp"
#include "registry/registry.hpp"
#include "sentiment/sentiment.hpp"
#include "serving/live.hpp"
#include "serving/model_manager.hpp"
#include "serving/stores.hpp"

namespace pricecast {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr long kBars = 420;  // per symbol
const std::vector<std::string> kSymbols = {"AAA", "BBB"};

features::FeatureConfig feature_config() { return test::quick_feature_config(); }

const char* kConfigToml =
    "[features]\ntimeframes = [\"1m\", \"5m\"]\nindicators = [\"rsi(14)\", \"ema(10)\", \"5m:roc(3)\"]\n"
    "sentiment_windows = [\"10m\"]\n";

std::map<std::string, std::vector<Bar>> simulate() {
    auto cfg = data::default_simulator_config();
    cfg.symbols = {{"AAA", 100}, {"BBB", 40}};
    cfg.seed = 9;
    cfg.news_rate = 0;
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    std::map<std::string, std::vector<Bar>> out;
    for (long t = 0; t < kBars; ++t)
        for (auto& b : sim.step().bars) out[b.symbol].push_back(b);
    return out;
}

void write_prices(const fs::path& dir, const std::map<std::string, std::vector<Bar>>& bars) {
    fs::create_directories(dir);
    for (const auto& [symbol, b] : bars) {
        std::ofstream out(dir / (symbol + ".csv"));
        data::write_bars_csv(out, b);
    }
}

struct Run {
    int status = -1;
    std::string output;
};

Run pricecast(const std::vector<std::string>& args) {
    std::string cmd = test::pricecast_binary().string();
    for (const auto& a : args) cmd += " '" + a + "'";
    Run r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    while (const auto n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    const int status = pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::vector<std::string>> csv_rows(const fs::path& p) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(read(p));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::istringstream l(line);
        std::string cell;
        while (std::getline(l, cell, ',')) cells.push_back(cell);
        if (line.ends_with(',')) cells.emplace_back();
        rows.push_back(cells);
    }
    return rows;
}

class Backtest : public ::testing::Test {
protected:
    void SetUp() override { std::ofstream(dir_ / "quick.toml") << kConfigToml; }

    std::vector<std::string> args(const fs::path& prices, const fs::path& out) const {
        std::vector<std::string> a{"backtest", "--config", (dir_ / "quick.toml").string(), "--model", "gbdt",
                                   "--rounds", "20", "--lags", "1", "--labels", "quantile", "--retrain-every", "60",
                                   "--min-train", "150", "--fee-bps", "2", "--out", out.string()};
        for (const auto& s : kSymbols) a.insert(a.begin() + 1, {"--prices", (prices / (s + ".csv")).string()});
        return a;
    }

    test::TempDir dir_{"backtest"};
};

TEST_F(Backtest, WritesReportsWithEveryBlockAndBaseline) {
    write_prices(dir_ / "prices", simulate());
    const auto r = pricecast(args(dir_ / "prices", dir_ / "out"));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output.find("warning:"), std::string::npos) << "balanced classes: " << r.output;
    // Block progress is for a terminal: a pipe or log gets none, and no \r run-together lines.
    EXPECT_EQ(r.output.find('\r'), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("validation samples"), std::string::npos) << r.output;
    const auto j = nlohmann::json::parse(read(dir_ / "out/report.json"));
    EXPECT_GE(j["blocks"].size(), 3u);
    for (const char* run : {"model", "buy_and_hold", "majority", "persistence"})
        EXPECT_TRUE(j["trading"]["AAA"].contains(run)) << run;
    const auto rows = csv_rows(dir_ / "out/predictions.csv");
    EXPECT_EQ(rows.size(), j["predicted"].get<std::size_t>());
    EXPECT_EQ(rows.front().size(), 8u);
    EXPECT_NE(read(dir_ / "out/report.html").find("id=\"calibration\""), std::string::npos);
}

// A label no return crosses: every labeled bar is STABLE, and the run says
// that its accuracy then shows little.
TEST_F(Backtest, WarnsWhenOneClassIsAlmostEveryLabel) {
    write_prices(dir_ / "prices", simulate());
    auto a = args(dir_ / "prices", dir_ / "out");
    const auto quantile = std::find(a.begin(), a.end(), "quantile");
    *quantile = "fixed";
    a.insert(quantile + 1, {"--threshold", "0.5"});
    const auto r = pricecast(a);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("warning: 100.0% of the test labels are STABLE"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("A return beyond the fixed ±50% is rare"), std::string::npos) << r.output;
}

TEST_F(Backtest, HelpDocumentsEveryOption) {
    const auto r = pricecast({"backtest", "--help"});
    ASSERT_EQ(r.status, 0);
    for (const char* o : {"--prices", "--news", "--sentiment-model", "--model", "--members", "--retrain-every",
                          "--min-train", "--horizon", "--labels", "--threshold", "--vol-k", "--quantile", "--lags",
                          "--rounds", "--steps", "--epochs", "--seed", "--mode", "--fee-bps", "--slippage-bps", "--out",
                          "--export-models", "--config", "--data-dir"})
        EXPECT_NE(r.output.find(o), std::string::npos) << o;
}

// One test per class of bad input: exit 2 and the option named.
struct BadInput {
    std::string flag, value, named;
};

class BacktestBadInput : public Backtest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(BacktestBadInput, ExitsTwoNamingTheOption) {
    write_prices(dir_ / "prices", simulate());
    auto a = args(dir_ / "prices", dir_ / "out");
    const auto& bad = GetParam();
    const auto value = bad.value.starts_with("DIR/") ? (dir_ / bad.value.substr(4)).string() : bad.value;
    const auto it = std::find(a.begin(), a.end(), bad.flag);
    if (it == a.end()) a.insert(a.end(), {bad.flag, value});
    else *(it + 1) = value;
    const auto r = pricecast(a);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(bad.named), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Classes, BacktestBadInput,
                         ::testing::Values(BadInput{"--prices", "DIR/missing.csv", "--prices"},
                                           BadInput{"--news", "DIR/missing.jsonl", "--news"},
                                           BadInput{"--model", "forest", "--model"},
                                           BadInput{"--retrain-every", "0", "--retrain-every"},
                                           BadInput{"--min-train", "5000", "--min-train"},
                                           BadInput{"--out", "/proc/pricecast-backtest", "--out"},
                                           BadInput{"--mode", "sideways", "--mode"}),
                         [](const auto& info) {
                             std::string name = info.param.flag.substr(2);
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// Lookahead guard: shuffling every bar after the cut changes nothing that was
// predicted or traded up to it.
TEST_F(Backtest, ShuffledFutureLeavesThePastIdentical) {
    auto bars = simulate();
    write_prices(dir_ / "prices", bars);
    const std::size_t cut = 340;
    std::mt19937 rng(3);
    for (auto& [symbol, b] : bars) {
        // Prices move to other times; the times stay in place.
        std::vector<Bar> tail(b.begin() + cut + 1, b.end());
        std::shuffle(tail.begin(), tail.end(), rng);
        for (std::size_t i = 0; i < tail.size(); ++i) {
            auto& dst = b[cut + 1 + i];
            const auto times = std::pair(dst.open_time, dst.close_time);
            dst = tail[i];
            std::tie(dst.open_time, dst.close_time) = times;
        }
    }
    write_prices(dir_ / "shuffled", bars);
    const auto base = pricecast(args(dir_ / "prices", dir_ / "base"));
    const auto shuffled = pricecast(args(dir_ / "shuffled", dir_ / "after"));
    ASSERT_EQ(base.status, 0) << base.output;
    ASSERT_EQ(shuffled.status, 0) << shuffled.output;

    const Timestamp cut_time = bars.begin()->second[cut].close_time;
    const auto a = csv_rows(dir_ / "base/predictions.csv"), b = csv_rows(dir_ / "after/predictions.csv");
    ASSERT_EQ(a.size(), b.size());
    std::map<std::string, std::size_t> before_cut;  // predictions per symbol up to the cut
    std::size_t compared = 0, differ_after = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto t = parse_iso8601(a[i][0]);
        ASSERT_TRUE(t);
        // time, symbol, class, p_down, p_stable, p_up; `actual` reads the future.
        const std::vector<std::string> pa(a[i].begin(), a[i].begin() + 6), pb(b[i].begin(), b[i].begin() + 6);
        if (*t <= cut_time) {
            EXPECT_EQ(pa, pb) << a[i][0];
            ++before_cut[a[i][1]];
            ++compared;
        } else {
            differ_after += pa != pb;
        }
    }
    EXPECT_GT(compared, 100u);
    EXPECT_GT(differ_after, 0u) << "the shuffle must change the future";

    const auto ja = nlohmann::json::parse(read(dir_ / "base/report.json"));
    const auto jb = nlohmann::json::parse(read(dir_ / "after/report.json"));
    for (const auto& [symbol, n] : before_cut)
        for (const char* run : {"model", "majority", "persistence", "buy_and_hold"}) {
            const auto& ea = ja["trading"][symbol][run]["equity"];
            const auto& eb = jb["trading"][symbol][run]["equity"];
            // equity[k] is marked at the open of predicted bar k: bars 0 .. n-1 are before the cut.
            for (std::size_t k = 0; k < n; ++k) EXPECT_EQ(ea[k], eb[k]) << symbol << " " << run << " " << k;
        }
}

// Backtest == live: block 2's model as champion; the live services replay the
// same price files; every bar of block 2 is served with the backtest's probabilities.
TEST_F(Backtest, BlockPredictionsEqualTheLivePipeline) {
    write_prices(dir_ / "prices", simulate());
    auto a = args(dir_ / "prices", dir_ / "out");
    a.insert(a.end(), {"--export-models", (dir_ / "models").string()});
    const auto r = pricecast(a);
    ASSERT_EQ(r.status, 0) << r.output;
    std::map<std::pair<std::string, Timestamp>, models::ClassProbs> block;
    for (const auto& row : csv_rows(dir_ / "out/predictions.csv"))
        if (row[7] == "2") block[{row[1], *parse_iso8601(row[0])}] = {std::stof(row[3]), std::stof(row[4]), std::stof(row[5])};
    ASSERT_GE(block.size(), 100u);

    const auto schema = features::Pipeline(feature_config()).schema();
    {
        registry::Registry reg(dir_ / "registry");
        const auto model = models::load_model(dir_ / "models/block-2");
        const auto v = registry::register_model(reg, "trend", *model, {});
        reg.promote("trend", v.version, "champion", {.force = true}, "test");
    }
    auto bus = bus::make_in_process_bus();
    serving::ModelManager manager(dir_ / "registry", models::load_model);
    manager.watch("trend", schema.hash());
    manager.refresh();
    serving::PriceSourceOptions po;
    for (const auto& s : kSymbols) po.price_files.push_back(dir_ / "prices" / (s + ".csv"));
    serving::PriceService price(*bus, po);
    const auto scorer = sentiment::LexiconScorer::load();
    serving::SentimentService sentiment(*bus, scorer);
    serving::FeatureService features(*bus, {feature_config(), dir_ / "features.snapshot", 1000ms});
    serving::InferenceService inference(*bus, manager, {"trend"});
    serving::PredictionStore store;
    serving::StoreFeed feed(*bus, store, nullptr);
    {
        // An array, not a vector: GCC 12 -O3 warns falsely on a vector of jthread growing.
        std::jthread threads[] = {std::jthread([&](std::stop_token s) { feed.run(s); }),
                                  std::jthread([&](std::stop_token s) { inference.run(s); }),
                                  std::jthread([&](std::stop_token s) { features.run(s); }),
                                  std::jthread([&](std::stop_token s) { sentiment.run(s); }),
                                  std::jthread([&](std::stop_token s) { price.run(s); })};
        auto served = [&] {
            std::size_t n = 0;
            for (const auto& [key, probs] : block) n += store.range(key.first, key.second, key.second).size();
            return n;
        };
        const auto deadline = std::chrono::steady_clock::now() + 180s;
        while (served() < block.size() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
        for (auto it = std::rbegin(threads); it != std::rend(threads); ++it) {
            it->request_stop();
            it->join();
        }
    }
    for (const auto& [key, probs] : block) {
        const auto got = store.range(key.first, key.second, key.second);
        ASSERT_EQ(got.size(), 1u) << key.first << " " << format_iso8601(key.second) << " not served";
        EXPECT_EQ(got.front().probs, probs) << key.first << " " << format_iso8601(key.second);
    }
}

}  // namespace
}  // namespace pricecast
