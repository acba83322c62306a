// A generic exchange WebSocket kline feed for the price role: connects to a
// ws:// or wss:// (TLS) URL, sends the configured subscribe messages, and publishes every
// closed kline to price-data. Field names differ per exchange, so where each
// value sits in a message is configuration (JSON pointers); the defaults read
// Binance's kline stream:
//
//   {"e":"kline","s":"BTCUSDT","k":{"t":1700000000000,"i":"1m","o":"37000.1",
//    "h":"37010.0","l":"36990.5","c":"37005.2","v":"12.5","n":310,"x":true}}
//
// Bad messages are counted and logged with the field named; the feed keeps
// reading. A dropped connection, or one silent for `idle_timeout`, is
// re-established after `reconnect_delay`; a kline the exchange sends again
// after a reconnect is published once.
//
// wss:// verifies the exchange's certificate chain (the system's CAs, or
// `ca_file` for a private CA) and that it names the URL's host.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "bus/bus.hpp"
#include "core/types.hpp"

namespace boost::asio::ssl {
class context;
}

namespace pricecast::serving {

class FeedError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Where each value sits in a message (RFC 6901 JSON pointers). Numbers may be
// JSON numbers or numeric strings, as exchanges send prices.
struct KlineFields {
    std::string symbol = "/s";
    std::string open_time = "/k/t";
    std::string interval = "/k/i";  // empty: KlineFeedOptions::interval
    std::string open = "/k/o";
    std::string high = "/k/h";
    std::string low = "/k/l";
    std::string close = "/k/c";
    std::string volume = "/k/v";
    std::string trade_count = "/k/n";  // empty: not sent
    std::string closed = "/k/x";       // empty: every message is a closed bar
    // Reads "name=/pointer" (names as the members above); throws FeedError
    // naming the entry when the name is unknown or the pointer is malformed.
    void set(std::string_view assignment);
};

struct KlineFeedOptions {
    std::string url;  // ws://host[:port]/path or wss://host[:port]/path; IPv6 host in brackets
    std::vector<std::string> subscribe = {};  // text messages sent after each connect
    KlineFields fields = {};
    std::string time_unit = "ms";  // of open_time: s, ms, us or ns
    Duration interval = 60'000'000'000;
    std::chrono::milliseconds reconnect_delay{1000};
    // A connection that delivers nothing for this long is taken as dead and
    // re-established; zero: wait forever.
    std::chrono::milliseconds idle_timeout{120'000};
    std::string ca_file = {};  // PEM certificates wss:// trusts; empty: the system's CAs
};

// A message's closed bar; nullopt for an update of a still-open kline or a
// message that is not a kline (no symbol field: acks, pings, other events).
// Throws FeedError naming the field when a kline is malformed or invalid.
std::optional<Bar> parse_kline(std::string_view message, const KlineFields& fields, std::string_view time_unit,
                               Duration default_interval);

// Throws FeedError when the URL, the time unit, a field pointer or the CA
// file is unusable.
void check(const KlineFeedOptions& options);

class KlineFeed {
public:
    // Throws FeedError as check() does.
    KlineFeed(bus::Bus& bus, KlineFeedOptions options);
    ~KlineFeed();
    // Reads and publishes until stop is requested, reconnecting as needed.
    void run(std::stop_token stop);
    std::uint64_t bars() const { return bars_; }
    std::uint64_t rejected() const { return rejected_; }
    std::uint64_t connections() const { return connections_; }

private:
    void read_connection(std::stop_token stop);
    template <class WebSocket>
    void session(WebSocket& ws, std::stop_token stop);
    void handle(std::string_view message);

    bus::Bus& bus_;
    KlineFeedOptions options_;
    std::string host_, port_, target_;
    std::unique_ptr<boost::asio::ssl::context> tls_;  // null for ws://
    std::map<std::string, Timestamp> last_open_;  // per symbol: newest kline published
    std::atomic<std::uint64_t> bars_{0}, rejected_{0}, connections_{0};
};

}  // namespace pricecast::serving
