#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bus/bus.hpp"

using namespace std::chrono_literals;
using pricecast::bus::BusError;
using pricecast::bus::Consumer;
using pricecast::bus::make_in_process_bus;
using pricecast::bus::Message;

namespace {

constexpr auto kWait = 10s;  // generous: only reached when a test is about to fail

std::vector<Message> read_n(Consumer& consumer, int n) {
    std::vector<Message> out;
    while (static_cast<int>(out.size()) < n) {
        auto m = consumer.poll(kWait);
        if (!m) break;
        out.push_back(*m);
    }
    return out;
}

void publish_numbered(pricecast::bus::Bus& bus, const std::string& topic, int from, int to) {
    for (int i = from; i < to; ++i) bus.publish(topic, fmt::format("k{}", i % 3), std::to_string(i));
}

}  // namespace

TEST(InProcessBus, DeliversInOrderWithOffsetsKeysAndTimestamps) {
    auto bus = make_in_process_bus();
    auto consumer = bus->subscribe("g", {"t"});
    publish_numbered(*bus, "t", 0, 100);
    auto got = read_n(*consumer, 100);
    ASSERT_EQ(got.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(got[i].topic, "t");
        EXPECT_EQ(got[i].value, std::to_string(i));
        EXPECT_EQ(got[i].key, fmt::format("k{}", i % 3));
        EXPECT_EQ(got[i].partition, 0);
        EXPECT_EQ(got[i].offset, i);
        EXPECT_GT(got[i].timestamp, 0);
    }
    EXPECT_FALSE(consumer->poll(0ms));
}

TEST(InProcessBus, ReadRetainedVisitsTheLogWithoutAGroup) {
    auto bus = make_in_process_bus({.capacity = 2});
    for (int i = 0; i < 5; ++i) bus->publish("predictions", "K", std::to_string(i));
    std::vector<std::string> seen;
    bus->read_retained("predictions", [&](const Message& m) { seen.push_back(m.value); }, 1s);
    // No group was ever subscribed: the newest `capacity` are retained, and
    // reading them subscribes none (publish still never blocks).
    EXPECT_EQ(seen, (std::vector<std::string>{"3", "4"}));
    bus->publish("predictions", "K", "5");
    seen.clear();
    bus->read_retained("predictions", [&](const Message& m) { seen.push_back(m.value); }, 1s);
    EXPECT_EQ(seen, (std::vector<std::string>{"4", "5"}));
}

TEST(InProcessBus, EveryGroupSeesEveryMessage) {
    auto bus = make_in_process_bus();
    auto a = bus->subscribe("a", {"t"});
    auto b = bus->subscribe("b", {"t"});
    publish_numbered(*bus, "t", 0, 50);
    for (auto* consumer : {a.get(), b.get()}) {
        auto got = read_n(*consumer, 50);
        ASSERT_EQ(got.size(), 50u);
        for (int i = 0; i < 50; ++i) EXPECT_EQ(got[i].value, std::to_string(i));
    }
}

TEST(InProcessBus, ConsumerReadsAllItsTopics) {
    auto bus = make_in_process_bus();
    auto consumer = bus->subscribe("g", {"x", "y"});
    publish_numbered(*bus, "x", 0, 10);
    publish_numbered(*bus, "y", 0, 10);
    int xs = 0, ys = 0;
    for (const auto& m : read_n(*consumer, 20)) (m.topic == "x" ? xs : ys)++;
    EXPECT_EQ(xs, 10);
    EXPECT_EQ(ys, 10);
}

TEST(InProcessBus, PollWaitsForAPublishFromAnotherThread) {
    auto bus = make_in_process_bus();
    auto consumer = bus->subscribe("g", {"t"});
    std::thread producer([&] { bus->publish("t", "k", "late"); });
    auto m = consumer->poll(kWait);
    producer.join();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->value, "late");
}

TEST(InProcessBus, PublishBlocksAtCapacityUntilACommitMakesRoom) {
    auto bus = make_in_process_bus({.capacity = 4});
    auto consumer = bus->subscribe("g", {"t"});
    std::atomic<int> published = 0;
    std::thread producer([&] {
        for (int i = 0; i < 20; ++i) {
            bus->publish("t", "k", std::to_string(i));
            ++published;
        }
    });
    // The log holds 4 uncommitted messages: the 5th publish is blocked, so a
    // reader that does not commit finds exactly 4.
    auto first = read_n(*consumer, 4);
    ASSERT_EQ(first.size(), 4u);
    EXPECT_FALSE(consumer->poll(200ms));
    EXPECT_LE(published.load(), 4);

    consumer->commit(first.back());
    std::vector<Message> rest;
    while (rest.size() < 16) {
        auto m = consumer->poll(kWait);
        ASSERT_TRUE(m) << "producer stayed blocked after commits";
        consumer->commit(*m);
        rest.push_back(*m);
    }
    producer.join();
    EXPECT_EQ(published.load(), 20);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(rest[i].value, std::to_string(i + 4));
}

TEST(InProcessBus, ConcurrentProducerAndConsumerLoseNothing) {
    auto bus = make_in_process_bus({.capacity = 16});
    auto consumer = bus->subscribe("g", {"t"});
    constexpr int n = 20000;
    std::thread producer([&] { publish_numbered(*bus, "t", 0, n); });
    int expected = 0;
    while (expected < n) {
        auto m = consumer->poll(kWait);
        ASSERT_TRUE(m);
        ASSERT_EQ(m->value, std::to_string(expected));
        consumer->commit(*m);
        ++expected;
    }
    producer.join();
}

TEST(InProcessBus, NewConsumerInAGroupResumesAfterTheCommitAndUncommittedAreRedelivered) {
    auto bus = make_in_process_bus();
    {
        auto consumer = bus->subscribe("g", {"t"});
        publish_numbered(*bus, "t", 0, 10);
        auto got = read_n(*consumer, 10);
        ASSERT_EQ(got.size(), 10u);
        consumer->commit(got[4]);  // 5..9 read but not committed: a crash here
    }
    auto restarted = bus->subscribe("g", {"t"});
    auto got = read_n(*restarted, 5);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got.front().offset, 5);
    EXPECT_EQ(got.back().offset, 9);
}

TEST(InProcessBus, ExplicitCommitCanRewindInsideTheRetainedLog) {
    auto bus = make_in_process_bus();
    {
        auto consumer = bus->subscribe("g", {"t"});
        publish_numbered(*bus, "t", 0, 10);
        auto got = read_n(*consumer, 10);
        consumer->commit(got.back());
        consumer->commit("t", 0, 3);  // a window that starts at offset 3
    }
    auto restarted = bus->subscribe("g", {"t"});
    auto m = restarted->poll(kWait);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 3);
}

TEST(InProcessBus, OneLiveMemberOfAGroupOwnsTheTopicUntilItGoesAway) {
    auto bus = make_in_process_bus();
    auto first = bus->subscribe("g", {"t"});
    auto second = bus->subscribe("g", {"t"});
    publish_numbered(*bus, "t", 0, 4);
    ASSERT_EQ(read_n(*first, 4).size(), 4u);
    first->commit("t", 0, 2);
    EXPECT_FALSE(second->poll(100ms));
    first.reset();
    auto got = read_n(*second, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].offset, 2);
}

TEST(InProcessBus, NewGroupStartsAtTheEarliestRetainedMessage) {
    auto bus = make_in_process_bus({.capacity = 8});
    // Nobody subscribed: the topic keeps the latest 8 and publish never blocks.
    publish_numbered(*bus, "t", 0, 20);
    auto consumer = bus->subscribe("late", {"t"});
    auto got = read_n(*consumer, 8);
    ASSERT_EQ(got.size(), 8u);
    EXPECT_EQ(got.front().offset, 12);
    EXPECT_EQ(got.front().value, "12");
}

TEST(InProcessBus, CommittedMessagesAreDroppedOnlyWhenRoomIsNeeded) {
    auto bus = make_in_process_bus({.capacity = 4});
    auto fast = bus->subscribe("fast", {"t"});
    publish_numbered(*bus, "t", 0, 4);
    auto got = read_n(*fast, 4);
    fast->commit(got.back());
    publish_numbered(*bus, "t", 4, 6);  // pushes out offsets 0 and 1
    EXPECT_THROW(fast->commit("t", 0, 1), BusError);
    EXPECT_NO_THROW(fast->commit("t", 0, 2));
}

TEST(InProcessBus, BadArgumentsAreClearErrors) {
    auto bus = make_in_process_bus();
    EXPECT_THROW(make_in_process_bus({.capacity = 0}), BusError);
    EXPECT_THROW(bus->publish("", "k", "v"), BusError);
    EXPECT_THROW(bus->subscribe("", {"t"}), BusError);
    EXPECT_THROW(bus->subscribe("g", {}), BusError);
    EXPECT_THROW(bus->subscribe("g", {"t", ""}), BusError);
    auto consumer = bus->subscribe("g", {"t"});
    publish_numbered(*bus, "t", 0, 3);
    try {
        consumer->commit("t", 0, 7);
        FAIL() << "commit past the end accepted";
    } catch (const BusError& e) {
        EXPECT_NE(std::string(e.what()).find("offset 7"), std::string::npos) << e.what();
    }
    EXPECT_THROW(consumer->commit("t", 1, 0), BusError);
    EXPECT_THROW(consumer->commit("other", 0, 0), BusError);
    EXPECT_TRUE(bus->connected());
}
