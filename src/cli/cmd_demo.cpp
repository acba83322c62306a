// pricecast demo: the whole system on one machine. A simulated market with
// news gives a history; a gradient-boosted model is trained on it walk-forward
// and registered as champion; then every role runs embedded (or over Kafka),
// the history replays fast to warm the features and the market continues
// live, with predictions in the terminal, over REST/WebSocket and on the
// dashboard, until Ctrl-C.
#include <optional>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/label_flags.hpp"
#include "cli/live_system.hpp"
#include "models/xgboost_model.hpp"
#include "registry/registry.hpp"
#include "training/retrain.hpp"
#include "training/trainer.hpp"

namespace pricecast::cli {
namespace {

using namespace std::chrono_literals;

// The least --history accepted: with short [features] timeframes and
// indicators (as in the tests) it leaves rows for the demo's two walk-forward
// folds; longer warm-ups need more, which training reports with the numbers.
constexpr long kMinHistory = 500;

struct DemoOptions {
    SimulatorFlags sim;
    long history = 4000;  // bars per symbol to train on (the 1h indicators need ~2,650 to warm up)
    long steps = -1;      // live bars after the history; -1: until Ctrl-C
    std::string speed = "60x", kafka;
    int port = 8080;
    std::optional<int> ws_port;  // default: serve.ws_port
};

struct History {
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
};

// The first `bars` steps of the simulator: exactly what the live price
// service replays before it goes on, scored by the same scorer.
History simulate(const data::SimulatorConfig& cfg, long bars, const sentiment::SentimentScorer& scorer) {
    data::MarketSimulator sim(cfg);
    History h;
    for (long t = 0; t < bars; ++t) {
        auto s = sim.step();
        h.bars.insert(h.bars.end(), s.bars.begin(), s.bars.end());
        for (auto& n : s.news) {
            n.sentiment = scorer.score(n).score;
            h.news.push_back(std::move(n));
        }
    }
    return h;
}

// What a demo's versions carry at the start of their eval_window, so a later
// demo knows a folder is a demo's (check_demo_folder).
constexpr std::string_view kDemoWindow = "demo";

// Trains GBDT walk-forward on the history, registers the last fold's model
// and makes it champion. Returns the version.
int train_and_register(const History& h, const features::FeatureConfig& fc, const std::string& model_name,
                       const std::string& data_dir, Duration short_window) {
    const auto rows = features::build(fc, h.bars, h.news);
    const auto schema = features::Pipeline(fc).schema();
    const auto m = features::to_matrix(schema, rows);
    models::LabelConfig labels;
    labels.mode = models::ThresholdMode::quantile;
    training::WalkForwardConfig wf;
    wf.folds = 2;
    models::XgboostConfig xc;
    xc.rounds = 150;
    xc.feature_schema_hash = schema.hash();
    const auto t0 = std::chrono::steady_clock::now();
    training::WalkForwardResult r;
    try {
        r = training::walk_forward_train(m, labels, wf, [&] { return std::make_unique<models::XgboostModel>(xc); });
    } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("--history: too few complete feature rows to train on ({}); the indicators' "
                                     "warm-up takes ~2,650 bars with the 1h timeframe, so give about 3,000 bars "
                                     "of history or more, or shorter [features] timeframes",
                                     e.what()));
    }
    std::cout << fmt::format(
        "trained gbdt on {} bars x {} features in {:.1f} s: out-of-sample accuracy {:.3f} (majority {:.3f}, "
        "persistence {:.3f}), macro-F1 {:.3f}\n  out-of-sample classes: {}\n",
        m.rows(), m.columns.size(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), r.model.accuracy,
        r.majority.accuracy, r.persistence.accuracy, r.model.macro_f1, class_balance(r.test_balance));
    registry::Registry reg(data_dir);
    registry::NewVersion meta;
    meta.eval_window = kDemoWindow;
    meta.description = "pricecast demo: GBDT on the simulated history";
    const auto v = training::register_trained(reg, model_name, r, m, short_window, std::move(meta));
    reg.promote(model_name, v.version, std::string(registry::kChampion), {.force = true}, "demo start");
    std::cout << fmt::format("registered {} version {} as champion in {}\n", model_name, v.version, data_dir);
    return v.version;
}

// The demo makes its model champion and restarts the feature state: in a
// folder where `model` has a champion and no version of it came from a demo
// (a real deployment, e.g. through PRICECAST_DATA_DIR), that is a usage error.
void check_demo_folder(const LiveOptions& live) {
    if (!std::filesystem::exists(std::filesystem::path(live.data_dir) / "registry")) return;
    registry::Registry reg(live.data_dir);
    const auto champion = reg.alias_version(live.model, std::string(registry::kChampion));
    if (!champion) return;
    const auto versions = reg.list_versions(live.model);
    const auto from_demo = [](const registry::ModelVersion& v) { return v.eval_window.starts_with(kDemoWindow); };
    if (std::any_of(versions.begin(), versions.end(), from_demo)) return;
    throw UsageError(fmt::format("--data-dir {}: model '{}' has a champion (version {}) that no demo registered; the "
                                 "demo would replace it and restart that folder's feature state. Give the demo a "
                                 "folder of its own with --data-dir",
                                 live.data_dir, live.model, *champion));
}

// What the demo's market plants for a model to find, where neither a flag nor
// the configuration sets it: a lag-2 dependence of returns, which persistence
// cannot see (EVALUATION.md), next to the news, and no random regime switches,
// whose turbulent spells change the class mix between training and test
// (--regime-switch-at forces one, to watch the drift alerts).
constexpr double kDemoAr2 = 0.3, kDemoSwitchProb = 0;

void plant_demo_signal(data::SimulatorConfig& sim, const CLI::App& cmd, CommonOptions& common) {
    auto unset = [&](const char* flag, const char* key) {
        return cmd.get_option(flag)->count() == 0 && common.config().source(key) == "default";
    };
    if (unset("--ar2", "simulator.ar2")) sim.ar2 = kDemoAr2;
    if (unset("--switch-prob", "simulator.switch_prob")) sim.switch_prob = kDemoSwitchProb;
}

std::string describe_market(const data::SimulatorConfig& sim) {
    std::vector<std::string> switches;
    if (sim.switch_prob > 0) switches.push_back(fmt::format("with probability {} per bar", sim.switch_prob));
    if (sim.regime_switch_at >= 0) switches.push_back(fmt::format("to turbulent at bar {}", sim.regime_switch_at));
    return fmt::format("market: news moves the price by {} x its sentiment over {} bars, {} bars after it; returns "
                       "with lag-1 autocorrelation {} and lag-2 {}; regime switches {}",
                       sim.news_impact, sim.news_spread, sim.news_delay, sim.ar1, sim.ar2,
                       switches.empty() ? std::string("none") : fmt::format("{}", fmt::join(switches, " and ")));
}

std::string render(const std::map<std::string, Prediction>& latest, std::uint64_t total, const std::string& url) {
    static const char* kNames[] = {"DOWN", "STABLE", "UP"};
    std::string out = fmt::format("pricecast demo — {} predictions — dashboard {}\n\n", total, url);
    out += fmt::format("{:<8} {:<20} {:>10} {:<7} {:>6} {:>6} {:>6} {:>8} {:>10}\n", "symbol", "bar", "close", "class",
                       "p(dn)", "p(st)", "p(up)", "model", "latency");
    for (const auto& [symbol, p] : latest)
        out += fmt::format("{:<8} {:<20} {:>10.4f} {:<7} {:>6.2f} {:>6.2f} {:>6.2f} {:>8} {:>8.2f}ms\n", symbol,
                           format_iso8601(p.bar_time).substr(0, 19), p.close, kNames[p.cls], p.probs[0], p.probs[1],
                           p.probs[2], fmt::format("v{}", p.version), static_cast<double>(p.latency) * 1e-6);
    return out;
}

void run_demo(const DemoOptions& o, const CLI::App& cmd, CommonOptions& common) {
    auto sim = simulator_config(o.sim, cmd, common);
    plant_demo_signal(sim, cmd, common);
    LiveOptions live = live_options(common);
    live.roles = parse_roles({"all"});
    live.source.speed = parse_speed(o.speed);
    if (!o.kafka.empty()) live.kafka = o.kafka;
    live.port = o.port;
    if (o.ws_port) live.ws_port = *o.ws_port;
    live.features.symbols.clear();
    for (const auto& s : sim.symbols) live.features.symbols.push_back(s.name);
    auto data_sim = sim;
    data_sim.trades = false;
    live.source.simulator = data_sim;
    live.source.fast_steps = o.history;
    live.source.max_steps = o.steps < 0 ? -1 : o.history + o.steps;
    check_demo_folder(live);

    std::cout << describe_market(sim) << "\n"
              << fmt::format("simulating {} bars of {} symbols for training...\n", o.history, sim.symbols.size())
              << std::flush;
    const auto scorer = make_sentiment_scorer(live.sentiment_model, common);
    train_and_register(simulate(data_sim, o.history, *scorer), live.features, live.model, live.data_dir,
                       live.drift.short_window);

    // The demo's market starts over on every run: so do its feature state and
    // the outcomes owed, which the new champion's label rule scores.
    for (const char* f : {"features.bin", "monitor.bin"})
        std::filesystem::remove(std::filesystem::path(live.data_dir) / "snapshots" / f);
    LiveSystem system(live, common);
    std::map<std::string, Prediction> latest;
    std::uint64_t total = 0;
    std::mutex mutex;
    system.predictions().listen([&](const Prediction& p) {
        std::lock_guard lock(mutex);
        latest[p.symbol] = p;
        ++total;
    });
    system.start();
    const std::string url = system.server() ? fmt::format("http://{}:{}/", live.host, system.server()->port()) : "-";
    std::cout << fmt::format("all roles running on {}; dashboard: {}  (Ctrl-C stops)\n",
                             live.kafka.empty() ? std::string("the in-process bus") : "Kafka at " + live.kafka, url)
              << std::flush;
    const bool tty = isatty(STDOUT_FILENO) == 1;
    auto last_print = std::chrono::steady_clock::now();
    wait_for_signal([&] {
        if (std::chrono::steady_clock::now() - last_print >= (tty ? 1s : 5s)) {
            std::lock_guard lock(mutex);
            if (total > 0) std::cout << (tty ? "\x1b[H\x1b[2J" : "") << render(latest, total, url) << std::flush;
            last_print = std::chrono::steady_clock::now();
        }
        return o.steps >= 0 && system.source_done();
    });
    std::cout << "stopping...\n" << std::flush;
    system.stop();
    std::lock_guard lock(mutex);
    std::cout << render(latest, total, url) << std::flush;
}

}  // namespace

void add_demo_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "demo",
        "run the whole system on this machine: simulate a market with news, train a model walk-forward, register it "
        "as champion, then run every role (price, sentiment, features, inference, api) with live predictions in the "
        "terminal and on the dashboard, until Ctrl-C");
    static DemoOptions o;
    static CommonOptions common;
    add_simulator_options(*cmd, o.sim);
    cmd->get_option("--ar2")->description(
        fmt::format("lag-2 autocorrelation planted in returns (default: simulator.ar2 when set, else {})", kDemoAr2));
    cmd->get_option("--switch-prob")
        ->description(fmt::format(
            "probability per bar of a random regime switch (default: simulator.switch_prob when set, else {})",
            kDemoSwitchProb));
    cmd->add_option("--history", o.history,
                    fmt::format("simulated bars per symbol to train on (replayed fast to warm the features): at least "
                                "{}, and enough for the [features] to warm up with rows left to train on; the default "
                                "features' 1h indicators warm up over ~2,650 bars, so they need about 3,000",
                                kMinHistory))
        ->check(CLI::Range(kMinHistory, 10'000'000L))
        ->capture_default_str();
    cmd->add_option("--steps", o.steps, "live bars after the history, then stop (default: until Ctrl-C)")
        ->check(CLI::Range(1L, 1'000'000'000L));
    cmd->add_option("--speed", o.speed, "market time per wall time after the history: 60x (a bar a second), max")
        ->capture_default_str();
    cmd->add_option("--port", o.port, "HTTP + WebSocket port of the API and dashboard (0: any free port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cmd->add_option("--ws-port", o.ws_port, "extra WebSocket-only port, -1 = none (default: serve.ws_port, 8765)")
        ->check(CLI::Range(-1, 65535));
    cmd->add_option("--kafka", o.kafka, "run over Kafka at these bootstrap servers instead of the in-process bus");
    cmd->add_flag("--no-browser")->description(
        "does nothing: the demo never opens a browser; accepted so that older scripts still run");
    add_common_options(*cmd, common);
    cmd->callback([cmd] { run_demo(o, *cmd, common); });
}

}  // namespace pricecast::cli
