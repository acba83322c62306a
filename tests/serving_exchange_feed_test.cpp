// The exchange WebSocket kline feed: message parsing with configurable fields,
// bad input named, and a feed against a local replay server that drops the
// connection once (reconnect, the resent kline published once); over wss://
// with the test CA in tests/data/tls, and refused without it or for a host
// the certificate does not name.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <array>
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
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace pc = pricecast;
namespace sv = pricecast::serving;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
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
    EXPECT_THROW(make("http://127.0.0.1:1/", "ms"), sv::FeedError);
    EXPECT_THROW(make("ws://127.0.0.1:1/", "minutes"), sv::FeedError);
    EXPECT_NO_THROW(make("ws://127.0.0.1:1/", "s"));
    EXPECT_NO_THROW(make("wss://stream.example.com/ws", "ms"));
    auto expect_url_error = [&](const std::string& url, const std::string& names) {
        try {
            make(url, "ms");
            ADD_FAILURE() << "accepted " << url;
        } catch (const sv::FeedError& e) {
            EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
        }
    };
    expect_url_error("ws://[::1/ws", "unclosed '['");
    expect_url_error("ws://[::1]9000/ws", "text after its ']'");
    expect_url_error("ws://127.0.0.1:http/ws", "port that is not a number");
    expect_url_error("ws://:9000/ws", "no host");
    EXPECT_NO_THROW(make("ws://[::1]:9000/ws", "ms"));
    EXPECT_NO_THROW(make("wss://[2001:db8::1]/ws", "ms"));
}

std::filesystem::path test_cert() { return pc::test::test_data() / "tls" / "localhost.crt"; }

void expect_ca_error(const std::string& ca_file, const std::string& names) {
    try {
        sv::check({.url = "wss://127.0.0.1:1/ws", .ca_file = ca_file});
        ADD_FAILURE() << "accepted CA file " << ca_file;
    } catch (const sv::FeedError& e) {
        EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
    }
}

TEST(KlineFeedConfig, BadCaFileIsAClearError) {
    const pc::test::TempDir dir("ca");
    std::ofstream(dir / "not-pem.crt") << "not a certificate\n";
    const auto missing = (dir / "missing.crt").string();
    expect_ca_error(missing, "feed_ca_file '" + missing + "' is not a file");
    expect_ca_error(dir.path().string(), "is not a file");
    expect_ca_error((dir / "not-pem.crt").string(), "holds no usable PEM certificate");
    EXPECT_NO_THROW(sv::check({.url = "wss://127.0.0.1:1/ws", .ca_file = test_cert().string()}));
}

// The test certificate's server side: it names localhost and 127.0.0.1.
std::unique_ptr<ssl::context> server_tls() {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    const auto dir = pc::test::test_data() / "tls";
    ctx->use_certificate_chain_file((dir / "localhost.crt").string());
    ctx->use_private_key_file((dir / "localhost.key").string(), ssl::context::pem);
    return ctx;
}

// A script line that makes the server go quiet with the connection open, as a
// peer that vanished without closing does, until the client drops it.
const std::string kSilence = "<silence>";

// Serves one connection per script: each reads the subscribe message, sends
// its script and closes (the last stays open until the test ends). With a TLS
// context it serves wss; a connection whose handshake fails is counted and
// the next one gets the same script.
class ReplayServer {
public:
    explicit ReplayServer(std::vector<std::vector<std::string>> scripts, ssl::context* tls = nullptr,
                          const std::string& address = "127.0.0.1")
        : tls_(tls),
          acceptor_(io_, {asio::ip::make_address(address), 0}),
          thread_([this, s = std::move(scripts)] { serve(s); }) {}
    ~ReplayServer() {
        done_ = true;
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes a blocked accept
        thread_.join();
    }
    int port() const { return acceptor_.local_endpoint().port(); }
    int accepted() const { return accepted_; }
    std::vector<std::string> subscriptions() {
        std::lock_guard lock(mutex_);
        return subscriptions_;
    }

private:
    void serve(const std::vector<std::vector<std::string>>& scripts) {
        for (std::size_t k = 0; k < scripts.size();) {
            tcp::socket socket(io_);
            beast::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec) return;
            ++accepted_;
            const bool last = k + 1 == scripts.size();
            if (tls_) {
                beast::websocket::stream<ssl::stream<tcp::socket>> ws(std::move(socket), *tls_);
                ws.next_layer().handshake(ssl::stream_base::server, ec);
                if (!ec && play(ws, scripts[k], last)) ++k;
            } else {
                beast::websocket::stream<tcp::socket> ws(std::move(socket));
                if (play(ws, scripts[k], last)) ++k;
            }
        }
    }
    template <class WebSocket>
    bool play(WebSocket& ws, const std::vector<std::string>& script, bool last) {
        beast::error_code ec;
        ws.accept(ec);
        if (ec) return false;
        beast::flat_buffer buffer;
        ws.read(buffer, ec);
        if (ec) return false;
        {
            std::lock_guard lock(mutex_);
            subscriptions_.push_back(beast::buffers_to_string(buffer.data()));
        }
        for (const auto& m : script) {
            if (m == kSilence) {
                ws.read(buffer, ec);  // returns once the client gives up on the connection
                return true;
            }
            ws.write(asio::buffer(m), ec);
        }
        if (!last) {
            ws.close(beast::websocket::close_code::going_away, ec);
            return true;
        }
        while (!done_) std::this_thread::sleep_for(10ms);  // the last connection stays open
        return true;
    }
    std::mutex mutex_;
    std::vector<std::string> subscriptions_;
    ssl::context* tls_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::atomic<bool> done_{false};
    std::atomic<int> accepted_{0};
    std::jthread thread_;
};

// What the process logs while it lives (spdlog's default logger).
class LogCapture {
public:
    LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
        spdlog::default_logger()->sinks().push_back(sink_);
    }
    ~LogCapture() { std::erase(spdlog::default_logger()->sinks(), sink_); }
    std::string text() const {
        std::string all;
        for (const auto& line : sink_->last_formatted()) all += line;
        return all;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

// Runs `feed` until `n` bars arrive on price-data or 60 s pass.
std::vector<pc::Bar> run_feed(pc::bus::Bus& bus, sv::KlineFeed& feed, std::size_t n) {
    auto in = bus.subscribe("test", {pc::bus::topics::prices});
    std::jthread runner([&](std::stop_token stop) { feed.run(stop); });
    std::vector<pc::Bar> got;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline)
        if (auto msg = in->poll(100ms)) got.push_back(pc::bus::decode_bar(msg->value));
    return got;
}

// Runs `feed` against `server` until it has refused `attempts` connections.
void refuse(sv::KlineFeed& feed, const ReplayServer& server, int attempts) {
    std::jthread runner([&](std::stop_token stop) { feed.run(stop); });
    for (int i = 0; i < 600 && server.accepted() < attempts; ++i) std::this_thread::sleep_for(100ms);
}

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

TEST(KlineFeed, ASilentConnectionIsTakenAsDeadAndReconnected) {
    const std::int64_t m = 60'000;
    ReplayServer server({{kline("BTCUSDT", kT0, "100.75", true), kSilence}, {kline("BTCUSDT", kT0 + m, "101", true)}});
    auto bus = pc::bus::make_in_process_bus();
    LogCapture log;
    sv::KlineFeed feed(*bus, {.url = "ws://127.0.0.1:" + std::to_string(server.port()) + "/ws",
                              .subscribe = {"{}"},
                              .reconnect_delay = 50ms,
                              .idle_timeout = 300ms});
    const auto got = run_feed(*bus, feed, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].open_time, (kT0 + m) * 1'000'000);
    EXPECT_EQ(feed.connections(), 2u);
    EXPECT_NE(log.text().find("no message for 0.3 s; taking the connection as dead"), std::string::npos) << log.text();
}

TEST(KlineFeed, ReadsAnIpv6LiteralUrl) {
    std::unique_ptr<ReplayServer> server;
    try {
        server = std::make_unique<ReplayServer>(std::vector<std::vector<std::string>>{{kline("BTCUSDT", kT0, "100.75", true)}},
                                                nullptr, "::1");
    } catch (const std::exception& e) {
        GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
    }
    auto bus = pc::bus::make_in_process_bus();
    sv::KlineFeed feed(*bus, {.url = "ws://[::1]:" + std::to_string(server->port()) + "/ws", .subscribe = {"{}"}});
    const auto got = run_feed(*bus, feed, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].symbol, "BTCUSDT");
}

TEST(KlineFeedTls, PublishesOverWssWithTheCaFile) {
    const auto tls = server_tls();
    ReplayServer server({{kline("BTCUSDT", kT0, "100.75", true), kline("ETHUSDT", kT0, "100.25", true)}}, tls.get());
    auto bus = pc::bus::make_in_process_bus();
    sv::KlineFeed feed(*bus, {.url = "wss://localhost:" + std::to_string(server.port()) + "/ws",
                              .subscribe = {R"({"method":"SUBSCRIBE"})"},
                              .reconnect_delay = 50ms,
                              .ca_file = test_cert().string()});
    const auto got = run_feed(*bus, feed, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].symbol, "BTCUSDT");
    EXPECT_DOUBLE_EQ(got[0].close, 100.75);
    EXPECT_EQ(got[1].symbol, "ETHUSDT");
    EXPECT_EQ(feed.connections(), 1u);
    EXPECT_EQ(server.subscriptions(), std::vector<std::string>{R"({"method":"SUBSCRIBE"})"});
}

TEST(KlineFeedTls, WithoutTheCaTheCertificateIsRefusedAndTheFeedRetries) {
    const auto tls = server_tls();
    ReplayServer server({{kline("BTCUSDT", kT0, "100.75", true)}}, tls.get());
    auto bus = pc::bus::make_in_process_bus();
    auto in = bus->subscribe("test", {pc::bus::topics::prices});
    sv::KlineFeed feed(*bus, {.url = "wss://localhost:" + std::to_string(server.port()) + "/ws",
                              .reconnect_delay = 50ms});
    LogCapture log;
    refuse(feed, server, 3);
    EXPECT_GE(server.accepted(), 3) << "the feed stopped retrying";
    EXPECT_EQ(feed.connections(), 0u);
    EXPECT_EQ(feed.bars(), 0u);
    EXPECT_FALSE(in->poll(0ms));
    EXPECT_TRUE(server.subscriptions().empty());
    EXPECT_NE(log.text().find("certificate verify failed: self-signed certificate"), std::string::npos) << log.text();
}

// 127.0.0.2 reaches the same loopback server, but the certificate names only
// localhost and 127.0.0.1.
TEST(KlineFeedTls, AHostTheCertificateDoesNotNameIsRefused) {
    const auto tls = server_tls();
    ReplayServer server({{kline("BTCUSDT", kT0, "100.75", true)}}, tls.get(), "127.0.0.2");
    auto bus = pc::bus::make_in_process_bus();
    sv::KlineFeed feed(*bus, {.url = "wss://127.0.0.2:" + std::to_string(server.port()) + "/ws",
                              .reconnect_delay = 50ms,
                              .ca_file = test_cert().string()});
    LogCapture log;
    refuse(feed, server, 2);
    EXPECT_EQ(feed.connections(), 0u);
    EXPECT_EQ(feed.bars(), 0u);
    EXPECT_NE(log.text().find("certificate verify failed: IP address mismatch"), std::string::npos) << log.text();
}

// A server that accepts and never answers the ClientHello: the stop request
// still ends the feed's blocked TLS handshake.
TEST(KlineFeedTls, StopEndsABlockedHandshake) {
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    auto bus = pc::bus::make_in_process_bus();
    sv::KlineFeed feed(*bus, {.url = "wss://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/ws",
                              .ca_file = test_cert().string()});
    std::jthread runner([&](std::stop_token stop) { feed.run(stop); });
    tcp::socket peer(io);
    acceptor.accept(peer);
    std::array<char, 64> hello{};
    EXPECT_GT(peer.read_some(asio::buffer(hello)), 0u);  // the feed now waits for the ServerHello
    runner.request_stop();
    runner.join();
    EXPECT_EQ(feed.connections(), 0u);
}

// The price role of `pricecast serve` reading the feed: klines from a local
// replay server (wss:// when `tls`, trusting the test CA through
// serve.feed_ca_file) become feature vectors the API serves.
void serve_from_feed(bool tls) {
    const pc::test::TempDir dir("feed");
    std::vector<std::string> script;
    const char* closes[] = {"100.25", "100.75", "99.75", "101.25"};
    for (int i = 0; i < 40; ++i) script.push_back(kline("BTCUSDT", kT0 + i * 60'000LL, closes[i % 4], true));
    const auto server_ctx = tls ? server_tls() : nullptr;
    ReplayServer server({script}, server_ctx.get());
    std::ofstream(dir / "quick.toml") << "[features]\ntimeframes = [\"1m\"]\nindicators = [\"rsi(3)\"]\n"
                                         "sentiment_windows = [\"10m\"]\n"
                                         "[serve]\nfeed_subscribe = ['{\"method\":\"SUBSCRIBE\"}']\n"
                                      << (tls ? "feed_ca_file = '" + test_cert().string() + "'\n" : "");
    const auto url = std::string(tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(server.port()) + "/ws";
    pc::test::Process serve({"serve", "--role", "price,features,api", "--feed", url, "--port", "0", "--ws-port", "-1",
                             "--data-dir", dir.path().string(), "--config", (dir / "quick.toml").string()},
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
}

TEST(KlineFeed, ServePriceRoleFeedsTheFeatureEngine) { serve_from_feed(false); }

TEST(KlineFeedTls, ServePriceRoleReadsWssWithTheConfiguredCa) { serve_from_feed(true); }

// A CA file serve cannot use stops it at startup with a usage error (exit 2)
// naming the setting, before it connects anywhere.
TEST(KlineFeedTls, ServeRefusesAnUnreadableCaFile) {
    const pc::test::TempDir dir("feed-ca");
    std::ofstream(dir / "bad.toml") << "[serve]\nfeed_ca_file = '" << (dir / "missing.pem").string() << "'\n";
    const auto cmd = pc::test::pricecast_binary().string() +
                     " serve --role price --feed wss://127.0.0.1:1/ws --port 0 --ws-port -1 --data-dir '" +
                     dir.path().string() + "' --config '" + (dir / "bad.toml").string() + "' 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    while (const auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    EXPECT_EQ(WEXITSTATUS(pclose(p)), 2) << out;
    const auto named = "serve.feed_*: feed_ca_file '" + (dir / "missing.pem").string() + "' is not a file";
    EXPECT_NE(out.find(named), std::string::npos) << out;
}

}  // namespace
