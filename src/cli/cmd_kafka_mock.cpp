// pricecast kafka-mock: librdkafka's mock Kafka cluster as a process, so the
// services can run distributed (and be tested that way) without a Kafka install.
#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>

#include "bus/bus.hpp"
#include "cli/commands.hpp"

namespace pricecast::cli {
namespace {

struct KafkaMockFlags {
    int brokers = 3;
    int port = 0;
};

// SIGINT and SIGTERM are blocked before the brokers start, so every thread
// librdkafka creates inherits the mask and the signal waits for sigwait here.
sigset_t block_stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

void run(const KafkaMockFlags& flags) {
    const sigset_t signals = block_stop_signals();
    std::unique_ptr<bus::MockCluster> cluster;
    try {
        cluster = std::make_unique<bus::MockCluster>(flags.brokers, flags.port);
    } catch (const bus::BusError& e) {
        throw UsageError(e.what());
    }
    std::cout << "bootstrap: " << cluster->bootstrap() << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("kafka-mock: {}, stopping", received == SIGINT ? "SIGINT" : "SIGTERM");
}

}  // namespace

void add_kafka_mock_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "kafka-mock",
        "run librdkafka's built-in mock Kafka cluster on local TCP ports, for tests and for trying the distributed "
        "mode without installing Kafka: prints `bootstrap: host:port,...` (pass it as --kafka / bootstrap) and runs "
        "until SIGINT or SIGTERM. Its topics live in memory and vanish when it stops; point at a real cluster "
        "instead for anything lasting");
    static CommonOptions common;
    static KafkaMockFlags flags;
    cmd->add_option("--brokers", flags.brokers, "number of mock brokers")->check(CLI::Range(1, 16))->capture_default_str();
    cmd->add_option("--port", flags.port,
                    "first listening port; librdkafka 2.0.2 lets the kernel pick the mock's ports, so only 0 (any) "
                    "is accepted")
        ->capture_default_str();
    add_common_options(*cmd, common);
    cmd->callback([] { run(flags); });
}

}  // namespace pricecast::cli
