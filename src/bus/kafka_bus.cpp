// The distributed transport over librdkafka's C++ API (topic creation goes
// through the C admin API, which the C++ API lacks).
//
// Delivery guarantees come from the configuration: an idempotent producer
// (no duplicates or reordering from its own retries), keys hashed with
// murmur2 so a symbol (even the empty key) always lands on one partition, and
// consumers that never auto-commit: a Consumer::commit is a synchronous
// offset commit the caller makes after its own output was flushed.
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "bus/bus.hpp"

namespace pricecast::bus {
namespace {

using namespace std::chrono_literals;

// Carries the publish time in ns; Kafka's own timestamp has ms resolution,
// too coarse for the pipeline's latency figures.
constexpr const char* kPublishedHeader = "pricecast-published-ns";
constexpr int kMetadataTimeoutMs = 5000;

Timestamp wall_clock_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What librdkafka's callbacks report, shared by the producer and every
// consumer of one bus; callbacks run on librdkafka threads and never throw.
class Health final : public RdKafka::EventCb, public RdKafka::DeliveryReportCb {
public:
    void event_cb(RdKafka::Event& event) override {
        switch (event.type()) {
        case RdKafka::Event::EVENT_ERROR:
            error(event);
            break;
        case RdKafka::Event::EVENT_LOG:
            log(event);
            break;
        default:
            break;
        }
    }

    void dr_cb(RdKafka::Message& message) override {
        if (message.err() == RdKafka::ERR_NO_ERROR) {
            all_down_ = false;
            return;
        }
        std::lock_guard lock(mutex_);
        ++failed_deliveries_;
        if (first_delivery_error_.empty())
            first_delivery_error_ = fmt::format("{}: {}", message.topic_name(), message.errstr());
    }

    bool all_down() const { return all_down_; }
    void set_reachable() { all_down_ = false; }

    std::string fatal_error() const {
        std::lock_guard lock(mutex_);
        return fatal_;
    }

    // The delivery failures since the last call, as one message ("" if none).
    std::string take_delivery_errors() {
        std::lock_guard lock(mutex_);
        if (failed_deliveries_ == 0) return {};
        auto text = fmt::format("{} message(s) not delivered, first: {}", failed_deliveries_, first_delivery_error_);
        failed_deliveries_ = 0;
        first_delivery_error_.clear();
        return text;
    }

private:
    // Most errors are transient (librdkafka retries and reconnects by itself)
    // and already reported through its log; only the state changes are news.
    void error(const RdKafka::Event& event) {
        if (event.fatal()) {
            std::lock_guard lock(mutex_);
            if (fatal_.empty()) fatal_ = RdKafka::err2str(event.err()) + ": " + event.str();
            spdlog::error("kafka: fatal: {}", fatal_);
        } else if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) {
            if (!all_down_.exchange(true)) spdlog::warn("kafka: {}", event.str());
        } else {
            spdlog::debug("kafka: {}: {}", RdKafka::err2str(event.err()), event.str());
        }
    }

    // A broker that cannot be reached is logged on every retry: a warning, not an error of ours.
    static void log(const RdKafka::Event& event) {
        const auto level = event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING ? spdlog::level::warn
                                                                                       : spdlog::level::debug;
        spdlog::log(level, "kafka {}: {}", event.fac(), event.str());
    }

    std::atomic<bool> all_down_ = false;
    mutable std::mutex mutex_;
    std::string fatal_;
    std::string first_delivery_error_;
    long failed_deliveries_ = 0;
};

using Settings = std::vector<std::pair<std::string, std::string>>;

std::unique_ptr<RdKafka::Conf> make_conf(const Settings& settings, Health& health) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string error;
    for (const auto& [key, value] : settings)
        if (conf->set(key, value, error) != RdKafka::Conf::CONF_OK)
            throw BusError(fmt::format("kafka setting {}={}: {}", key, value, error));
    if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(&health), error) != RdKafka::Conf::CONF_OK)
        throw BusError("kafka event callback: " + error);
    return conf;
}

Settings client_settings(const KafkaOptions& options) {
    return {{"bootstrap.servers", options.bootstrap},
            {"client.id", options.client_id},
            // Reconnect quickly after a broker restart instead of backing off for seconds.
            {"reconnect.backoff.max.ms", "1000"}};
}

// `defaults` then KafkaOptions::settings, which set them last so they win.
Settings with_user_settings(Settings defaults, const KafkaOptions& options) {
    static const std::set<std::string, std::less<>> managed{"bootstrap.servers", "group.id",     "enable.auto.commit",
                                                            "enable.idempotence", "partitioner", "auto.offset.reset"};
    for (const auto& [key, value] : options.settings) {
        if (managed.contains(key))
            throw BusError(fmt::format("kafka setting {}: pricecast sets it (the delivery guarantees rest on it)", key));
        defaults.emplace_back(key, value);
    }
    return defaults;
}

Timestamp published_at(RdKafka::Message& message) {
    if (const auto* headers = message.headers()) {
        const auto header = headers->get_last(kPublishedHeader);
        if (header.err() == RdKafka::ERR_NO_ERROR && header.value() != nullptr) {
            const std::string text(static_cast<const char*>(header.value()), header.value_size());
            try {
                return std::stoll(text);
            } catch (const std::exception&) {
                // A message from another producer: fall back to Kafka's timestamp.
            }
        }
    }
    return message.timestamp().timestamp * 1'000'000;
}

Message to_message(RdKafka::Message& m) {
    Message out;
    out.topic = m.topic_name();
    if (m.key_pointer() != nullptr) out.key.assign(static_cast<const char*>(m.key_pointer()), m.key_len());
    out.value.assign(static_cast<const char*>(m.payload()), m.len());
    out.partition = m.partition();
    out.offset = m.offset();
    out.timestamp = published_at(m);
    return out;
}

// The partition moved to another member: at-least-once still holds, as the
// new owner resumes from the previous commit.
bool lost_to_rebalance(RdKafka::ErrorCode err) {
    return err == RdKafka::ERR_REBALANCE_IN_PROGRESS || err == RdKafka::ERR_ILLEGAL_GENERATION ||
           err == RdKafka::ERR_UNKNOWN_MEMBER_ID;
}

class KafkaConsumer final : public Consumer {
public:
    KafkaConsumer(std::shared_ptr<Health> health, std::unique_ptr<RdKafka::KafkaConsumer> consumer)
        : health_(std::move(health)), consumer_(std::move(consumer)) {}

    ~KafkaConsumer() override { consumer_->close(); }  // leaves the group: its partitions move on at once

    std::optional<Message> poll(std::chrono::milliseconds timeout) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            std::unique_ptr<RdKafka::Message> m(consumer_->consume(static_cast<int>(std::max(left.count(), 0L))));
            if (m->err() == RdKafka::ERR_NO_ERROR) {
                health_->set_reachable();
                return to_message(*m);
            }
            if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
                if (const auto fatal = health_->fatal_error(); !fatal.empty()) throw BusError("kafka consumer: " + fatal);
                spdlog::warn("kafka consumer: {}", m->errstr());
            }
            if (left <= 0ms) return std::nullopt;
        }
    }

    void commit(const Message& m) override { commit(m.topic, m.partition, m.offset + 1); }

    void commit(const std::string& topic, std::int32_t partition, std::int64_t next_offset) override {
        std::vector<RdKafka::TopicPartition*> offsets{RdKafka::TopicPartition::create(topic, partition, next_offset)};
        auto err = consumer_->commitSync(offsets);
        if (err == RdKafka::ERR_NO_ERROR) err = offsets[0]->err();
        RdKafka::TopicPartition::destroy(offsets);
        if (err == RdKafka::ERR_NO_ERROR) return;
        if (lost_to_rebalance(err)) {
            spdlog::info("kafka: commit of {}[{}] offset {} dropped: the group rebalanced ({}); the new owner gets "
                         "those messages again",
                         topic, partition, next_offset, RdKafka::err2str(err));
            return;
        }
        throw BusError(fmt::format("kafka commit of {}[{}] offset {}: {}", topic, partition, next_offset,
                                   RdKafka::err2str(err)));
    }

private:
    std::shared_ptr<Health> health_;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

class KafkaBus final : public Bus {
public:
    explicit KafkaBus(KafkaOptions options) : options_(std::move(options)), health_(std::make_shared<Health>()) {
        if (options_.bootstrap.empty()) throw BusError("kafka: bootstrap servers are empty (host:port[,host:port...])");
        if (options_.partitions < 1) throw BusError(fmt::format("kafka: partitions must be at least 1, not {}", options_.partitions));
        if (options_.replication < 1)
            throw BusError(fmt::format("kafka: replication must be at least 1, not {}", options_.replication));
        auto settings = client_settings(options_);
        settings.insert(settings.end(), {{"enable.idempotence", "true"},
                                         {"partitioner", "murmur2"},
                                         {"linger.ms", "1"},
                                         // Lets ensure_topic see a missing topic and create it with our partition count.
                                         {"allow.auto.create.topics", "false"}});
        auto conf = make_conf(with_user_settings(std::move(settings), options_), *health_);
        std::string error;
        if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(health_.get()), error) != RdKafka::Conf::CONF_OK)
            throw BusError("kafka delivery callback: " + error);
        producer_.reset(RdKafka::Producer::create(conf.get(), error));
        if (!producer_) throw BusError("kafka producer: " + error);
    }

    ~KafkaBus() override {
        if (producer_->flush(5000) != RdKafka::ERR_NO_ERROR)
            spdlog::warn("kafka: {} message(s) undelivered at shutdown", producer_->outq_len());
    }

    void publish(std::string_view topic, std::string_view key, std::string_view value) override {
        if (topic.empty()) throw BusError("publish: topic name is empty");
        ensure_topic(std::string(topic));
        if (const auto fatal = health_->fatal_error(); !fatal.empty()) throw BusError("kafka producer: " + fatal);
        const auto published = std::to_string(wall_clock_ns());
        for (;;) {
            auto* headers = RdKafka::Headers::create();
            headers->add(kPublishedHeader, published);
            const auto err = producer_->produce(std::string(topic), RdKafka::Topic::PARTITION_UA,
                                                RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                                                value.size(), key.data(), key.size(), 0, headers, nullptr);
            if (err == RdKafka::ERR_NO_ERROR) break;
            delete headers;  // ownership passes to librdkafka only on success
            if (err != RdKafka::ERR__QUEUE_FULL)
                throw BusError(fmt::format("kafka publish to {}: {}", topic, RdKafka::err2str(err)));
            producer_->poll(100);  // backpressure: wait for deliveries to free the queue
        }
        producer_->poll(0);
    }

    void flush(std::chrono::milliseconds timeout) override {
        if (producer_->flush(static_cast<int>(timeout.count())) != RdKafka::ERR_NO_ERROR)
            throw BusError(fmt::format("kafka flush: {} message(s) still undelivered after {} ms", producer_->outq_len(),
                                       timeout.count()));
        if (const auto errors = health_->take_delivery_errors(); !errors.empty()) throw BusError("kafka: " + errors);
    }

    std::unique_ptr<Consumer> subscribe(const std::string& group, const std::vector<std::string>& topics) override {
        if (group.empty()) throw BusError("subscribe: group name is empty");
        if (topics.empty()) throw BusError(fmt::format("subscribe: group '{}' names no topic", group));
        for (const auto& topic : topics) {
            if (topic.empty()) throw BusError(fmt::format("subscribe: group '{}' names an empty topic", group));
            ensure_topic(topic);
        }
        auto consumer = create_consumer({{"group.id", group},
                                         {"enable.auto.commit", "false"},
                                         {"auto.offset.reset", "earliest"},
                                         // A killed member's partitions move on within seconds, not the 45 s default.
                                         {"session.timeout.ms", "6000"},
                                         {"heartbeat.interval.ms", "500"},
                                         {"fetch.wait.max.ms", "10"}});
        if (const auto err = consumer->subscribe(topics); err != RdKafka::ERR_NO_ERROR)
            throw BusError(fmt::format("kafka subscribe of group '{}': {}", group, RdKafka::err2str(err)));
        return std::make_unique<KafkaConsumer>(health_, std::move(consumer));
    }

    // Reads every partition from its low to its high watermark by assignment:
    // no group join (nothing to wait for), no commit (the group id is a formality).
    void read_retained(const std::string& topic, const std::function<void(const Message&)>& visit,
                       std::chrono::milliseconds timeout) override {
        ensure_topic(topic);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        auto consumer = create_consumer({{"group.id", options_.client_id + "-reader"}, {"enable.auto.commit", "false"},
                                         {"enable.auto.offset.store", "false"}, {"fetch.wait.max.ms", "10"}});
        std::map<std::int32_t, std::int64_t> last;  // partition -> offset of its newest retained message
        std::vector<RdKafka::TopicPartition*> assignment;
        for (std::int32_t p = 0; p < partition_count(topic); ++p) {
            std::int64_t low = 0, high = 0;
            const auto err = consumer->query_watermark_offsets(topic, p, &low, &high, kMetadataTimeoutMs);
            if (err != RdKafka::ERR_NO_ERROR)
                throw BusError(fmt::format("kafka watermarks of {}[{}]: {}", topic, p, RdKafka::err2str(err)));
            if (high <= low) continue;
            last[p] = high - 1;
            assignment.push_back(RdKafka::TopicPartition::create(topic, p, low));
        }
        if (!assignment.empty()) consumer->assign(assignment);
        RdKafka::TopicPartition::destroy(assignment);
        while (!last.empty()) {
            if (std::chrono::steady_clock::now() > deadline)
                throw BusError(fmt::format("kafka: {} partition(s) of {} not read to the end within {} ms", last.size(),
                                           topic, timeout.count()));
            std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
            if (m->err() != RdKafka::ERR_NO_ERROR) continue;
            const auto it = last.find(m->partition());
            if (it == last.end() || m->offset() > it->second) continue;
            visit(to_message(*m));
            if (m->offset() == it->second) last.erase(it);
        }
        consumer->close();
    }

    bool connected() const override {
        producer_->poll(0);  // serves pending events: "all brokers down" arrives through them
        if (!health_->all_down()) return true;
        // librdkafka reports brokers going down but not coming back: ask.
        RdKafka::Metadata* metadata = nullptr;
        if (producer_->metadata(false, nullptr, &metadata, 500) != RdKafka::ERR_NO_ERROR) return false;
        delete metadata;
        health_->set_reachable();
        return true;
    }

private:
    // Creates `topic` with options_.partitions unless it exists. A broker
    // that auto-creates topics on a metadata request (librdkafka's mock
    // cluster does) creates it with its own default instead.
    void ensure_topic(const std::string& topic) {
        std::lock_guard lock(topics_mutex_);
        if (known_topics_.contains(topic)) return;
        if (partition_count(topic) == 0) create_topic(topic);
        known_topics_.insert(topic);
    }

    // A consumer with pricecast's client settings, `consumer_settings`, then the user's.
    std::unique_ptr<RdKafka::KafkaConsumer> create_consumer(const Settings& consumer_settings) {
        auto settings = client_settings(options_);
        settings.insert(settings.end(), consumer_settings.begin(), consumer_settings.end());
        auto conf = make_conf(with_user_settings(std::move(settings), options_), *health_);
        std::string error;
        std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
        if (!consumer) throw BusError("kafka consumer: " + error);
        return consumer;
    }

    // 0 when the topic does not exist.
    std::int32_t partition_count(const std::string& topic) {
        std::string error;
        std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(producer_.get(), topic, nullptr, error));
        if (!handle) throw BusError(fmt::format("kafka topic '{}': {}", topic, error));
        RdKafka::Metadata* raw = nullptr;
        const auto err = producer_->metadata(false, handle.get(), &raw, kMetadataTimeoutMs);
        std::unique_ptr<RdKafka::Metadata> metadata(raw);
        if (err != RdKafka::ERR_NO_ERROR)
            throw BusError(fmt::format("kafka metadata of topic '{}' from {}: {}", topic, options_.bootstrap,
                                       RdKafka::err2str(err)));
        for (const auto* t : *metadata->topics())
            if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR)
                return static_cast<std::int32_t>(t->partitions()->size());
        return 0;
    }

    void create_topic(const std::string& topic) {
        rd_kafka_t* rk = producer_->c_ptr();
        char error[512] = {};
        auto* new_topic = rd_kafka_NewTopic_new(topic.c_str(), options_.partitions, options_.replication, error, sizeof error);
        if (new_topic == nullptr) throw BusError(fmt::format("kafka topic '{}': {}", topic, error));
        auto* admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(admin, kMetadataTimeoutMs, error, sizeof error);
        auto* queue = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &new_topic, 1, admin, queue);
        rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kMetadataTimeoutMs + 1000);
        std::string failure = event == nullptr ? "no answer from the cluster" : topic_result_error(event);
        if (event != nullptr) rd_kafka_event_destroy(event);
        rd_kafka_queue_destroy(queue);
        rd_kafka_AdminOptions_destroy(admin);
        rd_kafka_NewTopic_destroy(new_topic);
        if (!failure.empty()) throw BusError(fmt::format("kafka cannot create topic '{}': {}", topic, failure));
        spdlog::info("kafka: created topic {} ({} partitions, replication {})", topic, options_.partitions,
                     options_.replication);
    }

    // "" when the topic was created or already existed.
    static std::string topic_result_error(rd_kafka_event_t* event) {
        if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) return rd_kafka_event_error_string(event);
        size_t count = 0;
        const auto* result = rd_kafka_event_CreateTopics_result(event);
        const auto** topics = rd_kafka_CreateTopics_result_topics(result, &count);
        for (size_t i = 0; i < count; ++i) {
            const auto err = rd_kafka_topic_result_error(topics[i]);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                return rd_kafka_topic_result_error_string(topics[i]);
        }
        return {};
    }

    KafkaOptions options_;
    std::shared_ptr<Health> health_;  // outlives the producer and consumers that call into it
    std::unique_ptr<RdKafka::Producer> producer_;
    std::mutex topics_mutex_;
    std::set<std::string> known_topics_;
};

}  // namespace

std::unique_ptr<Bus> make_kafka_bus(KafkaOptions options) {
    return std::make_unique<KafkaBus>(std::move(options));
}

}  // namespace pricecast::bus
