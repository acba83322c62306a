// The exchange WebSocket kline feed: message parsing with configurable fields,
// bad input named, and a feed against a local replay server that drops the
// connection once (reconnect, the resent kline published once).
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/messages.hpp"
#include "core/time.hpp"
#include "serving/exchange_feed.hpp"
#include "support/api_client.hpp"
#include "support/process.hpp"

namespace pc = pricecast;
namespace sv = pricecast::serving;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kT0 = 1'700'000'040'000;  // ms, a minute boundary

std::string kline(const std::string& symbol, std::int64_t open_ms, const std::string& close, bool closed) {
    return R"({"e":"kline","E":1,"s":")" + symbol + R"(","k":{"t":)" + std::to_string(open_ms) +
           R"(,"i":"1m","o":"100.0","h":"101.5","l":"99.5","c":")" + close + R"(","v":"12.25","n":31,"x":)" +
           (closed ? "true" : "false") + "}}";
}

std::optional<pc::Bar> parse(const std::string& m, const sv::KlineFields& f = {}) {
    return sv::parse_kline(m, f, "ms", 60'000'000'000);
}

void expect_error(const std::string& message, const std::string& names) {
    try {
        parse(message);
        ADD_FAILURE() << "accepted: " << message;
    } catch (const sv::FeedError& e) {
        EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
    }
}

TEST(KlineParse, ClosedKlineBecomesABar) {
    const auto b = parse(kline("BTCUSDT", kT0, "100.75", true));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->symbol, "BTCUSDT");
    EXPECT_EQ(b->open_time, kT0 * 1'000'000);
    EXPECT_EQ(b->close_time, b->open_time + 60'000'000'000);
    EXPECT_EQ(b->interval, 60'000'000'000);
    EXPECT_DOUBLE_EQ(b->open, 100.0);
    EXPECT_DOUBLE_EQ(b->high, 101.5);
    EXPECT_DOUBLE_EQ(b->low, 99.5);
    EXPECT_DOUBLE_EQ(b->close, 100.75);
    EXPECT_DOUBLE_EQ(b->volume, 12.25);
    EXPECT_EQ(b->trade_count, 31);
}

TEST(KlineParse, OpenKlinesAndOtherMessagesAreNotBars) {
    EXPECT_FALSE(parse(kline("BTCUSDT", kT0, "100.75", false)));
    EXPECT_FALSE(parse(R"({"result":null,"id":1})"));
}

TEST(KlineParse, FieldsAreConfigurable) {
    sv::KlineFields f;
    for (const char* a : {"symbol=/pair", "open_time=/ts", "interval=", "open=/ohlcv/0", "high=/ohlcv/1",
                          "low=/ohlcv/2", "close=/ohlcv/3", "volume=/ohlcv/4", "trade_count=", "closed="})
        f.set(a);
    const auto b = sv::parse_kline(R"({"pair":"ETH-USD","ts":1700000100,"ohlcv":[10,12,9,11,5]})", f, "s",
                                   300'000'000'000);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->symbol, "ETH-USD");
    EXPECT_EQ(b->open_time, 1'700'000'100LL * 1'000'000'000);
    EXPECT_EQ(b->interval, 300'000'000'000);
    EXPECT_DOUBLE_EQ(b->close, 11);
}

TEST(KlineParse, BadMessagesNameTheField) {
    expect_error("{not json", "not JSON");
    expect_error(kline("BTCUSDT", kT0, "abc", true), "close (/k/c)");
    expect_error(R"({"s":"X","k":{"t":1,"i":"1m","o":"1","h":"1","l":"1","v":"1","x":true}})", "close (/k/c) is missing");
    expect_error(R"({"s":"X","k":{"t":"1","i":"1m","o":"1","h":"1","l":"1","c":"1","v":"1","x":true}})", "open_time");
    expect_error(R"({"s":"X","k":{"t":1,"i":"1m","o":"1","h":"1","l":"1","c":"1","v":"1","x":"yes"}})", "closed");
    expect_error(R"({"s":"X","k":{"t":1,"i":"soon","o":"1","h":"1","l":"1","c":"1","v":"1","x":true}})", "interval");
    expect_error(R"({"s":7,"k":{}})", "symbol");
    expect_error(kline("BTCUSDT", kT0, "102", true), "high < max(open, close)");
}

TEST(KlineFeedConfig, BadSettingsAreClearErrors) {
    sv::KlineFields f;
    EXPECT_THROW(f.set("colse=/k/c"), sv::FeedError);
    EXPECT_THROW(f.set("close=k/c"), sv::FeedError);
    EXPECT_THROW(f.set("close="), sv::FeedError);
    EXPECT_THROW(f.set("close"), sv::FeedError);
    auto bus = pc::bus::make_in_process_bus();
    auto make = [&](const std::string& url, const std::string& unit) {
        sv::KlineFeed feed(*bus, {.url = url, .time_unit = unit});
    };
    EXPECT_THROW(make("wss://stream.example.com/ws", "ms"), sv::FeedError);
    EXPECT_THROW(make("http://127.0.0.1:1/", "ms"), sv::FeedError);
    EXPECT_THROW(make("ws://127.0.0.1:1/", "minutes"), sv::FeedError);
    EXPECT_NO_THROW(make("ws://127.0.0.1:1/", "s"));
}

// Serves two connections: each reads the subscribe message, sends its script
// and closes (the second stays open until the test ends).
class ReplayServer {
public:
    explicit ReplayServer(std::vector<std::vector<std::string>> scripts)
        : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), thread_([this, s = std::move(scripts)] { serve(s); }) {}
    ~ReplayServer() {
        done_ = true;
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes a blocked accept
        thread_.join();
    }
    int port() const { return acceptor_.local_endpoint().port(); }
    std::vector<std::string> subscriptions() {
        std::lock_guard lock(mutex_);
        return subscriptions_;
    }

private:
    void serve(const std::vector<std::vector<std::string>>& scripts) {
        for (std::size_t k = 0; k < scripts.size(); ++k) {
            beast::websocket::stream<tcp::socket> ws(io_);
            beast::error_code ec;
            acceptor_.accept(ws.next_layer(), ec);
            if (ec) return;
            ws.accept(ec);
            beast::flat_buffer buffer;
            ws.read(buffer, ec);
            if (ec) return;
            {
                std::lock_guard lock(mutex_);
                subscriptions_.push_back(beast::buffers_to_string(buffer.data()));
            }
            for (const auto& m : scripts[k]) ws.write(asio::buffer(m), ec);
            if (k + 1 < scripts.size()) {
                ws.close(beast::websocket::close_code::going_away, ec);
                continue;
            }
            while (!done_) std::this_thread::sleep_for(10ms);  // the last connection stays open
        }
    }
    std::mutex mutex_;
    std::vector<std::string> subscriptions_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::atomic<bool> done_{false};
    std::jthread thread_;
};

TEST(KlineFeed, PublishesClosedKlinesAcrossAReconnectOnce) {
    const std::int64_t m = 60'000;
    ReplayServer server({{R"({"result":null,"id":1})", kline("BTCUSDT", kT0, "100.5", false),
                          kline("BTCUSDT", kT0, "100.75", true), "{broken", kline("ETHUSDT", kT0, "100.25", true)},
                         {kline("BTCUSDT", kT0, "100.75", true), kline("BTCUSDT", kT0 + m, "101", true)}});
    auto bus = pc::bus::make_in_process_bus();
    auto in = bus->subscribe("test", {pc::bus::topics::prices});
    const std::string subscribe = R"({"method":"SUBSCRIBE","params":["btcusdt@kline_1m","ethusdt@kline_1m"],"id":1})";
    sv::KlineFeed feed(*bus, {.url = "ws://127.0.0.1:" + std::to_string(server.port()) + "/ws",
                              .subscribe = {subscribe},
                              .reconnect_delay = 50ms});
    std::jthread runner([&](std::stop_token stop) { feed.run(stop); });

    std::vector<pc::Bar> got;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (got.size() < 3 && std::chrono::steady_clock::now() < deadline)
        if (auto msg = in->poll(100ms)) got.push_back(pc::bus::decode_bar(msg->value));
    runner.request_stop();
    runner.join();

    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].symbol, "BTCUSDT");
    EXPECT_DOUBLE_EQ(got[0].close, 100.75);
    EXPECT_EQ(got[1].symbol, "ETHUSDT");
    EXPECT_EQ(got[2].symbol, "BTCUSDT");
    EXPECT_EQ(got[2].open_time, (kT0 + m) * 1'000'000);
    EXPECT_FALSE(in->poll(200ms)) << "the kline resent after the reconnect was published again";
    EXPECT_EQ(feed.bars(), 3u);
    EXPECT_EQ(feed.rejected(), 1u);
    EXPECT_EQ(feed.connections(), 2u);
    const auto subscriptions = server.subscriptions();
    ASSERT_EQ(subscriptions.size(), 2u);
    EXPECT_EQ(subscriptions[1], subscribe);
}

// The price role of `pricecast serve` reading the feed: klines from a local
// replay server become feature vectors the API serves.
TEST(KlineFeed, ServePriceRoleFeedsTheFeatureEngine) {
    const auto dir = std::filesystem::temp_directory_path() / ("pricecast-feed-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::vector<std::string> script;
    const char* closes[] = {"100.25", "100.75", "99.75", "101.25"};
    for (int i = 0; i < 40; ++i) script.push_back(kline("BTCUSDT", kT0 + i * 60'000LL, closes[i % 4], true));
    ReplayServer server({script});
    std::ofstream(dir / "quick.toml") << "[features]\ntimeframes = [\"1m\"]\nindicators = [\"rsi(3)\"]\n"
                                         "sentiment_windows = [\"10m\"]\n"
                                         "[serve]\nfeed_subscribe = ['{\"method\":\"SUBSCRIBE\"}']\n";
    pc::test::Process serve({"serve", "--role", "price,features,api", "--feed",
                             "ws://127.0.0.1:" + std::to_string(server.port()) + "/ws", "--port", "0", "--ws-port",
                             "-1", "--data-dir", dir.string(), "--config", (dir / "quick.toml").string()},
                            dir / "serve.log");
    const int port = std::stoi(serve.wait_for("http://127\\.0\\.0\\.1:(\\d+)/"));
    pc::test::HttpResult latest;
    for (int i = 0; i < 600 && latest.status != 200; ++i) {
        latest = pc::test::request(port, pc::test::http::verb::get, "/v1/features/latest?symbol=BTCUSDT");
        if (latest.status != 200) std::this_thread::sleep_for(100ms);
    }
    serve.stop(SIGTERM);
    std::ifstream log(dir / "serve.log");
    ASSERT_EQ(latest.status, 200) << latest.body << "\n" << std::string(std::istreambuf_iterator<char>(log), {});
    EXPECT_EQ(latest.json().at("symbol"), "BTCUSDT");
    EXPECT_EQ(server.subscriptions(), std::vector<std::string>{R"({"method":"SUBSCRIBE"})"});
    std::filesystem::remove_all(dir);
}

}  // namespace
