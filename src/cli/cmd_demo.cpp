// pricecast demo: the embedded system as far as it exists — a simulated market
// whose news is scored by the configured sentiment scorer, streamed bar by bar
// through the feature pipeline the models see, shown as a live table.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "data/simulator.hpp"
#include "features/features.hpp"
#include "sentiment/sentiment.hpp"

namespace pricecast::cli {
namespace {

struct DemoOptions {
    SimulatorFlags sim;
    int bars = 240;
    double speed = 40;  // bars per second on a terminal
};

// Feature columns shown: label, column name, decimals.
struct Shown {
    const char* label;
    const char* column;
    int decimals;
};
const Shown kShown[] = {
    {"rsi 1m", "1m:rsi(14)", 1},
    {"rsi 5m", "5m:rsi(14)", 1},
    {"sent 10m", "sent:10m:mean", 2},
    {"news 10m", "sent:10m:count", 0},
};

// The latest feature vector of one symbol and what the table derives from it.
struct Row {
    features::FeatureVector last;
    double first_close = 0;
    std::string pattern = "-";  // the most recent candlestick pattern seen, with its sign
};

struct Table {
    const features::FeatureSchema& schema;
    std::vector<std::size_t> shown;    // column index per kShown entry
    std::vector<std::size_t> patterns; // the base timeframe's candlestick columns
    std::map<std::string, Row> rows;
    std::string last_news;  // the latest headline with the score the pipeline got

    explicit Table(const features::FeatureSchema& s) : schema(s) {
        for (const auto& c : kShown) shown.push_back(s.index(c.column));
        const auto& base = s.columns().front().timeframe;
        for (std::size_t i = 0; i < s.size(); ++i)
            if (s.columns()[i].timeframe == base && s.columns()[i].source.starts_with("cdl")) patterns.push_back(i);
    }

    void add(const features::FeatureVector& v) {
        auto& r = rows[v.symbol];
        if (r.first_close == 0) r.first_close = v.close;
        r.last = v;
        for (auto i : patterns)
            if (std::isfinite(v.values[i]) && v.values[i] != 0)
                r.pattern = fmt::format("{}{}", v.values[i] > 0 ? '+' : '-',
                                        schema.columns()[i].source.substr(3, schema.columns()[i].source.find('(') - 3));
    }

    std::string render(long bar, long bars, const features::PipelineStats& stats) const {
        std::string out = fmt::format("pricecast demo — simulated market, bar {}/{}, {} feature vectors, {} news\n\n", bar,
                                      bars, stats.vectors_out, stats.news_in);
        out += fmt::format("{:<8} {:<20} {:>10} {:>7}", "symbol", "time", "close", "chg%");
        for (const auto& c : kShown) out += fmt::format(" {:>8}", c.label);
        out += fmt::format("  {}\n", "pattern");
        for (const auto& [symbol, r] : rows) {
            out += fmt::format("{:<8} {:<20} {:>10.4f} {:>7.2f}", symbol, format_iso8601(r.last.close_time).substr(0, 19),
                               r.last.close, 100 * (r.last.close / r.first_close - 1));
            for (std::size_t j = 0; j < shown.size(); ++j) {
                const double x = r.last.values[shown[j]];
                out += std::isfinite(x) ? fmt::format(" {:>8.{}f}", x, kShown[j].decimals) : fmt::format(" {:>8}", "…");
            }
            out += fmt::format("  {}\n", r.pattern);
        }
        if (!last_news.empty()) out += "\nlast news: " + last_news + "\n";
        return out;
    }
};

features::FeatureConfig feature_config(const data::SimulatorConfig& sim) {
    features::FeatureConfig f;
    if (sim.interval != kMinute)
        throw UsageError("demo: the feature pipeline's base timeframe is 1m; the simulator interval is " +
                         format_duration(sim.interval));
    for (const auto& s : sim.symbols) f.symbols.push_back(s.name);
    return f;
}

void run(const DemoOptions& o, data::SimulatorConfig cfg, const sentiment::SentimentScorer& scorer) {
    cfg.trades = false;
    data::MarketSimulator sim(cfg);
    features::Pipeline pipeline(feature_config(cfg));
    Table table(pipeline.schema());
    const features::VectorSink sink = [&](const features::FeatureVector& v) { table.add(v); };

    const bool tty = isatty(STDOUT_FILENO) == 1;
    for (long t = 1; t <= o.bars; ++t) {
        auto step = sim.step();
        // The headline's score replaces the simulator's: the demo shows what the scorer sees.
        for (auto& n : step.news) {
            n.sentiment = scorer.score(n).score;
            table.last_news = fmt::format("{} \"{}\" {} {:+.2f}", format_iso8601(n.event_time).substr(11, 8), n.headline,
                                          scorer.name(), n.sentiment);
            pipeline.push(n, sink);
        }
        for (const auto& b : step.bars) pipeline.push(b, sink);
        if (t == o.bars) pipeline.finish(sink);
        if (!tty && t != o.bars && t % 60 != 0) continue;
        std::cout << (tty ? "\x1b[H\x1b[2J" : "") << table.render(t, o.bars, pipeline.stats()) << std::flush;
        if (tty && o.speed > 0) std::this_thread::sleep_for(std::chrono::duration<double>(1.0 / o.speed));
    }
}

}  // namespace

void add_demo_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "demo",
        "run the embedded demo: a simulated market ([simulator] in --config) with its news scored by the sentiment "
        "scorer, streamed through the feature pipeline, shown as a live table");
    static DemoOptions o;
    static CommonOptions common;
    add_simulator_options(*cmd, o.sim);
    cmd->add_option("--bars", o.bars, "number of 1-minute bars to run")->check(CLI::Range(1, 10'000'000))->capture_default_str();
    cmd->add_option("--speed", o.speed, "bars per second on a terminal (0: as fast as possible)")
        ->check(CLI::Range(0.0, 1e9))->capture_default_str();
    add_common_options(*cmd, common);
    cmd->callback([cmd] {
        const auto scorer = make_sentiment_scorer("", common);
        run(o, simulator_config(o.sim, *cmd, common), *scorer);
    });
}

}  // namespace pricecast::cli
