// pricecast demo: the embedded system as far as it exists — a simulated market
// streamed bar by bar through the streaming indicators, shown as a live table.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <ranges>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "data/simulator.hpp"
#include "indicators/indicator.hpp"

namespace pricecast::cli {
namespace {

struct DemoOptions {
    std::string symbols = "ACME,BOLT,CRUX,DYNA";
    int bars = 240;
    double speed = 40;  // bars per second on a terminal
    std::uint64_t seed = 7;
};

// The columns of the live table: the original design's indicators and patterns.
const std::vector<std::pair<std::string, std::string>> kColumns = {
    {"sma5", "sma(5)"},         {"sma20", "sma(20)"},        {"ema12", "ema(12)"},
    {"rsi14", "rsi(14)"},       {"macdh", "macd(12,26,9).macdhist"}, {"bb%", ""},
    {"atr14", "atr(14)"},       {"doji", "cdldoji"},         {"hammer", "cdlhammer"},
    {"engulf", "cdlengulfing"},
};

struct SymbolState {
    std::vector<std::unique_ptr<indicators::Indicator>> ind;
    std::unique_ptr<indicators::Indicator> bbands = indicators::make("bbands(20,2,2)");
    Bar last;
    double first_close = 0;
    int news = 0;
    double last_news_score = 0;
};

std::string cell(const indicators::Indicator& x, std::size_t k, int decimals) {
    if (!x.ready()) return "…";
    return fmt::format("{:.{}f}", x.value(k), decimals);
}

void run(const DemoOptions& o) {
    auto cfg = data::default_simulator_config();
    cfg.seed = o.seed;
    cfg.symbols.clear();
    for (auto s : std::views::split(std::string_view(o.symbols), ','))
        if (!std::string_view(s.begin(), s.end()).empty()) cfg.symbols.push_back({std::string(s.begin(), s.end()), 100.0});
    if (cfg.symbols.empty()) throw UsageError("--symbols: give at least one symbol");
    data::MarketSimulator sim(cfg);

    std::map<std::string, SymbolState> state;
    std::vector<indicators::IndicatorRef> refs;
    for (const auto& [label, ref] : kColumns) refs.push_back(indicators::parse(ref.empty() ? "sma(20)" : ref));

    const bool tty = isatty(STDOUT_FILENO);
    for (int t = 0; t < o.bars; ++t) {
        auto step = sim.step();
        for (const auto& n : step.news)
            for (const auto& s : n.symbols) {
                state[s].news++;
                state[s].last_news_score = n.sentiment;
            }
        for (const auto& b : step.bars) {
            auto& st = state[b.symbol];
            if (st.ind.empty())
                for (const auto& r : refs) st.ind.push_back(r.make());
            if (st.first_close == 0) st.first_close = b.close;
            for (auto& x : st.ind) x->update(b);
            st.bbands->update(b);
            st.last = b;
        }
        const bool last = t + 1 == o.bars;
        if (!tty && !last && (t + 1) % 60 != 0) continue;
        std::string out;
        if (tty) out += "\x1b[H\x1b[2J";
        out += fmt::format("pricecast demo — simulated market, bar {}/{} ({})\n\n", t + 1, o.bars,
                           format_iso8601(step.bars.empty() ? 0 : step.bars.front().close_time));
        out += fmt::format("{:<6} {:>10} {:>7}", "symbol", "close", "chg%");
        for (const auto& [label, ref] : kColumns) out += fmt::format(" {:>8}", label);
        out += fmt::format(" {:>5} {:>6}\n", "news", "last");
        for (const auto& [sym, st] : state) {
            out += fmt::format("{:<6} {:>10.4f} {:>7.2f}", sym, st.last.close,
                               100 * (st.last.close / st.first_close - 1));
            for (std::size_t j = 0; j < kColumns.size(); ++j) {
                const auto& x = *st.ind[j];
                std::string v;
                if (kColumns[j].first == "bb%") {
                    const auto& bb = *st.bbands;
                    v = bb.ready() ? fmt::format("{:.2f}", (st.last.close - bb.value(2)) / (bb.value(0) - bb.value(2)))
                                   : "…";
                } else if (refs[j].spec->integer_output) {
                    v = x.ready() ? fmt::format("{:+.0f}", x.value(0)) : "…";
                } else {
                    const auto k = static_cast<std::size_t>(std::max(refs[j].output, 0));
                    v = cell(x, k, kColumns[j].first == "rsi14" ? 1 : 4);
                }
                out += fmt::format(" {:>8}", v);
            }
            out += fmt::format(" {:>5} {:>+6.2f}\n", st.news, st.last_news_score);
        }
        std::cout << out << std::flush;
        if (tty && o.speed > 0) std::this_thread::sleep_for(std::chrono::duration<double>(1.0 / o.speed));
    }
}

}  // namespace

void add_demo_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "demo", "run the embedded demo: a simulated market streamed through the indicators, shown as a live table");
    static DemoOptions o;
    static CommonOptions common;
    cmd->add_option("--symbols", o.symbols, "comma-separated symbols to simulate")->capture_default_str();
    cmd->add_option("--bars", o.bars, "number of 1-minute bars to run")->check(CLI::Range(1, 10'000'000))->capture_default_str();
    cmd->add_option("--speed", o.speed, "bars per second on a terminal (0: as fast as possible)")
        ->check(CLI::Range(0.0, 1e9))->capture_default_str();
    cmd->add_option("--seed", o.seed, "simulator seed")->capture_default_str();
    add_common_options(*cmd, common);
    cmd->callback([] { run(o); });
}

}  // namespace pricecast::cli
