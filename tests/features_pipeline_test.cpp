// The feature pipeline's promises: stream == batch bit for bit under any valid
// interleaving (late news included), no lookahead, snapshot/restore identity,
// bad input rejected and counted, and values checked against independent
// computations written here.
#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "data/aggregate.hpp"
#include "data/ohlcv.hpp"
#include "data/simulator.hpp"
#include "features/features.hpp"
#include "indicators/indicator.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::features {
namespace {

struct Market {
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
};

Market simulate(int steps, std::uint64_t seed, double news_rate = 0.05) {
    auto cfg = data::default_simulator_config();
    cfg.seed = seed;
    cfg.symbols = {{"ACME", 100}, {"BOLT", 20}, {"CRUX", 350}};
    cfg.news_rate = news_rate;
    cfg.market_news_rate = 0.01;
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    Market m;
    for (int i = 0; i < steps; ++i) {
        auto s = sim.step();
        m.bars.insert(m.bars.end(), s.bars.begin(), s.bars.end());
        m.news.insert(m.news.end(), s.news.begin(), s.news.end());
    }
    return m;
}

// Random scored news at random times over a real bar series.
std::vector<NewsItem> random_news(const std::vector<Bar>& bars, std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<Timestamp> when(bars.front().open_time, bars.back().close_time);
    std::uniform_real_distribution<double> score(-1, 1);
    std::vector<NewsItem> news;
    for (std::size_t i = 0; i < n; ++i) {
        NewsItem it;
        it.id = "n" + std::to_string(i);
        it.event_time = when(rng);
        it.symbols = {bars.front().symbol};
        it.headline = "headline " + std::to_string(i);
        it.sentiment = score(rng);
        news.push_back(it);
    }
    return news;
}

FeatureConfig sim_config() {
    FeatureConfig c;
    c.lateness = "1m";
    return c;
}

FeatureConfig config_for(Duration base) {
    FeatureConfig c;
    c.timeframes = {format_duration(base), format_duration(base * 4), format_duration(base * 12)};
    c.sentiment_windows = {format_duration(base * 2), format_duration(base * 12)};
    c.lateness = format_duration(base);
    return c;
}

bool same_bits(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }

::testing::AssertionResult identical(const std::vector<FeatureVector>& a, const std::vector<FeatureVector>& b) {
    if (a.size() != b.size()) return ::testing::AssertionFailure() << "rows " << a.size() << " vs " << b.size();
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].symbol != b[i].symbol || a[i].close_time != b[i].close_time || a[i].schema_hash != b[i].schema_hash)
            return ::testing::AssertionFailure() << "row " << i << " differs in key";
        for (std::size_t k = 0; k < a[i].values.size(); ++k)
            if (!same_bits(a[i].values[k], b[i].values[k]))
                return ::testing::AssertionFailure() << "row " << i << " (" << a[i].symbol << " "
                                                     << format_iso8601(a[i].close_time) << ") column " << k << ": "
                                                     << a[i].values[k] << " vs " << b[i].values[k];
    }
    return ::testing::AssertionSuccess();
}

// A message with the time it reaches the pipeline.
struct Arrival {
    Timestamp at = 0;
    bool is_bar = false;
    std::size_t index = 0;
    std::uint64_t tie = 0;
};

// An event-time-valid interleaving: every message arrives after its event time;
// bars of a symbol in order, up to half a bar late; news up to `news_delay` late.
std::vector<Arrival> interleave(const Market& m, Duration bar_delay, Duration news_delay, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<Arrival> a;
    std::uniform_int_distribution<Duration> bd(0, bar_delay), nd(0, news_delay);
    for (std::size_t i = 0; i < m.bars.size(); ++i) a.push_back({m.bars[i].close_time + bd(rng), true, i, rng()});
    for (std::size_t i = 0; i < m.news.size(); ++i) a.push_back({m.news[i].event_time + nd(rng), false, i, rng()});
    std::sort(a.begin(), a.end(), [](const Arrival& x, const Arrival& y) { return std::tie(x.at, x.tie) < std::tie(y.at, y.tie); });
    return a;
}

std::vector<FeatureVector> stream(const FeatureConfig& cfg, const Market& m, const std::vector<Arrival>& order,
                                  std::size_t snapshot_at = SIZE_MAX, PipelineStats* stats = nullptr) {
    auto p = std::make_unique<Pipeline>(cfg);
    std::vector<FeatureVector> out;
    VectorSink sink = [&](const FeatureVector& v) { out.push_back(v); };
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (i == snapshot_at) {
            const std::string snap = p->snapshot();
            p = std::make_unique<Pipeline>(cfg);  // a restarted service
            p->restore(snap);
        }
        const auto& a = order[i];
        if (a.is_bar) p->push(m.bars[a.index], sink);
        else p->push(m.news[a.index], sink);
    }
    p->finish(sink);
    if (stats) *stats = p->stats();
    return out;
}

TEST(FeatureSchema, DefaultConfigHasTheDocumentedColumns) {
    Pipeline p(FeatureConfig{});
    const auto& s = p.schema();
    std::size_t indicators = 0;
    std::map<std::string, int> seen;
    for (const auto& c : s.columns()) {
        indicators += c.kind == ColumnKind::indicator && c.timeframe == "1m";
        EXPECT_EQ(++seen[c.name], 1) << "duplicate column " << c.name;
    }
    EXPECT_GE(indicators, 60u) << "50+ indicators (with their outputs) on the base timeframe";
    for (const char* name : {"1m:rsi(14)", "5m:macd(12,26,9).macdhist", "1h:bbands(20,2,2,0).upperband",
                             "1m:cdlengulfing", "1m:pct_change(10)", "5m:volatility(20)", "1h:bb_position(20,2)",
                             "1m:log_return(5)", "1m:return_lag(3)", "sent:10m:mean", "sent:1h:decayed",
                             "market:10m:count", "market:1h:slope", "x:1m:pct_change(1)*sent:10m:mean",
                             "x:1m:volume_ratio(20)*sent:10m:count"})
        EXPECT_NO_THROW(s.index(name)) << name;
    EXPECT_EQ(s.hash(), Pipeline(FeatureConfig{}).schema().hash()) << "the hash is stable";
    FeatureConfig other;
    other.indicators.push_back("5m:rsi(7)");
    EXPECT_NE(s.hash(), Pipeline(other).schema().hash()) << "another layout has another hash";
}

TEST(FeatureSchema, BadConfigNamesTheCulprit) {
    auto message = [](FeatureConfig c) {
        try {
            Pipeline p(std::move(c));
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    FeatureConfig c;
    c.timeframes = {"1m", "7x"};
    EXPECT_NE(message(c).find("'7x'"), std::string::npos) << message(c);
    c.timeframes = {"5m", "7m"};
    EXPECT_NE(message(c).find("multiple"), std::string::npos) << message(c);
    c = {};
    c.indicators = {"rsi(14)", "nosuch(3)"};
    EXPECT_NE(message(c).find("nosuch"), std::string::npos) << message(c);
    c.indicators = {"4h:rsi(14)"};
    EXPECT_NE(message(c).find("'4h'"), std::string::npos) << message(c);
    c = {};
    c.sentiment_windows = {"10q"};
    EXPECT_NE(message(c).find("10q"), std::string::npos) << message(c);
}

TEST(FeaturePipeline, StreamEqualsBatchUnderRandomInterleavings) {
    const Market m = simulate(6000, 11);  // 100 hours: the 1h indicators warm up
    const auto cfg = sim_config();
    const auto batch = build(cfg, m.bars, m.news);
    ASSERT_EQ(batch.size(), m.bars.size());
    ASSERT_GT(std::count_if(batch.begin(), batch.end(), [](auto& v) { return v.complete; }), 0);
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        PipelineStats st;
        // News up to the full lateness late; bars up to half a bar.
        const auto live = stream(cfg, m, interleave(m, 30 * kSecond, 60 * kSecond, seed), SIZE_MAX, &st);
        EXPECT_TRUE(identical(batch, live)) << "seed " << seed;
        EXPECT_EQ(st.rejected_total(), 0u);
        EXPECT_EQ(st.news_in, m.news.size());
    }
}

TEST(FeaturePipeline, StreamEqualsBatchOnRealData) {
    PRICECAST_REQUIRE_SHARED("ohlcv/freqtrade/ETH_BTC-5m.json");
    Market m;
    m.bars = data::read_bars(test::shared_data() / "ohlcv/freqtrade/ETH_BTC-5m.json");
    m.news = random_news(m.bars, 800, 4);
    const auto cfg = config_for(m.bars.front().interval);
    const auto batch = build(cfg, m.bars, m.news);
    ASSERT_EQ(batch.size(), m.bars.size());
    for (std::uint64_t seed = 1; seed <= 2; ++seed)
        EXPECT_TRUE(identical(batch, stream(cfg, m, interleave(m, 2 * kMinute, 5 * kMinute, seed))));
}

TEST(FeaturePipeline, NewsLaterThanTheLatenessIsCountedAndDropped) {
    const Market m = simulate(400, 12);
    const auto cfg = sim_config();
    auto order = interleave(m, 0, 30 * kSecond, 3);
    // Every 4th news item arrives three minutes late: beyond the 1m lateness.
    Market kept = m;
    kept.news.clear();
    std::size_t dropped = 0;
    for (auto& a : order)
        if (!a.is_bar) {
            if (a.index % 4 == 0) {
                a.at = m.news[a.index].event_time + 3 * kMinute;
                ++dropped;
            } else {
                kept.news.push_back(m.news[a.index]);
            }
        }
    std::sort(order.begin(), order.end(), [](const Arrival& x, const Arrival& y) { return std::tie(x.at, x.tie) < std::tie(y.at, y.tie); });
    PipelineStats st;
    const auto live = stream(cfg, m, order, SIZE_MAX, &st);
    std::sort(kept.news.begin(), kept.news.end(), [](auto& a, auto& b) { return a.event_time < b.event_time; });
    EXPECT_TRUE(identical(build(cfg, kept.bars, kept.news), live));
    EXPECT_EQ(st.rejected[static_cast<std::size_t>(Rejection::late)], dropped);
    EXPECT_GT(dropped, 5u);
}

TEST(FeaturePipeline, SnapshotRestoreContinuesIdentically) {
    const Market m = simulate(3000, 13);
    const auto cfg = sim_config();
    const auto order = interleave(m, 20 * kSecond, 50 * kSecond, 9);
    const auto whole = stream(cfg, m, order);
    std::mt19937_64 rng(5);
    for (int trial = 0; trial < 4; ++trial) {
        const std::size_t at = std::uniform_int_distribution<std::size_t>(1, order.size() - 1)(rng);
        EXPECT_TRUE(identical(whole, stream(cfg, m, order, at))) << "snapshot at message " << at;
    }
}

TEST(FeaturePipeline, RestoreRejectsAnotherSchema) {
    Pipeline a(sim_config());
    FeatureConfig other = sim_config();
    other.indicators = {"rsi(14)"};
    Pipeline b(other);
    EXPECT_THROW(b.restore(a.snapshot()), StateError);
}

// Deleting or changing anything after t leaves every vector at or before t unchanged.
void expect_no_lookahead(const FeatureConfig& cfg, const Market& m, std::uint64_t seed) {
    const auto base = build(cfg, m.bars, m.news);
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 4; ++trial) {
        const Timestamp t = m.bars[std::uniform_int_distribution<std::size_t>(m.bars.size() / 5, m.bars.size() - 2)(rng)].close_time;
        Market changed;
        std::bernoulli_distribution drop(0.3);
        std::uniform_real_distribution<double> scale(0.5, 2.0);
        for (Bar b : m.bars) {
            if (b.close_time > t) {
                if (drop(rng)) continue;
                const double k = scale(rng);
                b.open *= k, b.high *= k, b.low *= k, b.close *= k, b.volume *= scale(rng);
            }
            changed.bars.push_back(b);
        }
        for (NewsItem n : m.news) {
            if (n.event_time > t) {
                if (drop(rng)) continue;
                n.sentiment = -n.sentiment;
            }
            changed.news.push_back(n);
        }
        NewsItem extra;  // a new item one nanosecond after the cut
        extra.event_time = t + 1;
        extra.headline = "Breaking";
        extra.symbols = {m.bars.front().symbol};
        extra.sentiment = 1;
        changed.news.push_back(extra);
        const auto after = build(cfg, changed.bars, changed.news);
        std::vector<FeatureVector> a, b;
        std::copy_if(base.begin(), base.end(), std::back_inserter(a), [&](auto& v) { return v.close_time <= t; });
        std::copy_if(after.begin(), after.end(), std::back_inserter(b), [&](auto& v) { return v.close_time <= t; });
        ASSERT_FALSE(a.empty());
        EXPECT_TRUE(identical(a, b)) << "cut at " << format_iso8601(t);
    }
}

TEST(FeaturePipeline, NoLookaheadOnTheSimulator) { expect_no_lookahead(sim_config(), simulate(3000, 14), 1); }

TEST(FeaturePipeline, NoLookaheadOnRealData) {
    PRICECAST_REQUIRE_SHARED("ohlcv/freqtrade/ETH_BTC-5m.json");
    for (const char* rel : {"ohlcv/freqtrade/ETH_BTC-5m.json", "ohlcv/backtesting_py/EURUSD.csv"}) {
        if (!std::filesystem::exists(test::shared_data() / rel)) continue;
        Market m;
        m.bars = data::read_bars(test::shared_data() / rel);
        m.bars.resize(std::min<std::size_t>(m.bars.size(), 3000));
        m.news = random_news(m.bars, 400, 3);
        expect_no_lookahead(config_for(m.bars.front().interval), m, 2);
    }
}

// ---- values against independent computations --------------------------------------

TEST(FeatureValues, HigherTimeframeIndicatorsMatchAggregatedBars) {
    const Market m = simulate(500, 15);
    const auto cfg = sim_config();
    const auto rows = build(cfg, m.bars, m.news);
    Pipeline p(cfg);
    const std::size_t col = p.schema().index("5m:rsi(14)");
    std::vector<Bar> acme;
    std::copy_if(m.bars.begin(), m.bars.end(), std::back_inserter(acme), [](auto& b) { return b.symbol == "ACME"; });
    std::vector<Bar> five;
    for (const auto& a : data::aggregate(acme, 5 * kMinute)) five.push_back(a.bar);
    const auto rsi = indicators::compute(*indicators::make("rsi(14)"), five)[0];
    std::size_t checked = 0;
    for (const auto& v : rows) {
        if (v.symbol != "ACME") continue;
        // The latest 5m bar closed at or before this 1m bar.
        auto it = std::upper_bound(five.begin(), five.end(), v.close_time, [](Timestamp t, const Bar& b) { return t < b.close_time; });
        if (it == five.begin()) continue;
        const double want = rsi[static_cast<std::size_t>(it - five.begin() - 1)];
        if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(v.values[col]));
        } else {
            EXPECT_DOUBLE_EQ(v.values[col], want) << format_iso8601(v.close_time);
            ++checked;
        }
    }
    EXPECT_GT(checked, 300u);
}

TEST(FeatureValues, DerivedFeaturesMatchDirectFormulas) {
    const Market m = simulate(200, 16);
    const auto rows = build(sim_config(), m.bars, m.news);
    Pipeline p(sim_config());
    const auto& s = p.schema();
    std::vector<const FeatureVector*> acme;
    std::vector<Bar> bars;
    for (const auto& v : rows)
        if (v.symbol == "BOLT") acme.push_back(&v);
    for (const auto& b : m.bars)
        if (b.symbol == "BOLT") bars.push_back(b);
    ASSERT_EQ(acme.size(), bars.size());
    for (std::size_t i = 25; i < bars.size(); ++i) {
        const auto& v = acme[i]->values;
        EXPECT_DOUBLE_EQ(v[s.index("1m:pct_change(5)")], bars[i].close / bars[i - 5].close - 1);
        EXPECT_DOUBLE_EQ(v[s.index("1m:log_return(10)")], std::log(bars[i].close / bars[i - 10].close));
        EXPECT_DOUBLE_EQ(v[s.index("1m:return_lag(2)")], bars[i - 2].close / bars[i - 3].close - 1);
        EXPECT_DOUBLE_EQ(v[s.index("1m:hl_ratio")], bars[i].high / bars[i].low);
        double vs = 0;
        for (std::size_t k = i - 19; k <= i; ++k) vs += bars[k].volume;
        EXPECT_NEAR(v[s.index("1m:volume_ratio(20)")], bars[i].volume / (vs / 20), 1e-12);
        std::vector<double> r;
        for (std::size_t k = i - 4; k <= i; ++k) r.push_back(bars[k].close / bars[k - 1].close - 1);
        double mean = 0, ss = 0;
        for (double x : r) mean += x / 5;
        for (double x : r) ss += (x - mean) * (x - mean);
        EXPECT_NEAR(v[s.index("1m:volatility(5)")], std::sqrt(ss / 4), 1e-15);
    }
}

TEST(FeatureValues, SentimentWindowsMatchANaiveScan) {
    const Market m = simulate(400, 17, 0.2);
    const auto cfg = sim_config();
    const auto rows = build(cfg, m.bars, m.news);
    Pipeline p(cfg);
    const auto& s = p.schema();
    std::size_t nonempty = 0;
    for (const auto& v : rows) {
        for (const auto& [scope, window] : {std::pair{"sent", 10 * kMinute}, {"market", kHour}}) {
            const std::string w = window == kHour ? "1h" : "10m";
            std::vector<double> in;
            for (const auto& n : m.news) {
                const bool tagged = std::string(scope) == "market" ||
                                    std::find(n.symbols.begin(), n.symbols.end(), v.symbol) != n.symbols.end();
                if (tagged && n.event_time <= v.close_time && n.event_time > v.close_time - window)
                    in.push_back(n.sentiment);
            }
            const std::string prefix = std::string(scope) + ":" + w + ":";
            ASSERT_EQ(v.values[s.index(prefix + "count")], static_cast<double>(in.size())) << prefix;
            double mean = 0;
            for (double x : in) mean += x;
            mean = in.empty() ? 0 : mean / static_cast<double>(in.size());
            EXPECT_NEAR(v.values[s.index(prefix + "mean")], mean, 1e-12);
            if (in.empty()) {
                for (const char* stat : {"std", "slope", "decayed"}) EXPECT_EQ(v.values[s.index(prefix + stat)], 0.0);
            } else {
                ++nonempty;
                const double d = v.values[s.index(prefix + "decayed")];
                EXPECT_GE(d, *std::min_element(in.begin(), in.end()) - 1e-12);
                EXPECT_LE(d, *std::max_element(in.begin(), in.end()) + 1e-12);
            }
        }
        if (!std::isnan(v.values[s.index("1m:pct_change(1)")])) {
            EXPECT_DOUBLE_EQ(v.values[s.index("x:1m:pct_change(1)*sent:10m:mean")],
                             v.values[s.index("1m:pct_change(1)")] * v.values[s.index("sent:10m:mean")]);
        }
    }
    EXPECT_GT(nonempty, rows.size() / 2);
}

// ---- bad input ----------------------------------------------------------------------------

TEST(FeaturePipeline, BadInputIsRejectedWithAReasonAndCounted) {
    const Market m = simulate(120, 18);
    auto cfg = sim_config();
    cfg.symbols = {"ACME", "BOLT", "CRUX"};
    Pipeline p(cfg);
    std::vector<FeatureVector> out;
    VectorSink sink = [&](const FeatureVector& v) { out.push_back(v); };
    NewsItem good;
    good.event_time = m.bars.front().close_time;
    good.headline = "ACME beats estimates";
    good.symbols = {"ACME"};
    good.sentiment = 0.8;
    auto bad = [&](auto change) {
        NewsItem n = good;
        change(n);
        return p.push(n, sink);
    };
    EXPECT_EQ(bad([](NewsItem& n) { n.event_time = 0; }), Rejection::missing_time);
    EXPECT_EQ(bad([](NewsItem& n) { n.headline = "  "; }), Rejection::empty_text);
    EXPECT_EQ(bad([](NewsItem& n) { n.headline = "caf\xc3"; }), Rejection::invalid_utf8);
    EXPECT_EQ(bad([](NewsItem& n) { n.body = "bad \xff byte"; }), Rejection::invalid_utf8);
    EXPECT_EQ(bad([](NewsItem& n) { n.symbols = {"ZZZZ"}; }), Rejection::unknown_symbol);
    EXPECT_EQ(bad([](NewsItem& n) { n.sentiment = std::nan(""); }), Rejection::unscored);
    EXPECT_EQ(bad([](NewsItem& n) { n.sentiment = 3; }), Rejection::unscored);
    EXPECT_EQ(bad([](NewsItem& n) {
                  n.symbols = {"ACME", "ZZZZ"};
                  n.headline = "ACME to buy ZZZZ";
              }), std::nullopt) << "known tags still count";
    EXPECT_EQ(p.push(good, sink), std::nullopt);
    EXPECT_EQ(p.push(good, sink), Rejection::duplicate) << "an at-least-once redelivery counts once";

    Bar nan_bar = m.bars[0];
    nan_bar.close = std::nan("");
    EXPECT_EQ(p.push(nan_bar, sink), Rejection::bad_bar);
    Bar odd = m.bars[0];
    odd.close_time += kMinute;
    EXPECT_EQ(p.push(odd, sink), Rejection::wrong_interval);
    Bar stranger = m.bars[0];
    stranger.symbol = "ZZZZ";
    EXPECT_EQ(p.push(stranger, sink), Rejection::unknown_symbol);
    EXPECT_EQ(p.push(m.bars[0], sink), std::nullopt);
    EXPECT_EQ(p.push(m.bars[0], sink), Rejection::out_of_order);

    const auto& st = p.stats();
    EXPECT_EQ(st.rejected_total(), 12u);
    EXPECT_EQ(st.rejected[static_cast<std::size_t>(Rejection::invalid_utf8)], 2u);
    // The pipeline keeps running: the rest of the stream gives the batch result.
    for (std::size_t i = 1; i < m.bars.size(); ++i) p.push(m.bars[i], sink);
    p.finish(sink);
    EXPECT_EQ(out.size(), m.bars.size());
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [&](auto& v) { return v.values.size() == p.schema().size(); }));
}

// ---- the matrix on disk --------------------------------------------------------------------------

TEST(FeatureMatrixFile, BinaryRoundTripAndCorruption) {
    const Market m = simulate(150, 19);
    const auto cfg = sim_config();
    const auto rows = build(cfg, m.bars, m.news);
    Pipeline p(cfg);
    const test::TempDir dir("features");
    const auto path = dir / "features.bin";
    write_binary(path, p.schema(), rows);
    const auto mat = read_binary(path);
    ASSERT_EQ(mat.rows(), rows.size());
    EXPECT_EQ(mat.schema_hash, p.schema().hash());
    ASSERT_EQ(mat.columns.size(), p.schema().size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
        EXPECT_EQ(mat.symbols[r], rows[r].symbol);
        EXPECT_EQ(mat.times[r], rows[r].close_time);
        for (std::size_t k = 0; k < mat.columns.size(); ++k)
            ASSERT_TRUE(same_bits(mat.values[r * mat.columns.size() + k], rows[r].values[k]));
    }
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
    try {
        read_binary(path);
        ADD_FAILURE() << "a truncated file must not load";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
    }

    std::ostringstream csv;
    write_csv(csv, p.schema(), rows);
    std::istringstream lines(csv.str());
    std::string header, first;
    std::getline(lines, header);
    EXPECT_EQ(header.rfind("symbol,close_time,close,\"1m:sma(5)\"", 0), 0u) << header.substr(0, 80);
    const std::string text = csv.str();
    EXPECT_EQ(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')), rows.size() + 1);
}

std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `features build` streams rows through MatrixWriter: its files are the ones
// the whole-matrix writers give, and a writer dropped before close() leaves
// neither the file nor its partial copy.
TEST(FeatureMatrixFile, StreamedWriterGivesTheSameFiles) {
    const Market m = simulate(150, 23);
    const auto cfg = sim_config();
    const Pipeline p(cfg);
    const auto rows = build(cfg, m.bars, m.news);
    const test::TempDir dir("matrix-writer");
    write_binary(dir / "whole.bin", p.schema(), rows);
    std::ostringstream csv;
    write_csv(csv, p.schema(), rows);

    std::vector<std::string> symbols;  // in the order write_binary meets them
    for (const auto& r : rows)
        if (std::find(symbols.begin(), symbols.end(), r.symbol) == symbols.end()) symbols.push_back(r.symbol);
    ASSERT_GE(symbols.size(), 2u);
    MatrixWriter bin(dir / "streamed.bin", MatrixWriter::Format::binary, p.schema(), symbols);
    MatrixWriter text(dir / "streamed.csv", MatrixWriter::Format::csv, p.schema(), {});
    for (const auto& r : rows) {
        bin.write(r);
        text.write(r);
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "streamed.bin")) << "only the partial file exists before close()";
    bin.close();
    text.close();
    EXPECT_EQ(bin.rows(), rows.size());
    EXPECT_EQ(file_bytes(dir / "streamed.bin"), file_bytes(dir / "whole.bin"));
    EXPECT_EQ(file_bytes(dir / "streamed.csv"), csv.str());
    EXPECT_FALSE(std::filesystem::exists(dir / "streamed.bin.partial"));

    {
        MatrixWriter dropped(dir / "dropped.bin", MatrixWriter::Format::binary, p.schema(), {rows[0].symbol});
        dropped.write(rows[0]);
        auto stranger = rows[0];
        stranger.symbol = "ZZZZ";
        EXPECT_THROW(dropped.write(stranger), std::invalid_argument);
        stranger.values.pop_back();
        EXPECT_THROW(dropped.write(stranger), std::invalid_argument);
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "dropped.bin"));
    EXPECT_FALSE(std::filesystem::exists(dir / "dropped.bin.partial"));
    EXPECT_THROW(MatrixWriter(dir / "no-such-folder" / "x.bin", MatrixWriter::Format::binary, p.schema(), {}),
                 std::runtime_error);
}

}  // namespace
}  // namespace pricecast::features
