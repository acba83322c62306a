// pricecast serve: the live system, any set of roles in one process. `all`
// on the in-process bus is the embedded mode; one role per process with
// --kafka is the distributed one.
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/live_system.hpp"

namespace pricecast::cli {
namespace {

struct ServeFlags {
    std::vector<std::string> roles = {"all"};
    std::string kafka, model, host, speed;
    int port = 0, ws_port = 0, metrics_port = -1;
    std::vector<std::string> prices;
    std::string news, feed;
    long steps = -1;
    SimulatorFlags sim;
    CLI::Option *kafka_flag = nullptr, *model_flag = nullptr, *host_flag = nullptr, *speed_flag = nullptr,
                *port_flag = nullptr, *ws_port_flag = nullptr, *metrics_port_flag = nullptr;
};

// The api port already answers /health, /ready and /metrics; a second port
// for them asked for on the command line is a mistake to say, not to ignore.
void check_metrics_flag(const ServeFlags& f, const std::set<std::string>& roles) {
    if (f.metrics_port_flag->count() > 0 && f.metrics_port >= 0 && roles.contains("api"))
        throw UsageError("--metrics-port: not with the api role (--role api or all), whose --port already serves "
                         "/health, /ready and /metrics");
}

// Where the process answers, for the operator and for tests reading the port.
std::string listening(LiveSystem& live, const std::string& host) {
    if (live.server()) return fmt::format("; http://{}:{}/", host, live.server()->port());
    if (live.ops_server())
        return fmt::format("; /health, /ready and /metrics on http://{}:{}/", host, live.ops_server()->port());
    return {};
}

void serve(const ServeFlags& f, const CLI::App& cmd, CommonOptions& common) {
    LiveOptions o = live_options(common);
    o.roles = parse_roles(f.roles);
    check_metrics_flag(f, o.roles);
    o.kafka = flag_or_config(f.kafka_flag, f.kafka, [&] { return o.kafka; });
    o.model = flag_or_config(f.model_flag, f.model, [&] { return o.model; });
    o.host = flag_or_config(f.host_flag, f.host, [&] { return o.host; });
    o.port = flag_or_config(f.port_flag, f.port, [&] { return o.port; });
    o.ws_port = flag_or_config(f.ws_port_flag, f.ws_port, [&] { return o.ws_port; });
    o.metrics_port = flag_or_config(f.metrics_port_flag, f.metrics_port, [&] { return o.metrics_port; });
    if (f.speed_flag->count() > 0) o.source.speed = parse_speed(f.speed);
    if (!f.feed.empty()) o.feed = feed_options(common.config(), f.feed);
    if (o.roles.contains("price") && !o.feed) {
        for (const auto& p : f.prices) o.source.price_files.emplace_back(p);
        o.source.news_file = f.news;
        if (o.source.price_files.empty()) {
            o.source.simulator = simulator_config(f.sim, cmd, common);
            o.source.simulator->trades = false;  // the price service publishes bars only
        }
        o.source.max_steps = f.steps;
    }
    LiveSystem live(o, common);
    live.start();
    std::cerr << fmt::format("serving roles {} on {}", fmt::join(o.roles, ","),
                             o.kafka.empty() ? std::string("the in-process bus") : "Kafka at " + o.kafka);
    std::cerr << listening(live, o.host);
    std::cerr << "\n(Ctrl-C stops)\n" << std::flush;
    // A finite replay ends the process once it is through; a simulator runs until stopped.
    const bool finite = o.roles.contains("price") && !o.feed && (!o.source.price_files.empty() || f.steps >= 0);
    wait_for_signal([&] { return finite && live.source_done(); });
    std::cerr << "stopping: draining, committing, snapshotting\n";
    live.stop();
}

}  // namespace

void add_serve_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "serve",
        "run the live system: price, sentiment, features, inference, monitor and api roles, in one process on the in-process "
        "bus (--role all, the default) or one role per process over Kafka (--kafka). Settings: [serve] in --config");
    static ServeFlags f;
    static CommonOptions common;
    cmd->add_option("--role", f.roles, "roles to run, comma-separated: price, sentiment, features, inference, monitor, api, all")
        ->delimiter(',')
        ->capture_default_str();
    f.kafka_flag = cmd->add_option("--kafka", f.kafka, "Kafka bootstrap servers host:port,... (serve.kafka)");
    f.model_flag = cmd->add_option("--model", f.model, "registered model to serve (serve.model)");
    f.host_flag = cmd->add_option("--host", f.host, "address to listen on (serve.host)");
    f.port_flag = cmd->add_option("--port", f.port, "HTTP + WebSocket port, 0 = any free port (serve.port)")
                      ->check(CLI::Range(0, 65535));
    f.ws_port_flag = cmd->add_option("--ws-port", f.ws_port, "extra WebSocket port, -1 = none (serve.ws_port)")
                         ->check(CLI::Range(-1, 65535));
    f.metrics_port_flag =
        cmd->add_option("--metrics-port", f.metrics_port,
                        "port answering only /health, /ready and /metrics, for a process without the api role (the "
                        "api's --port serves them); -1 = none, 0 = any free port (serve.metrics_port)")
            ->check(config_range("serve.metrics_port"));
    f.speed_flag = cmd->add_option("--speed", f.speed, "price replay speed: 60x, 1x, max (serve.speed)");
    cmd->add_option("--prices", f.prices, "price files to replay (CSV or JSON OHLCV); none = the simulator");
    cmd->add_option("--news", f.news, "news file (JSONL or CSV) replayed with the prices");
    cmd->add_option("--feed", f.feed,
                    "exchange WebSocket kline feed ws://host:port/path or wss:// (TLS) for the price role "
                    "(serve.feed_url; fields, subscribe messages, CA file: serve.feed_*)");
    cmd->add_option("--steps", f.steps, "simulator bars per symbol, then stop (default: until Ctrl-C)")
        ->check(CLI::Range(1L, 1'000'000'000L));
    add_simulator_options(*cmd, f.sim);
    add_common_options(*cmd, common);
    cmd->callback([cmd] { serve(f, *cmd, common); });
}

}  // namespace pricecast::cli
