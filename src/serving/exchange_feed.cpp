#include "serving/exchange_feed.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <condition_variable>
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
using tcp = asio::ip::tcp;
using json = nlohmann::json;

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

// ws://host[:port]/path -> host, port, target.
void split_url(const std::string& url, std::string& host, std::string& port, std::string& target) {
    constexpr std::string_view scheme = "ws://";
    if (url.rfind("wss://", 0) == 0)
        throw FeedError("feed url: wss:// (TLS) is not supported yet; put a TLS-terminating proxy in front: " + url);
    if (url.rfind(scheme, 0) != 0) throw FeedError("feed url must start with ws://: " + url);
    const std::string rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    target = slash == std::string::npos ? "/" : rest.substr(slash);
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
    if (host.empty() || port.empty()) throw FeedError("feed url has no host or port: " + url);
}

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
    std::string host, port, target;
    split_url(o.url, host, port, target);
    ns_per_unit(o.time_unit);
    const KlineFields& f = o.fields;
    for (const auto* p : {&f.symbol, &f.open_time, &f.open, &f.high, &f.low, &f.close, &f.volume}) pointer("kline", *p);
}

KlineFeed::KlineFeed(bus::Bus& bus, KlineFeedOptions options) : bus_(bus), options_(std::move(options)) {
    check(options_);
    split_url(options_.url, host_, port_, target_);
}

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

// One connection: blocking reads on this thread; a stop request shuts the
// socket down, which ends a blocked handshake or read.
void KlineFeed::read_connection(std::stop_token stop) {
    asio::io_context io;
    beast::websocket::stream<tcp::socket> ws(io);
    tcp::resolver resolver(io);
    asio::connect(ws.next_layer(), resolver.resolve(host_, port_));
    const auto fd = ws.next_layer().native_handle();
    std::stop_callback on_stop(stop, [fd] { ::shutdown(fd, SHUT_RDWR); });
    ws.handshake(host_ + ":" + port_, target_);
    ++connections_;
    spdlog::info("feed {}: connected", options_.url);
    for (const auto& s : options_.subscribe) ws.write(asio::buffer(s));
    beast::flat_buffer buffer;
    while (!stop.stop_requested()) {
        ws.read(buffer);
        handle(beast::buffers_to_string(buffer.data()));
        buffer.consume(buffer.size());
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
