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

void add_simulator_options(CLI::App& cmd, SimulatorFlags& f) {
    cmd.add_option("--symbols", f.symbols, "comma-separated symbols (default: simulator.symbols)");
    cmd.add_option("--seed", f.seed, "random seed: the same seed gives the same market (default: simulator.seed)");
    cmd.add_option("--interval", f.interval, "bar interval: 30s, 1m, 5m, 1h, ... (default: simulator.interval)");
    cmd.add_option("--start", f.start, "event time of the first bar, ISO-8601 (default: simulator.start)");
    cmd.add_option("--news-impact", f.news_impact, "log return per unit of news sentiment (default: simulator.news_impact)");
    cmd.add_option("--news-rate", f.news_rate, "expected news items per symbol per bar (default: simulator.news_rate)")
        ->check(config_range("simulator.news_rate"));
    cmd.add_option("--news-delay", f.news_delay,
                   "bars between a news item and the start of its price move (default: simulator.news_delay)")
        ->check(config_range("simulator.news_delay"));
    cmd.add_option("--ar1", f.ar1, "lag-1 autocorrelation planted in returns (default: simulator.ar1)")
        ->check(config_range("simulator.ar1"));
    cmd.add_option("--ar2", f.ar2, "lag-2 autocorrelation planted in returns (default: simulator.ar2)")
        ->check(config_range("simulator.ar2"));
    cmd.add_option("--switch-prob", f.switch_prob,
                   "probability per bar of a random regime switch (default: simulator.switch_prob)")
        ->check(config_range("simulator.switch_prob"));
    cmd.add_option("--regime-switch-at", f.regime_switch_at, "force a switch to the turbulent regime at this bar");
}

namespace {

// [simulator] keys of the configuration fill in every flag not given (their
// rules were checked when the configuration was loaded).
void apply_config(SimulatorFlags& f, const CLI::App& cmd, CommonOptions& common) {
    const Config& c = common.config();
    auto unset = [&](const char* flag) { return cmd.get_option(flag)->count() == 0; };
    if (unset("--symbols")) f.symbols = fmt::format("{}", fmt::join(c.strings("simulator.symbols"), ","));
    if (unset("--seed")) f.seed = static_cast<std::uint64_t>(c.integer("simulator.seed"));
    if (unset("--interval")) f.interval = c.string("simulator.interval");
    if (unset("--start")) f.start = c.string("simulator.start");
    if (unset("--news-impact")) f.news_impact = c.real("simulator.news_impact");
    if (unset("--news-rate")) f.news_rate = c.real("simulator.news_rate");
    if (unset("--news-delay")) f.news_delay = static_cast<int>(c.integer("simulator.news_delay"));
    if (unset("--ar1")) f.ar1 = c.real("simulator.ar1");
    if (unset("--ar2")) f.ar2 = c.real("simulator.ar2");
    if (unset("--switch-prob")) f.switch_prob = c.real("simulator.switch_prob");
}

}  // namespace

data::SimulatorConfig simulator_config(SimulatorFlags f, const CLI::App& cmd, CommonOptions& common) {
    apply_config(f, cmd, common);
    auto cfg = data::default_simulator_config();
    cfg.seed = f.seed;
    cfg.symbols.clear();
    for (auto part : std::views::split(std::string_view(f.symbols), ',')) {
        std::string name(part.begin(), part.end());
        if (name.empty()) throw UsageError("--symbols: empty symbol name in '" + f.symbols + "'");
        cfg.symbols.push_back({name, 100.0});
    }
    auto iv = parse_duration(f.interval);
    if (!iv) throw UsageError("--interval: not a duration: '" + f.interval + "' (use 1m, 5m, 1h, ...)");
    cfg.interval = *iv;
    auto start = parse_iso8601(f.start);
    if (!start) throw UsageError("--start: not an ISO-8601 time: '" + f.start + "'");
    cfg.start = *start;
    cfg.news_impact = f.news_impact;
    cfg.news_rate = f.news_rate;
    cfg.news_delay = f.news_delay;
    cfg.ar1 = f.ar1;
    cfg.ar2 = f.ar2;
    cfg.switch_prob = f.switch_prob;
    cfg.regime_switch_at = static_cast<int>(f.regime_switch_at);
    return cfg;
}

namespace {

struct SimulateOptions {
    SimulatorFlags sim;
    long bars = 1440;
    bool no_trades = false;
    std::string out = "sim";
};

void run(const SimulateOptions& o, data::SimulatorConfig cfg) {
    cfg.trades = !o.no_trades;
    data::MarketSimulator sim(std::move(cfg));
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
                 format_duration(sim.config().interval), sim.config().seed, o.out);
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
    std::string files;
    for (const auto& [name, f] : bar_files) files += name + ".csv, ";
    std::cout << fmt::format("wrote {}trades.csv and news.jsonl in {}\n", files, o.out);
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
    add_simulator_options(*cmd, o.sim);
    cmd->add_option("--bars", o.bars, "bars per symbol (default: simulator.bars)")->check(config_range("simulator.bars"));
    cmd->add_flag("--no-trades", o.no_trades, "do not generate trades (faster)");
    cmd->add_option("--out", o.out, "output folder")->capture_default_str();
    add_common_options(*cmd, common);
    cmd->callback([cmd] {
        if (cmd->get_option("--bars")->count() == 0) o.bars = static_cast<long>(common.config().integer("simulator.bars"));
        run(o, simulator_config(o.sim, *cmd, common));
    });
}

}  // namespace pricecast::cli
