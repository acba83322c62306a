// The embedded transport: each topic is one append-only log (partition 0)
// with Kafka's bookkeeping kept in memory: a committed offset per group and a
// read position per consumer. A topic's partition belongs to one live member
// of a group at a time, as Kafka would assign it; the next member to poll
// after the owner goes away takes over from the group's commit.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "bus/bus.hpp"

namespace pricecast::bus {
namespace {

class InProcessConsumer;

struct GroupState {
    std::int64_t committed = 0;
    const InProcessConsumer* owner = nullptr;
};

struct Topic {
    std::deque<Message> log;
    std::int64_t base = 0;  // offset of log.front()
    std::map<std::string, GroupState, std::less<>> groups;

    std::int64_t end() const { return base + static_cast<std::int64_t>(log.size()); }
    std::int64_t slowest_commit() const {
        std::int64_t slowest = end();
        for (const auto& [name, group] : groups) slowest = std::min(slowest, group.committed);
        return slowest;
    }
};

struct State {
    explicit State(InProcessOptions o) : options(o) {}
    InProcessOptions options;
    std::mutex mutex;
    std::condition_variable data;   // a message was published or a partition was released
    std::condition_variable space;  // a commit may have made room
    std::map<std::string, Topic, std::less<>> topics;

    Topic& topic(std::string_view name) {
        auto it = topics.find(name);
        if (it == topics.end()) it = topics.emplace(std::string(name), Topic{}).first;
        return it->second;
    }
};

Timestamp wall_clock_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class InProcessConsumer final : public Consumer {
public:
    InProcessConsumer(std::shared_ptr<State> state, std::string group, std::vector<std::string> topics)
        : state_(std::move(state)), group_(std::move(group)), topics_(std::move(topics)) {}

    ~InProcessConsumer() override {
        std::lock_guard lock(state_->mutex);
        for (const auto& name : topics_) {
            auto& group = state_->topic(name).groups[group_];
            if (group.owner == this) group.owner = nullptr;
        }
        state_->data.notify_all();
    }

    std::optional<Message> poll(std::chrono::milliseconds timeout) override {
        std::unique_lock lock(state_->mutex);
        std::optional<Message> out;
        state_->data.wait_for(lock, timeout, [&] { return (out = next_locked()).has_value(); });
        return out;
    }

    void commit(const Message& m) override { commit(m.topic, m.partition, m.offset + 1); }

    void commit(const std::string& topic, std::int32_t partition, std::int64_t next_offset) override {
        std::lock_guard lock(state_->mutex);
        if (std::find(topics_.begin(), topics_.end(), topic) == topics_.end())
            throw BusError(fmt::format("commit: topic '{}' is not subscribed by group '{}'", topic, group_));
        if (partition != 0)
            throw BusError(fmt::format("commit: topic '{}' has only partition 0 in-process, not {}", topic, partition));
        auto& t = state_->topic(topic);
        if (next_offset < t.base || next_offset > t.end())
            throw BusError(fmt::format("commit: offset {} of topic '{}' is outside the retained log [{}, {}]",
                                       next_offset, topic, t.base, t.end()));
        t.groups[group_].committed = next_offset;
        state_->space.notify_all();
    }

private:
    // The next message on a partition this consumer owns, claiming free
    // partitions; topics are visited round-robin so a busy one starves none.
    std::optional<Message> next_locked() {
        for (std::size_t i = 0; i < topics_.size(); ++i) {
            const auto& name = topics_[(next_topic_ + i) % topics_.size()];
            auto& t = state_->topic(name);
            auto& group = t.groups[group_];
            if (group.owner != this) {
                if (group.owner != nullptr) continue;
                group.owner = this;
                positions_[name] = group.committed;
            }
            auto& position = positions_[name];
            position = std::max(position, t.base);
            if (position >= t.end()) continue;
            next_topic_ = (next_topic_ + i + 1) % topics_.size();
            return t.log[static_cast<std::size_t>(position++ - t.base)];
        }
        return std::nullopt;
    }

    std::shared_ptr<State> state_;
    std::string group_;
    std::vector<std::string> topics_;
    std::map<std::string, std::int64_t> positions_;
    std::size_t next_topic_ = 0;
};

class InProcessBus final : public Bus {
public:
    explicit InProcessBus(InProcessOptions options) : state_(std::make_shared<State>(options)) {
        if (options.capacity == 0) throw BusError("in-process bus: capacity must be at least 1");
    }

    void publish(std::string_view topic, std::string_view key, std::string_view value) override {
        if (topic.empty()) throw BusError("publish: topic name is empty");
        const auto capacity = static_cast<std::int64_t>(state_->options.capacity);
        std::unique_lock lock(state_->mutex);
        auto& t = state_->topic(topic);
        // With no group subscribed nobody is owed these messages: keep the
        // latest `capacity` for a group that subscribes later, never block.
        state_->space.wait(lock, [&] { return t.groups.empty() || t.end() - t.slowest_commit() < capacity; });
        const auto droppable = t.groups.empty() ? t.end() : t.slowest_commit();
        while (static_cast<std::int64_t>(t.log.size()) >= capacity && t.base < droppable) {
            t.log.pop_front();
            ++t.base;
        }
        t.log.push_back(Message{std::string(topic), std::string(key), std::string(value), 0, t.end(), wall_clock_ns()});
        state_->data.notify_all();
    }

    void flush(std::chrono::milliseconds) override {}  // publish has already appended to the log

    void read_retained(const std::string& topic, const std::function<void(const Message&)>& visit,
                       std::chrono::milliseconds) override {
        std::deque<Message> copy;
        {
            std::lock_guard lock(state_->mutex);
            copy = state_->topic(topic).log;  // a copy: the visitor may publish
        }
        for (const auto& m : copy) visit(m);
    }

    std::unique_ptr<Consumer> subscribe(const std::string& group, const std::vector<std::string>& topics) override {
        if (group.empty()) throw BusError("subscribe: group name is empty");
        if (topics.empty()) throw BusError(fmt::format("subscribe: group '{}' names no topic", group));
        if (std::find(topics.begin(), topics.end(), "") != topics.end())
            throw BusError(fmt::format("subscribe: group '{}' names an empty topic", group));
        std::vector<std::string> unique = topics;
        std::sort(unique.begin(), unique.end());
        unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
        std::lock_guard lock(state_->mutex);
        for (const auto& name : unique) {
            auto& t = state_->topic(name);
            t.groups.try_emplace(group, GroupState{t.base, nullptr});
        }
        return std::make_unique<InProcessConsumer>(state_, group, std::move(unique));
    }

    bool connected() const override { return true; }

private:
    std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<Bus> make_in_process_bus(InProcessOptions options) {
    return std::make_unique<InProcessBus>(options);
}

}  // namespace pricecast::bus
