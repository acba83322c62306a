// The message bus between the services: one interface, two transports.
//
//   auto bus = bus::make_in_process_bus();            // embedded default
//   auto bus = bus::make_kafka_bus({.bootstrap = "localhost:9092"});
//   bus->publish(bus::topics::prices, bar.symbol, encode(bar));
//   auto in = bus->subscribe("features", {bus::topics::prices, bus::topics::sentiment});
//   while (auto m = in->poll(100ms)) { handle(*m); in->commit(*m); }
//
// Delivery is at-least-once: a consumer commits a message only after the
// output it caused is published, so a crash replays from the last commit and
// consumers drop duplicates by their own key (symbol, bar time). Messages with
// the same key keep their order (one partition per key).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.hpp"

namespace pricecast::bus {

namespace topics {
inline constexpr const char* prices = "price-data";
inline constexpr const char* news = "news-raw";
inline constexpr const char* sentiment = "sentiment-data";
inline constexpr const char* features = "ml-features";
inline constexpr const char* predictions = "predictions";
}  // namespace topics

class BusError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Message {
    std::string topic;
    std::string key;
    std::string value;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    Timestamp timestamp = 0;  // set by the bus at publish (wall clock, ns)
};

class Consumer {
public:
    virtual ~Consumer() = default;
    // The next message of the subscribed topics, or nullopt after `timeout`.
    virtual std::optional<Message> poll(std::chrono::milliseconds timeout) = 0;
    // Marks `m` and everything before it in its partition as processed: after
    // a restart, the group resumes right after it.
    virtual void commit(const Message& m) = 0;
    // Commits a resume point explicitly: the next message the group reads
    // from (topic, partition) after a restart is `next_offset`. Lets a
    // consumer that keeps a window of past messages commit its window start.
    virtual void commit(const std::string& topic, std::int32_t partition, std::int64_t next_offset) = 0;
};

class Bus {
public:
    virtual ~Bus() = default;
    // Blocks while the transport is full (backpressure); never drops.
    virtual void publish(std::string_view topic, std::string_view key, std::string_view value) = 0;
    // Waits until everything published so far is delivered (or throws BusError).
    virtual void flush(std::chrono::milliseconds timeout) = 0;
    // A member of consumer group `group`; a new group starts at the earliest
    // retained message. Members of one group share the partitions.
    virtual std::unique_ptr<Consumer> subscribe(const std::string& group, const std::vector<std::string>& topics) = 0;
    // Visits every message retained on `topic` when called, oldest first per
    // partition, without joining a group or committing anything: how a
    // restarted service learns what it had already published. Throws
    // BusError when the transport does not answer within `timeout`.
    virtual void read_retained(const std::string& topic, const std::function<void(const Message&)>& visit,
                               std::chrono::milliseconds timeout) = 0;
    // False once the transport is known to be unreachable (for /ready).
    virtual bool connected() const = 0;
};

struct InProcessOptions {
    // Messages retained per topic beyond the slowest group's commit; publish
    // blocks when a topic holds this many uncommitted messages.
    std::size_t capacity = 65536;
};
std::unique_ptr<Bus> make_in_process_bus(InProcessOptions options = {});

struct KafkaOptions {
    std::string bootstrap;                // "host:port[,host:port...]"
    std::string client_id = "pricecast";
    int partitions = 3;                   // when pricecast creates a topic
    int replication = 1;
    // More librdkafka properties for the producer and the consumers (e.g.
    // security.protocol, sasl.*, ssl.*, session.timeout.ms); they win over
    // pricecast's defaults, except the few the delivery guarantees rest on.
    std::vector<std::pair<std::string, std::string>> settings = {};
};
std::unique_ptr<Bus> make_kafka_bus(KafkaOptions options);

// librdkafka's built-in mock cluster on real TCP sockets (tests, trying the
// distributed mode without Kafka). Brokers listen from `port` upward (0: any).
class MockCluster {
public:
    MockCluster(int brokers, int port = 0);
    ~MockCluster();
    MockCluster(const MockCluster&) = delete;
    MockCluster& operator=(const MockCluster&) = delete;
    std::string bootstrap() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pricecast::bus
