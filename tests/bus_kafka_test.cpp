// The Kafka bus over librdkafka's mock cluster, both in this process
// (MockCluster) and in a separate `pricecast kafka-mock` process.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bus/bus.hpp"
#include "support/paths.hpp"

using namespace std::chrono_literals;
using pricecast::bus::Bus;
using pricecast::bus::BusError;
using pricecast::bus::Consumer;
using pricecast::bus::Message;
namespace topics = pricecast::bus::topics;

namespace {

constexpr int kKeys = 12;
constexpr int kPerKey = 30;
constexpr auto kWait = 60s;  // generous: group joins on the mock take seconds; only a failing test waits this long

// `pricecast kafka-mock` as a child process; stdout is read up to its bootstrap line.
class MockProcess {
public:
    explicit MockProcess(std::vector<std::string> args) {
        int out[2];
        if (pipe(out) != 0) throw std::runtime_error("pipe failed");
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], STDOUT_FILENO);
            close(out[0]);
            close(out[1]);
            std::vector<char*> argv{const_cast<char*>("pricecast"), const_cast<char*>("kafka-mock")};
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(pricecast::test::pricecast_binary().c_str(), argv.data());
            _exit(127);
        }
        close(out[1]);
        stdout_ = out[0];
    }

    ~MockProcess() {
        if (pid_ > 0) stop();
        close(stdout_);
    }

    // The line the process printed first ("" if it exited or stayed silent for a minute).
    std::string first_line() {
        std::string line;
        char c = 0;
        pollfd fd{stdout_, POLLIN, 0};
        while (::poll(&fd, 1, 60'000) == 1 && read(stdout_, &c, 1) == 1 && c != '\n') line += c;
        return line;
    }

    // SIGTERM, then the exit status (or -1).
    int stop() {
        kill(pid_, SIGTERM);
        return wait();
    }

    int wait() {
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
    int stdout_ = -1;
};

// The mock delays a rebalance by the session timeout less 1 s: keep it
// short (a real broker wants at least 6 s).
pricecast::bus::KafkaOptions quick_options(const std::string& bootstrap) {
    return {.bootstrap = bootstrap, .settings = {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "500"}}};
}

enum class Where { in_process, separate_process };
void PrintTo(Where where, std::ostream* out) { *out << (where == Where::in_process ? "in-process" : "separate process"); }

class KafkaBus : public ::testing::TestWithParam<Where> {
protected:
    void SetUp() override {
        if (GetParam() == Where::in_process) {
            cluster_ = std::make_unique<pricecast::bus::MockCluster>(3);
            bootstrap_ = cluster_->bootstrap();
        } else {
            process_ = std::make_unique<MockProcess>(std::vector<std::string>{"--brokers", "3"});
            const auto line = process_->first_line();
            ASSERT_EQ(line.rfind("bootstrap: ", 0), 0u) << "kafka-mock printed: " << line;
            bootstrap_ = line.substr(std::string("bootstrap: ").size());
        }
        bus_ = pricecast::bus::make_kafka_bus(quick_options(bootstrap_));
    }

    void stop_cluster() {
        if (cluster_) cluster_.reset();
        if (process_) {
            EXPECT_EQ(process_->stop(), 0);
        }
    }

    // kKeys symbols, kPerKey messages each, published round-robin: "SYMk:i".
    void publish_keyed() {
        for (int i = 0; i < kPerKey; ++i)
            for (int k = 0; k < kKeys; ++k) bus_->publish(topics::prices, fmt::format("SYM{}", k), fmt::format("SYM{}:{}", k, i));
        bus_->flush(30s);
    }

    static std::vector<Message> read_n(Consumer& consumer, std::size_t n) {
        std::vector<Message> out;
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        while (out.size() < n && std::chrono::steady_clock::now() < deadline)
            if (auto m = consumer.poll(500ms)) out.push_back(*m);
        return out;
    }

    static int index_of(const Message& m) { return std::stoi(m.value.substr(m.value.find(':') + 1)); }

    std::unique_ptr<pricecast::bus::MockCluster> cluster_;
    std::unique_ptr<MockProcess> process_;
    std::string bootstrap_;
    std::unique_ptr<Bus> bus_;
};

TEST_P(KafkaBus, TwoGroupsEachSeeEveryMessageInKeyOrderAcrossThreePartitions) {
    publish_keyed();
    // Both join at once: the mock holds every first join of a group for 3 s.
    std::map<std::string, std::unique_ptr<Consumer>> groups;
    for (const char* group : {"a", "b"}) groups[group] = bus_->subscribe(group, {topics::prices});
    for (const auto& [group, consumer] : groups) {
        const auto got = read_n(*consumer, kKeys * kPerKey);
        ASSERT_EQ(got.size(), std::size_t{kKeys * kPerKey}) << "group " << group;
        std::map<std::string, int> next_index;
        std::map<std::string, std::set<int>> partitions_of_key;
        std::set<int> partitions;
        for (const auto& m : got) {
            EXPECT_EQ(m.topic, topics::prices);
            EXPECT_EQ(m.value.substr(0, m.value.find(':')), m.key);
            EXPECT_EQ(index_of(m), next_index[m.key]++) << "out of order: " << m.value;
            EXPECT_GT(m.timestamp, 0);
            partitions_of_key[m.key].insert(m.partition);
            partitions.insert(m.partition);
        }
        for (const auto& [key, ps] : partitions_of_key) EXPECT_EQ(ps.size(), 1u) << key << " spread over partitions";
        EXPECT_EQ(partitions, (std::set<int>{0, 1, 2}));
    }
}

TEST_P(KafkaBus, NewMemberResumesRightAfterTheCommitAndGetsUncommittedAgain) {
    publish_keyed();
    {
        auto consumer = bus_->subscribe("g", {topics::prices});
        const auto got = read_n(*consumer, kKeys * kPerKey);
        ASSERT_EQ(got.size(), std::size_t{kKeys * kPerKey});
        // Messages were published index by index, so in every partition all of
        // index <= 14 come before index 15: committing the last index-14
        // message of each partition leaves 15..29 of every key uncommitted.
        for (const auto& m : got)
            if (index_of(m) == kPerKey / 2 - 1) consumer->commit(m);
    }
    auto restarted = bus_->subscribe("g", {topics::prices});
    const auto again = read_n(*restarted, kKeys * kPerKey / 2);
    ASSERT_EQ(again.size(), std::size_t{kKeys * kPerKey / 2});
    std::map<std::string, int> next_index;
    for (const auto& m : again) {
        auto [it, first] = next_index.try_emplace(m.key, kPerKey / 2);
        EXPECT_EQ(index_of(m), it->second++) << m.value;
    }
    EXPECT_EQ(next_index.size(), std::size_t{kKeys});
    EXPECT_FALSE(restarted->poll(1s)) << "a committed message came back";
}

TEST_P(KafkaBus, ExplicitOffsetCommitSetsTheResumePoint) {
    publish_keyed();
    std::map<int, std::int64_t> end_of;
    {
        auto consumer = bus_->subscribe("g", {topics::prices});
        for (const auto& m : read_n(*consumer, kKeys * kPerKey)) end_of[m.partition] = m.offset + 1;
        for (const auto& [partition, end] : end_of) consumer->commit(topics::prices, partition, end - 2);
    }
    auto restarted = bus_->subscribe("g", {topics::prices});
    const auto again = read_n(*restarted, 2 * end_of.size());
    ASSERT_EQ(again.size(), 2 * end_of.size());
    for (const auto& m : again) EXPECT_GE(m.offset, end_of[m.partition] - 2);
}

TEST_P(KafkaBus, ReadRetainedVisitsEveryMessageWithoutAGroup) {
    publish_keyed();
    std::map<std::string, int> next_index;
    std::size_t n = 0;
    bus_->read_retained(topics::prices, [&](const Message& m) {
        EXPECT_EQ(index_of(m), next_index[m.key]++) << "out of order: " << m.value;
        ++n;
    }, 30s);
    EXPECT_EQ(n, std::size_t{kKeys * kPerKey});
    std::size_t empty = 0;
    bus_->read_retained("nothing-yet", [&](const Message&) { ++empty; }, 30s);
    EXPECT_EQ(empty, 0u);
    // Nothing was committed: a group still starts at the first message.
    auto consumer = bus_->subscribe("after-reader", {topics::prices});
    const auto got = read_n(*consumer, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(index_of(got[0]), 0);
}

TEST_P(KafkaBus, NotConnectedOnceTheBrokersAreGone) {
    bus_->publish(topics::prices, "SYM0", "SYM0:0");
    bus_->flush(30s);
    EXPECT_TRUE(bus_->connected());
    stop_cluster();
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (bus_->connected() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(bus_->connected());
}

INSTANTIATE_TEST_SUITE_P(MockCluster, KafkaBus, ::testing::Values(Where::in_process, Where::separate_process),
                         [](const auto& info) {
                             return info.param == Where::in_process ? "InProcess" : "SeparateProcess";
                         });

// A consumer process that reads 20 of one key's messages, commits after the
// 10th, says so on `ready` and waits to be killed.
void consume_then_wait_for_kill(const std::string& bootstrap, int ready) {
    try {
        auto bus = pricecast::bus::make_kafka_bus(quick_options(bootstrap));
        auto consumer = bus->subscribe("killed", {topics::prices});
        for (int read = 0; read < 20;) {
            auto m = consumer->poll(kWait);
            if (!m) _exit(3);
            if (++read == 10) consumer->commit(*m);
        }
        if (write(ready, "r", 1) != 1) _exit(4);
        pause();
    } catch (const std::exception&) {
        _exit(5);
    }
    _exit(6);
}

TEST(KafkaBusKill, AConsumerKilledMidStreamIsResumedFromItsCommitWithNothingLost) {
    MockProcess cluster({"--brokers", "3"});
    const auto line = cluster.first_line();
    ASSERT_EQ(line.rfind("bootstrap: ", 0), 0u) << line;
    const auto bootstrap = line.substr(std::string("bootstrap: ").size());
    // Forked before this process starts any librdkafka thread.
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        consume_then_wait_for_kill(bootstrap, ready[1]);
    }
    close(ready[1]);
    auto bus = pricecast::bus::make_kafka_bus(quick_options(bootstrap));
    for (int i = 0; i < 30; ++i) bus->publish(topics::prices, "SYM", fmt::format("SYM:{}", i));
    bus->flush(30s);
    char c = 0;
    pollfd fd{ready[0], POLLIN, 0};
    ASSERT_EQ(::poll(&fd, 1, 120'000), 1) << "the consumer process never got its messages";
    ASSERT_EQ(read(ready[0], &c, 1), 1) << "the consumer process failed";
    close(ready[0]);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);

    auto restarted = bus->subscribe("killed", {topics::prices});
    std::vector<int> indexes;
    const auto deadline = std::chrono::steady_clock::now() + 2 * kWait;
    while (indexes.size() < 20 && std::chrono::steady_clock::now() < deadline)
        if (auto m = restarted->poll(500ms)) indexes.push_back(std::stoi(m->value.substr(4)));
    std::vector<int> expected(20);
    for (int i = 0; i < 20; ++i) expected[i] = 10 + i;
    EXPECT_EQ(indexes, expected) << "read 10..19 were not committed: they come again, then the rest";
}

TEST(KafkaBusErrors, BadOptionsAreClearErrors) {
    EXPECT_THROW(pricecast::bus::make_kafka_bus({.bootstrap = ""}), BusError);
    EXPECT_THROW(pricecast::bus::make_kafka_bus({.bootstrap = "localhost:1", .partitions = 0}), BusError);
    EXPECT_THROW(pricecast::bus::make_kafka_bus({.bootstrap = "localhost:1", .settings = {{"enable.auto.commit", "true"}}}),
                 BusError);
    try {
        pricecast::bus::make_kafka_bus({.bootstrap = "localhost:1", .settings = {{"no.such.property", "1"}}});
        FAIL() << "an unknown librdkafka property was accepted";
    } catch (const BusError& e) {
        EXPECT_NE(std::string(e.what()).find("no.such.property"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pricecast::bus::MockCluster(0), BusError);
    try {
        pricecast::bus::MockCluster cluster(3, 19092);
        FAIL() << "a fixed port was accepted";
    } catch (const BusError& e) {
        EXPECT_NE(std::string(e.what()).find("port 19092"), std::string::npos) << e.what();
    }
}

TEST(KafkaBusErrors, UnreachableBrokersAreABusErrorNotAHang) {
    auto bus = pricecast::bus::make_kafka_bus({.bootstrap = "127.0.0.1:1"});
    try {
        bus->publish(topics::prices, "k", "v");
        FAIL() << "publish to an unreachable cluster succeeded";
    } catch (const BusError& e) {
        EXPECT_NE(std::string(e.what()).find("price-data"), std::string::npos) << e.what();
    }
}

TEST(KafkaMockCommand, AFixedPortIsAUsageError) {
    MockProcess process({"--port", "19092"});
    EXPECT_EQ(process.first_line(), "");
    EXPECT_EQ(process.wait(), 2);
}

}  // namespace
