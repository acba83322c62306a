#include "serving/exchange_feed.hpp"

#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bus/messages.hpp"
#include "core/time.hpp"

namespace pricecast::serving {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using PlainSocket = beast::websocket::stream<tcp::socket>;
using TlsSocket = beast::websocket::stream<ssl::stream<tcp::socket>>;

json::json_pointer pointer(const std::string& name, const std::string& text) {
    try {
        return json::json_pointer(text);
    } catch (const json::exception&) {
        throw FeedError(fmt::format("feed field {}: '{}' is not a JSON pointer (like /k/c)", name, text));
    }
}

const json* find(const json& doc, const std::string& ptr) {
    const auto p = json::json_pointer(ptr);
    return doc.contains(p) ? &doc.at(p) : nullptr;
}

const json& require(const json& doc, const std::string& ptr, std::string_view name) {
    const json* v = find(doc, ptr);
    if (!v) throw FeedError(fmt::format("kline field {} ({}) is missing", name, ptr));
    return *v;
}

// Exchanges send prices as strings ("37000.10") to keep their decimals.
double number(const json& doc, const std::string& ptr, std::string_view name) {
    const json& v = require(doc, ptr, name);
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        double x = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (ec == std::errc() && end == s.data() + s.size()) return x;
    }
    throw FeedError(fmt::format("kline field {} ({}) is not a number: {}", name, ptr, v.dump()));
}

std::int64_t ns_per_unit(std::string_view unit) {
    if (unit == "s") return 1'000'000'000;
    if (unit == "ms") return 1'000'000;
    if (unit == "us") return 1'000;
    if (unit == "ns") return 1;
    throw FeedError(fmt::format("feed time unit '{}' is not one of s, ms, us, ns", unit));
}

Duration interval_of(const json& doc, const KlineFields& f, Duration fallback) {
    if (f.interval.empty()) return fallback;
    const json& v = require(doc, f.interval, "interval");
    const auto d = v.is_string() ? parse_duration(v.get_ref<const std::string&>()) : std::nullopt;
    if (!d || *d <= 0) throw FeedError(fmt::format("kline field interval ({}) is not a duration: {}", f.interval, v.dump()));
    return *d;
}

struct Endpoint {
    bool tls = false;
    std::string host, port, target;
};

// ws[s]://host[:port]/path; the port defaults to 80 for ws and 443 for wss.
// An IPv6 literal host is written in brackets: ws://[::1]:9000/path.
Endpoint split_url(const std::string& url) {
    Endpoint e;
    std::string_view rest(url);
    if (rest.starts_with("wss://")) {
        e.tls = true;
        rest.remove_prefix(6);
    } else if (rest.starts_with("ws://")) {
        rest.remove_prefix(5);
    } else {
        throw FeedError("feed url must start with ws:// or wss://: " + url);
    }
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    e.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    std::string_view port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) throw FeedError("feed url has an unclosed '[' in its host: " + url);
        e.host = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) throw FeedError("feed url has text after its ']': " + url);
        port = after.empty() ? std::string_view() : after.substr(1);
        if (after.empty()) port = e.tls ? "443" : "80";
    } else {
        const auto colon = authority.rfind(':');
        e.host = authority.substr(0, colon);
        port = colon == std::string_view::npos ? (e.tls ? "443" : "80") : authority.substr(colon + 1);
    }
    e.port = port;
    if (e.host.empty() || e.port.empty()) throw FeedError("feed url has no host or port: " + url);
    if (!std::all_of(e.port.begin(), e.port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw FeedError("feed url has a port that is not a number: " + url);
    return e;
}

// Throws FeedError naming feed_ca_file when the file cannot be read or holds
// no PEM certificate, so a typo is found at startup, not at the first connect.
std::unique_ptr<ssl::context> tls_context(const std::string& ca_file) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    if (ca_file.empty()) {
        ctx->set_default_verify_paths(ec);
        if (ec) throw FeedError("feed: the system's CA certificates cannot be loaded: " + ec.message());
        return ctx;
    }
    std::error_code fs_ec;
    if (!std::filesystem::is_regular_file(ca_file, fs_ec))
        throw FeedError(fmt::format("feed_ca_file '{}' is not a file", ca_file));
    ctx->load_verify_file(ca_file, ec);
    if (ec)
        throw FeedError(fmt::format("feed_ca_file '{}' holds no usable PEM certificate: {}", ca_file, ec.message()));
    return ctx;
}

void start_tls(PlainSocket&, const std::string&) {}

// Why a handshake failed: the certificate check's own reason when it was that.
std::string tls_failure(SSL* ssl, const beast::error_code& ec) {
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK)
        return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verdict));
    return ec.message();
}

void start_tls(TlsSocket& ws, const std::string& host) {
    SSL* ssl = ws.next_layer().native_handle();
    beast::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    // SNI carries DNS names only (RFC 6066); SSL_set1_host also takes an IP
    // literal and then checks the certificate's IP addresses instead.
    if (not_ip && !SSL_set_tlsext_host_name(ssl, const_cast<char*>(host.c_str())))
        throw FeedError("feed: cannot set the TLS server name " + host);
    if (!SSL_set1_host(ssl, host.c_str())) throw FeedError("feed: cannot set the expected certificate host " + host);
    beast::error_code ec;
    ws.next_layer().handshake(ssl::stream_base::client, ec);
    if (ec) throw FeedError(fmt::format("TLS handshake with {} failed: {}", host, tls_failure(ssl, ec)));
}

// Shuts the socket down when nothing has been read for `timeout` (zero: never),
// which ends a blocked read: a peer that vanished without closing (a dropped
// NAT entry, a hung server) is noticed and the feed reconnects.
class IdleWatch {
public:
    IdleWatch(int fd, std::chrono::milliseconds timeout) : timeout_(timeout) {
        if (timeout.count() <= 0) return;
        heard();
        thread_ = std::jthread([this, fd](std::stop_token stop) {
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock lock(m);
            while (!cv.wait_for(lock, stop, timeout_ / 4 + std::chrono::milliseconds(1), [] { return false; }) &&
                   !stop.stop_requested())
                if (Clock::now().time_since_epoch().count() - last_.load() > std::chrono::nanoseconds(timeout_).count()) {
                    expired_ = true;
                    ::shutdown(fd, SHUT_RDWR);
                    return;
                }
        });
    }
    void heard() { last_ = Clock::now().time_since_epoch().count(); }
    bool expired() const { return expired_; }

private:
    using Clock = std::chrono::steady_clock;
    std::chrono::milliseconds timeout_;
    std::atomic<Clock::rep> last_{0};
    std::atomic<bool> expired_{false};
    std::jthread thread_;  // last: joined before the members it reads go
};

}  // namespace

void KlineFields::set(std::string_view assignment) {
    const auto eq = assignment.find('=');
    if (eq == std::string_view::npos)
        throw FeedError(fmt::format("feed field '{}' must be name=/json/pointer", assignment));
    const std::string name(assignment.substr(0, eq)), ptr(assignment.substr(eq + 1));
    if (!ptr.empty()) pointer(name, ptr);
    const std::map<std::string, std::string*> members{
        {"symbol", &symbol}, {"open_time", &open_time}, {"interval", &interval}, {"open", &open},
        {"high", &high},     {"low", &low},             {"close", &close},       {"volume", &volume},
        {"trade_count", &trade_count}, {"closed", &closed}};
    const auto it = members.find(name);
    if (it == members.end())
        throw FeedError(fmt::format("feed field '{}' is unknown (symbol, open_time, interval, open, high, low, close, "
                                    "volume, trade_count, closed)",
                                    name));
    if (ptr.empty() && name != "interval" && name != "trade_count" && name != "closed")
        throw FeedError(fmt::format("feed field {} needs a JSON pointer", name));
    *it->second = ptr;
}

std::optional<Bar> parse_kline(std::string_view message, const KlineFields& f, std::string_view time_unit,
                               Duration default_interval) {
    json doc;
    try {
        doc = json::parse(message);
    } catch (const json::parse_error& e) {
        throw FeedError(fmt::format("feed message is not JSON: {}", e.what()));
    }
    const json* symbol = find(doc, f.symbol);
    if (!symbol) return std::nullopt;  // not a kline: subscription acks, other events
    if (!symbol->is_string() || symbol->get_ref<const std::string&>().empty())
        throw FeedError(fmt::format("kline field symbol ({}) is not a non-empty string", f.symbol));
    if (!f.closed.empty()) {
        const json& closed = require(doc, f.closed, "closed");
        if (!closed.is_boolean()) throw FeedError(fmt::format("kline field closed ({}) is not true/false", f.closed));
        if (!closed.get<bool>()) return std::nullopt;
    }
    Bar b;
    b.symbol = symbol->get<std::string>();
    const json& t = require(doc, f.open_time, "open_time");
    if (!t.is_number_integer()) throw FeedError(fmt::format("kline field open_time ({}) is not an integer", f.open_time));
    b.open_time = t.get<std::int64_t>() * ns_per_unit(time_unit);
    b.interval = interval_of(doc, f, default_interval);
    b.close_time = b.open_time + b.interval;
    b.open = number(doc, f.open, "open");
    b.high = number(doc, f.high, "high");
    b.low = number(doc, f.low, "low");
    b.close = number(doc, f.close, "close");
    b.volume = number(doc, f.volume, "volume");
    if (!f.trade_count.empty())
        if (const json* n = find(doc, f.trade_count); n && n->is_number_integer()) b.trade_count = n->get<std::int64_t>();
    if (const auto problem = check_bar(b); problem != BarProblem::none)
        throw FeedError(fmt::format("kline of {} at {} rejected: {}", b.symbol, format_iso8601(b.open_time),
                                    to_string(problem)));
    return b;
}

void check(const KlineFeedOptions& o) {
    if (split_url(o.url).tls || !o.ca_file.empty()) tls_context(o.ca_file);
    ns_per_unit(o.time_unit);
    const KlineFields& f = o.fields;
    for (const auto* p : {&f.symbol, &f.open_time, &f.open, &f.high, &f.low, &f.close, &f.volume}) pointer("kline", *p);
}

KlineFeed::KlineFeed(bus::Bus& bus, KlineFeedOptions options) : bus_(bus), options_(std::move(options)) {
    check(options_);
    auto e = split_url(options_.url);
    host_ = std::move(e.host);
    port_ = std::move(e.port);
    target_ = std::move(e.target);
    if (e.tls) tls_ = tls_context(options_.ca_file);
}

KlineFeed::~KlineFeed() = default;

void KlineFeed::run(std::stop_token stop) {
    while (!stop.stop_requested()) {
        try {
            read_connection(stop);
        } catch (const std::exception& e) {
            if (stop.stop_requested()) break;
            spdlog::warn("feed {}: {}; reconnecting in {} ms", options_.url, e.what(), options_.reconnect_delay.count());
        }
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait_for(lock, stop, options_.reconnect_delay, [] { return false; });
    }
    bus_.flush(std::chrono::seconds(10));
}

// One connection, ws or wss: blocking reads on this thread; a stop request
// shuts the TCP socket down, which ends a blocked TLS or WebSocket handshake
// or read.
template <class WebSocket>
void KlineFeed::session(WebSocket& ws, std::stop_token stop) {
    auto& socket = beast::get_lowest_layer(ws);
    tcp::resolver resolver(socket.get_executor());
    asio::connect(socket, resolver.resolve(host_, port_));
    const auto fd = socket.native_handle();
    std::stop_callback on_stop(stop, [fd] { ::shutdown(fd, SHUT_RDWR); });
    IdleWatch idle(fd, options_.idle_timeout);
    try {
        start_tls(ws, host_);
        // The Host header writes an IPv6 literal in brackets, as the URL did.
        ws.handshake((host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" + port_, target_);
        ++connections_;
        spdlog::info("feed {}: connected", options_.url);
        for (const auto& s : options_.subscribe) ws.write(asio::buffer(s));
        beast::flat_buffer buffer;
        while (!stop.stop_requested()) {
            ws.read(buffer);
            idle.heard();
            handle(beast::buffers_to_string(buffer.data()));
            buffer.consume(buffer.size());
        }
    } catch (const std::exception&) {
        if (idle.expired() && !stop.stop_requested())
            throw FeedError(fmt::format("no message for {} s; taking the connection as dead",
                                        std::chrono::duration<double>(options_.idle_timeout).count()));
        throw;
    }
}

void KlineFeed::read_connection(std::stop_token stop) {
    asio::io_context io;
    if (tls_) {
        TlsSocket ws(io, *tls_);
        session(ws, stop);
    } else {
        PlainSocket ws(io);
        session(ws, stop);
    }
}

void KlineFeed::handle(std::string_view message) {
    std::optional<Bar> bar;
    try {
        bar = parse_kline(message, options_.fields, options_.time_unit, options_.interval);
    } catch (const FeedError& e) {
        ++rejected_;
        spdlog::warn("feed {}: {}", options_.url, e.what());
        return;
    }
    if (!bar) return;
    auto [it, fresh] = last_open_.emplace(bar->symbol, bar->open_time);
    if (!fresh && bar->open_time <= it->second) return;  // sent again after a reconnect
    it->second = bar->open_time;
    bus_.publish(bus::topics::prices, bar->symbol, bus::encode(*bar));
    ++bars_;
}

}  // namespace pricecast::serving
