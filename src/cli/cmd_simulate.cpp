// pricecast simulate: write a simulated market (bars, trades, news) to a folder.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <ranges>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/progress.hpp"
#include "data/news.hpp"
#include "data/ohlcv.hpp"
#include "data/simulator.hpp"

namespace pricecast::cli {
namespace {

struct SimulateOptions {
    std::string symbols = "ACME,BOLT";
    long bars = 1440;
    std::uint64_t seed = 42;
    std::string interval = "1m";
    std::string start = "2024-01-02T00:00:00Z";
    double news_impact = 0.002, news_rate = 0.02, ar1 = 0, ar2 = 0;
    int news_delay = 2;
    long regime_switch_at = -1;
    bool no_trades = false;
    std::string out = "sim";
};

data::SimulatorConfig config_from(const SimulateOptions& o) {
    auto cfg = data::default_simulator_config();
    cfg.seed = o.seed;
    cfg.symbols.clear();
    for (auto part : std::views::split(std::string_view(o.symbols), ',')) {
        std::string name(part.begin(), part.end());
        if (name.empty()) throw UsageError("--symbols: empty symbol name in '" + o.symbols + "'");
        cfg.symbols.push_back({name, 100.0});
    }
    auto iv = parse_duration(o.interval);
    if (!iv) throw UsageError("--interval: not a duration: '" + o.interval + "' (use 1m, 5m, 1h, ...)");
    cfg.interval = *iv;
    auto start = parse_iso8601(o.start);
    if (!start) throw UsageError("--start: not an ISO-8601 time: '" + o.start + "'");
    cfg.start = *start;
    cfg.news_impact = o.news_impact;
    cfg.news_rate = o.news_rate;
    cfg.news_delay = o.news_delay;
    cfg.ar1 = o.ar1;
    cfg.ar2 = o.ar2;
    cfg.regime_switch_at = static_cast<int>(o.regime_switch_at);
    cfg.trades = !o.no_trades;
    return cfg;
}

// [simulator] keys of the configuration fill in every flag not given.
void apply_config(SimulateOptions& o, const CLI::App& cmd, CommonOptions& common) {
    const Config& c = common.config();
    auto unset = [&](const char* flag) { return cmd.get_option(flag)->count() == 0; };
    auto in_range = [](const char* key, double v, double lo, double hi) {
        if (v < lo || v > hi) throw UsageError(fmt::format("{}: {} is outside [{}, {}]", key, v, lo, hi));
        return v;
    };
    if (unset("--symbols")) o.symbols = fmt::format("{}", fmt::join(c.strings("simulator.symbols"), ","));
    if (unset("--bars")) o.bars = static_cast<long>(in_range("simulator.bars", static_cast<double>(c.integer("simulator.bars")), 1, 1e9));
    if (unset("--seed")) o.seed = static_cast<std::uint64_t>(c.integer("simulator.seed"));
    if (unset("--interval")) o.interval = c.string("simulator.interval");
    if (unset("--start")) o.start = c.string("simulator.start");
    if (unset("--news-impact")) o.news_impact = c.real("simulator.news_impact");
    if (unset("--news-rate")) o.news_rate = in_range("simulator.news_rate", c.real("simulator.news_rate"), 0, 10);
    if (unset("--news-delay"))
        o.news_delay = static_cast<int>(in_range("simulator.news_delay", static_cast<double>(c.integer("simulator.news_delay")), 0, 60));
    if (unset("--ar1")) o.ar1 = in_range("simulator.ar1", c.real("simulator.ar1"), -0.95, 0.95);
    if (unset("--ar2")) o.ar2 = in_range("simulator.ar2", c.real("simulator.ar2"), -0.95, 0.95);
}

void run(const SimulateOptions& o) {
    data::MarketSimulator sim(config_from(o));
    std::filesystem::create_directories(o.out);
    std::map<std::string, std::ofstream> bar_files;
    for (const auto& s : sim.config().symbols) {
        auto& f = bar_files[s.name];
        f.open(std::filesystem::path(o.out) / (s.name + ".csv"));
        if (!f) throw std::runtime_error("cannot write to " + o.out);
        data::write_bars_csv(f, {});
    }
    std::ofstream trades(std::filesystem::path(o.out) / "trades.csv"), news(std::filesystem::path(o.out) / "news.jsonl");
    trades << "time,symbol,price,amount,side\n";
    struct Summary { double first = 0, last = 0, sum_r2 = 0; long n = 0, news = 0; };
    std::map<std::string, Summary> sum;
    spdlog::info("simulate: {} symbols x {} bars of {}, seed {}, into {}", sim.config().symbols.size(), o.bars,
                 o.interval, o.seed, o.out);
    const auto started = std::chrono::steady_clock::now();
    Progress progress("simulate", static_cast<std::uint64_t>(o.bars), "bars");
    for (long t = 0; t < o.bars; ++t) {
        auto step = sim.step();
        for (const auto& b : step.bars) {
            std::ostringstream tmp;
            data::write_bars_csv(tmp, std::span(&b, 1));
            auto text = tmp.str();
            bar_files[b.symbol] << text.substr(text.find('\n') + 1);
            auto& s = sum[b.symbol];
            if (s.n++ == 0) s.first = b.open;
            s.sum_r2 += std::pow(std::log(b.close / b.open), 2);
            s.last = b.close;
        }
        for (const auto& tr : step.trades)
            trades << fmt::format("{},{},{},{},{}\n", format_iso8601(tr.time), tr.symbol, tr.price, tr.amount,
                                  tr.side == Side::buy ? "buy" : "sell");
        data::write_news_jsonl(news, step.news);
        for (const auto& n : step.news)
            for (const auto& s : n.symbols) sum[s].news++;
        progress.update(static_cast<std::uint64_t>(t + 1));
    }
    progress.finish();
    for (const auto& [name, s] : sum)
        std::cout << fmt::format("{:<8} {} bars  return {:+.2f}%  vol/bar {:.4f}%  news {}\n", name, s.n,
                                 100 * (s.last / s.first - 1), 100 * std::sqrt(s.sum_r2 / std::max(1L, s.n)), s.news);
    std::cout << "wrote " << o.out << "/<symbol>.csv, trades.csv, news.jsonl\n";
    spdlog::info("simulate: wrote {} in {:.2f} s", o.out,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace

void add_simulate_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "simulate",
        "simulate a market: seeded, deterministic; regime-switching volatility, intraday volume profile, trades, "
        "and news whose sentiment moves the price (--news-impact 0 and no --ar1/--ar2: a pure random walk)");
    static SimulateOptions o;
    static CommonOptions common;
    cmd->add_option("--symbols", o.symbols, "comma-separated symbols")->capture_default_str();
    cmd->add_option("--bars", o.bars, "bars per symbol")->check(CLI::Range(1L, 1'000'000'000L))->capture_default_str();
    cmd->add_option("--seed", o.seed, "random seed: the same seed gives the same market")->capture_default_str();
    cmd->add_option("--interval", o.interval, "bar interval (30s, 1m, 5m, 1h, ...)")->capture_default_str();
    cmd->add_option("--start", o.start, "event time of the first bar (ISO-8601)")->capture_default_str();
    cmd->add_option("--news-impact", o.news_impact, "log return per unit of news sentiment")->capture_default_str();
    cmd->add_option("--news-rate", o.news_rate, "expected news items per symbol per bar")
        ->check(CLI::Range(0.0, 10.0))->capture_default_str();
    cmd->add_option("--news-delay", o.news_delay, "bars between a news item and the start of its price move")
        ->check(CLI::Range(0, 60))->capture_default_str();
    cmd->add_option("--ar1", o.ar1, "lag-1 autocorrelation planted in returns")->check(CLI::Range(-0.95, 0.95));
    cmd->add_option("--ar2", o.ar2, "lag-2 autocorrelation planted in returns")->check(CLI::Range(-0.95, 0.95));
    cmd->add_option("--regime-switch-at", o.regime_switch_at, "force a switch to the turbulent regime at this bar");
    cmd->add_flag("--no-trades", o.no_trades, "do not generate trades (faster)");
    cmd->add_option("--out", o.out, "output folder")->capture_default_str();
    add_common_options(*cmd, common);
    cmd->callback([cmd] {
        apply_config(o, *cmd, common);
        run(o);
    });
}

}  // namespace pricecast::cli
