// The WebSocket prediction and bar stream: subscribe -> push, invalid frames answered
// without closing, authentication, the extra WebSocket port, and a slow client
// dropped while a fast one keeps receiving.
#include <chrono>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/api_env.hpp"

using namespace pricecast;
using namespace pricecast::test;
using nlohmann::json;

namespace {

constexpr Timestamp kT0 = 1'700'000'000'000'000'000;

json subscribe(WsClient& c, json symbols, const char* op = "subscribe") {
    c.send_json({{"op", op}, {"symbols", std::move(symbols)}});
    auto ack = c.read_json();
    EXPECT_TRUE(ack);
    return ack ? *ack : json();
}

double metric(int port, const std::string& line_start) {
    const auto body = get(port, "/metrics").body;
    const auto at = body.find(fmt::format("\n{} ", line_start));
    if (at == std::string::npos) return 0;
    return std::stod(body.substr(at + line_start.size() + 2));
}

}  // namespace

TEST(ApiWebSocket, SubscribedSymbolsArePushed) {
    ApiEnv env;
    WsClient c(env.port());
    EXPECT_EQ(subscribe(c, {"BTC"}), (json{{"type", "subscribed"}, {"symbols", {"BTC"}}}));
    env.predictions.add(make_prediction("ETH", kT0));  // not subscribed
    env.predictions.add(make_prediction("BTC", kT0));
    auto m = c.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "prediction");
    EXPECT_EQ((*m)["symbol"], "BTC");
    EXPECT_EQ((*m)["class"], "UP");
    EXPECT_EQ((*m)["bar_time"], "2023-11-14T22:13:20Z");

    env.predictions.add(make_prediction("BTC", kT0));  // a duplicate: not accepted, not pushed
    EXPECT_EQ(subscribe(c, {"BTC"}, "unsubscribe")["symbols"], json::array());
    env.predictions.add(make_prediction("BTC", kT0 + 1));
    subscribe(c, {"*"});
    env.predictions.add(make_prediction("SOL", kT0));
    m = c.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["symbol"], "SOL");  // nothing of BTC in between
    EXPECT_EQ(metric(env.port(), "pricecast_ws_clients"), 1);
}

TEST(ApiWebSocket, InvalidFramesGetErrorsAndTheConnectionStays) {
    ApiEnv env;
    WsClient c(env.port());
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{nope", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {R"({"symbols":["A"]})", "'op'"},
        {R"({"op":"dance","symbols":["A"]})", "unknown op 'dance'"},
        {R"({"op":"subscribe"})", "'symbols'"},
        {R"({"op":"subscribe","symbols":[]})", "'symbols'"},
        {R"({"op":"subscribe","symbols":[1]})", "'symbols'"},
    };
    for (const auto& [frame, mentions] : cases) {
        c.send(frame);
        auto r = c.read_json();
        ASSERT_TRUE(r) << frame;
        EXPECT_EQ((*r)["type"], "error") << frame;
        EXPECT_NE((*r)["message"].get<std::string>().find(mentions), std::string::npos) << (*r)["message"];
    }
    c.send_binary(std::string("\x00\x01", 2));
    auto r = c.read_json();
    ASSERT_TRUE(r);
    EXPECT_NE((*r)["message"].get<std::string>().find("binary"), std::string::npos);
    subscribe(c, {"BTC"});
    env.predictions.add(make_prediction("BTC", kT0));
    r = c.read_json();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["type"], "prediction");
}

TEST(ApiWebSocket, UpgradeNeedsAKey) {
    api::ServerOptions o;
    o.keys = {{kReadKey, api::Role::read}};
    ApiEnv env(o);
    EXPECT_THROW(WsClient(env.port()), boost::system::system_error);
    EXPECT_THROW(WsClient(env.port(), "/ws?api_key=wrong"), boost::system::system_error);
    WsClient by_query(env.port(), "/ws?api_key=" + kReadKey);
    WsClient by_header(env.port(), "/ws", {{"X-API-Key", kReadKey}});
    EXPECT_EQ(subscribe(by_query, {"A"})["type"], "subscribed");
    EXPECT_EQ(subscribe(by_header, {"A"})["type"], "subscribed");
    EXPECT_THROW(WsClient(env.port(), "/elsewhere?api_key=" + kReadKey), boost::system::system_error);
}

// A handshake the server cannot accept gets a JSON error like any other
// request, and a version it does not speak is told which one it does.
TEST(ApiWebSocket, BadHandshakesGetJsonErrors) {
    ApiEnv env;
    const auto upgrade = [&](const std::string& version, const std::string& key) {
        std::string req = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
        if (!version.empty()) req += "Sec-WebSocket-Version: " + version + "\r\n";
        if (!key.empty()) req += "Sec-WebSocket-Key: " + key + "\r\n";
        return raw(env.port(), req + "\r\n");
    };
    const std::string nonce = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455's example
    for (const auto& [version, key, status] : std::vector<std::tuple<std::string, std::string, int>>{
             {"8", nonce, 426},
             {"", nonce, 426},
             {"13", "", 400},
             {"13", "short", 400},
             {"13", "dGhlIHNhbXBsZSBub25jZQ", 400}}) {
        const auto r = upgrade(version, key);
        EXPECT_EQ(r.status, status) << version << " " << key << ": " << r.body;
        EXPECT_EQ(r.content_type, "application/json") << r.body;
        ASSERT_NO_THROW(r.json()) << r.body;
        EXPECT_EQ(r.json()["error"]["code"], status);
        if (status == 426) {
            EXPECT_EQ(r.headers.at("Sec-WebSocket-Version"), "13");
        }
    }
    EXPECT_EQ(upgrade("13", nonce).status, 101);
}

TEST(ApiWebSocket, ExtraWebSocketPort) {
    api::ServerOptions o;
    o.ws_port = 0;
    ApiEnv env(o);
    ASSERT_GT(env.server->ws_port(), 0);
    EXPECT_NE(env.server->ws_port(), env.port());
    WsClient c(env.server->ws_port(), "/");
    subscribe(c, {"BTC"});
    env.predictions.add(make_prediction("BTC", kT0));
    auto m = c.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["symbol"], "BTC");
    EXPECT_EQ(get(env.server->ws_port(), "/health").status, 426);
}

// The slow client never reads: once the kernel buffers are full its queue
// grows past the limit and it is closed; the fast client gets every message
// throughout, because the adding thread never waits for either.
TEST(ApiWebSocket, SlowClientIsDroppedFastClientKeepsReceiving) {
    api::ServerOptions o;
    o.ws_queue_limit = 8;
    ApiEnv env(o);
    WsClient fast(env.port());
    WsClient slow(env.port(), "/ws", {}, 4096);
    subscribe(fast, {"*"});
    subscribe(slow, {"*"});
    const std::string padding(2000, 'x');  // big messages fill the buffers sooner
    int batches = 0;
    const auto dropped = [&] { return metric(env.port(), "pricecast_ws_dropped_total"); };
    for (; batches < 20'000 && (batches % 25 != 0 || dropped() < 1); ++batches) {
        std::string last;
        for (int i = 0; i < 4; ++i) {  // fewer than the limit: the fast client is never behind by more
            last = fmt::format("S{}{}", batches * 4 + i, padding);
            env.predictions.add(make_prediction(last, kT0));
        }
        for (int i = 0; i < 4; ++i) {
            auto m = fast.read_json();
            ASSERT_TRUE(m) << "fast client lost at batch " << batches;
            if (i == 3) {
                ASSERT_EQ((*m)["symbol"], last);
            }
        }
    }
    EXPECT_EQ(dropped(), 1) << batches << " batches";
    RecordProperty("batches", batches);
    env.predictions.add(make_prediction("AFTER", kT0));
    auto m = fast.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["symbol"], "AFTER");
    int buffered = 0;
    while (slow.read(std::chrono::seconds(30))) ++buffered;  // what the kernel held, then the close
    EXPECT_LT(buffered, batches * 4 + 2);
    EXPECT_EQ(metric(env.port(), "pricecast_ws_clients"), 1);
}

// A client that falls behind on one symbol is not dropped: its queue holds
// only the newest unsent prediction of the symbol, so it skips stale ones and
// still ends on the latest.
TEST(ApiWebSocket, SlowClientGetsTheLatestPredictionPerSymbol) {
    api::ServerOptions o;
    o.ws_queue_limit = 8;
    ApiEnv env(o);
    WsClient slow(env.port(), "/ws", {}, 4096);
    subscribe(slow, {"BTC"});
    constexpr int kSent = 10'000;  // ~20 MB: more than the kernel buffers hold
    for (int i = 0; i < kSent; ++i) {
        auto p = make_prediction("BTC", kT0 + i);
        p.model = std::string(2000, 'm');
        env.predictions.add(p);
    }
    int received = 0;
    std::string last_time;
    while (auto m = slow.read_json()) {
        ++received;
        last_time = (*m)["bar_time"].get<std::string>();
        if (last_time == format_iso8601(kT0 + kSent - 1)) break;
    }
    EXPECT_EQ(last_time, format_iso8601(kT0 + kSent - 1));
    EXPECT_LT(received, kSent);
    EXPECT_EQ(metric(env.port(), "pricecast_ws_dropped_total"), 0);
    RecordProperty("received", received);
}

TEST(ApiWebSocket, BarsOfSubscribedSymbolsArePushed) {
    ApiEnv env;
    WsClient c(env.port());
    subscribe(c, {"BTC"});
    env.bars.add(make_bar("ETH", kT0));  // not subscribed
    env.bars.add(make_bar("BTC", kT0));
    env.bars.add(make_bar("BTC", kT0));  // a redelivery: not accepted, not pushed
    env.predictions.add(make_prediction("BTC", kT0));
    auto m = c.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "bar");
    EXPECT_EQ((*m)["symbol"], "BTC");
    EXPECT_EQ((*m)["close_time"], "2023-11-14T22:13:20Z");
    EXPECT_EQ((*m)["high"], 101.0);
    m = c.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "prediction");
}

// Coalescing keeps the newest message per symbol and type: a slow client
// flooded with alternating predictions and bars of one symbol still ends on
// the last of each (a bar must never replace a queued prediction).
TEST(ApiWebSocket, SlowClientGetsTheLatestPredictionAndBarPerSymbol) {
    api::ServerOptions o;
    o.ws_queue_limit = 8;
    ApiEnv env(o);
    WsClient slow(env.port(), "/ws", {}, 4096);
    subscribe(slow, {"BTC"});
    constexpr int kSent = 10'000;  // ~20 MB of predictions: more than the kernel buffers hold
    for (int i = 0; i < kSent; ++i) {
        auto p = make_prediction("BTC", kT0 + i);
        p.model = std::string(2000, 'm');
        env.predictions.add(p);
        env.bars.add(make_bar("BTC", kT0 + i));
    }
    const std::string last = format_iso8601(kT0 + kSent - 1);
    bool last_prediction = false, last_bar = false;
    int received = 0;
    while (!(last_prediction && last_bar)) {
        auto m = slow.read_json();
        ASSERT_TRUE(m) << "closed after " << received << " messages";
        ++received;
        if ((*m)["type"] == "prediction" && (*m)["bar_time"] == last) last_prediction = true;
        if ((*m)["type"] == "bar" && (*m)["close_time"] == last) last_bar = true;
    }
    EXPECT_LT(received, 2 * kSent);
    EXPECT_EQ(metric(env.port(), "pricecast_ws_dropped_total"), 0);
}

TEST(ApiWebSocket, StopClosesConnectionsAndListeners) {
    ApiEnv env;
    const int port = env.port();
    WsClient c(port);
    subscribe(c, {"BTC"});
    env.server->stop();
    EXPECT_FALSE(c.read(std::chrono::seconds(30)));  // closed, not hanging
    EXPECT_THROW(get(port, "/health"), boost::system::system_error);
    env.predictions.add(make_prediction("BTC", kT0));  // no listener left behind
    env.bars.add(make_bar("BTC", kT0));
}

TEST(ApiWebSocket, OversizedFrameClosesThatClientOnly) {
    ApiEnv env;
    WsClient big(env.port()), other(env.port());
    subscribe(other, {"BTC"});
    big.send_refusable(std::string(100 << 10, ' '));  // past the 64 KiB frame limit: closed with 1009
    EXPECT_FALSE(big.read());
    env.predictions.add(make_prediction("BTC", kT0));
    auto m = other.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["symbol"], "BTC");
}

// A client's subscription set is bounded: past 1000 symbols (or a symbol past
// 128 bytes) the request is refused as a whole, the connection stays and "*"
// still subscribes to everything.
TEST(ApiWebSocket, SubscriptionsAreBoundedPerConnection) {
    ApiEnv env;
    WsClient c(env.port());
    json many = json::array();
    for (int i = 0; i < 1000; ++i) many.push_back(fmt::format("S{}", i));
    EXPECT_EQ(subscribe(c, many)["symbols"].size(), 1000u);
    const auto error_of = [&](json symbols) {
        const auto r = subscribe(c, std::move(symbols));
        EXPECT_EQ(r["type"], "error") << r.dump().substr(0, 200);
        return r.value("message", "");
    };
    const auto one_more = error_of({"S1000"});
    EXPECT_NE(one_more.find("'symbols'"), std::string::npos) << one_more;
    EXPECT_NE(one_more.find("1000"), std::string::npos) << one_more;
    const auto long_symbol = error_of({std::string(129, 'x')});
    EXPECT_NE(long_symbol.find("'symbols'"), std::string::npos) << long_symbol;
    EXPECT_NE(long_symbol.find("128 bytes"), std::string::npos) << long_symbol;
    EXPECT_EQ(subscribe(c, {"S0"}, "unsubscribe")["symbols"].size(), 999u);  // the refusals changed nothing
    EXPECT_EQ(subscribe(c, {"*"})["symbols"].size(), 1000u);
    env.predictions.add(make_prediction("S1000", kT0));
    const auto m = c.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["symbol"], "S1000");
}

// A client that keeps sending subscribe requests and never reads the replies
// (each listing its symbols) is dropped once its queue passes the byte limit,
// far below the message limit; another client keeps receiving.
TEST(ApiWebSocket, ClientThatNeverReadsItsRepliesIsDroppedByBytes) {
    api::ServerOptions o;
    o.ws_queue_bytes = 256 << 10;
    ApiEnv env(o);
    WsClient other(env.port());
    subscribe(other, {"BTC"});
    WsClient flood(env.port(), "/ws", {}, 4096);
    json symbols = json::array();
    for (int i = 0; i < 900; ++i) symbols.push_back(fmt::format("SYMBOL-{:05}", i));
    const std::string frame = json{{"op", "subscribe"}, {"symbols", symbols}}.dump();  // ~15 KB reply each
    const auto dropped = [&] { return metric(env.port(), "pricecast_ws_dropped_total"); };
    // 2000 replies (~30 MB) stay below the default limit of 8192 messages.
    for (int i = 0; i < 2000 && (i % 50 != 0 || dropped() < 1); ++i) flood.send_refusable(frame);
    for (int i = 0; i < 300 && dropped() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(dropped(), 1);
    env.predictions.add(make_prediction("BTC", kT0));
    const auto m = other.read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["symbol"], "BTC");
}
