// The network side of the API: listeners, HTTP sessions (Beast parser limits
// become 413/431/400), authentication, the WebSocket prediction and bar stream and the
// server's own metrics. Routes live in routes.cpp.
#include <atomic>
#include <list>
#include <set>
#include <thread>

#include <sys/resource.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/routes.hpp"
#include "registry/sha256.hpp"

namespace pricecast::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using detail::Access;
using detail::Request;
using detail::Response;
using nlohmann::json;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kAcceptRetry = std::chrono::milliseconds(500);
constexpr std::size_t kMaxWsFrame = 64 << 10;
// Per connection, so that a client's subscription set (and the "subscribed"
// reply listing it) stays small; "*" subscribes to every symbol.
constexpr std::size_t kMaxWsSymbols = 1000;
constexpr std::size_t kMaxWsSymbolBytes = 128;

using Digest = std::array<std::uint8_t, 32>;

Digest digest(std::string_view key) {
    registry::Sha256 h;
    h.update(key);
    return h.finish();
}

// Digests have one length, so the comparison time says nothing about the key.
bool same_digest(const Digest& a, const Digest& b) {
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

template <class Fields>
std::string key_of(const Fields& fields) {
    if (const auto it = fields.find("X-API-Key"); it != fields.end()) return std::string(it->value());
    if (const auto it = fields.find(http::field::authorization); it != fields.end()) {
        const std::string_view v(it->value().data(), it->value().size());
        if (v.size() > 7 && (v.starts_with("Bearer ") || v.starts_with("bearer "))) return std::string(v.substr(7));
    }
    return {};
}

std::size_t connection_limit(std::size_t configured) {
    if (configured > 0) return configured;
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY)
        return std::numeric_limits<std::size_t>::max();
    return std::max<std::size_t>(16, files.rlim_cur / 4 * 3);
}

// One open connection, counted while the HTTP or WebSocket session holding it lives.
class ConnectionSlot {
public:
    explicit ConnectionSlot(std::atomic<std::size_t>& open) : open_(&open) { open_->fetch_add(1); }
    ConnectionSlot(ConnectionSlot&& other) noexcept : open_(std::exchange(other.open_, nullptr)) {}
    ConnectionSlot& operator=(ConnectionSlot&&) = delete;
    ~ConnectionSlot() {
        if (open_) open_->fetch_sub(1);
    }

private:
    std::atomic<std::size_t>* open_;
};

}  // namespace

// ---- server state shared by the sessions ------------------------------------------------

class WsSession;

struct ServerState {
    ServerState(Services s, ServerOptions o)
        : services(std::move(s)),
          options(std::move(o)),
          router(services, options, own_metrics),
          max_connections(connection_limit(options.max_connections)) {
        for (const auto& k : options.keys) {
            if (k.key.empty()) throw std::invalid_argument("api keys: an empty key is not allowed");
            keys.push_back({digest(k.key), k.role});
        }
        if (options.threads < 1) throw std::invalid_argument("api threads must be >= 1");
        if (options.ws_queue_limit < 1) throw std::invalid_argument("api ws_queue_limit must be >= 1");
        if (options.ws_queue_bytes < 1) throw std::invalid_argument("api ws_queue_bytes must be >= 1");
        // Present from the first scrape, before any client came or went.
        ws_clients();
        ws_dropped();
        ws_sent();
        accept_errors();
        over_limit();
    }

    // nullopt: allowed; else the refusal to send.
    std::optional<Response> authorize(Access access, const std::string& key) const {
        if (keys.empty() || access == Access::open) return std::nullopt;
        if (key.empty()) {
            auto r = detail::error_response(401, "missing API key (X-API-Key header or Authorization: Bearer)");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
        const Digest d = digest(key);
        std::optional<Role> role;
        for (const auto& k : keys)  // no early exit: every key is compared
            if (same_digest(d, k.digest)) role = k.role;
        if (!role) {
            auto r = detail::error_response(401, "unknown API key");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
        if (access == Access::admin && *role != Role::admin)
            return detail::error_response(403, "this route needs an admin key");
        return std::nullopt;
    }

    void count(const std::string& route, int status, double seconds) {
        own_metrics
            .counter("pricecast_http_requests_total", "HTTP requests by route and status code",
                     {{"route", route}, {"code", std::to_string(status)}})
            .inc();
        own_metrics
            .histogram("pricecast_http_request_duration_seconds", "HTTP request handling time", {{"route", route}})
            .observe(seconds);
    }
    metrics::Gauge& ws_clients() { return own_metrics.gauge("pricecast_ws_clients", "Connected WebSocket clients"); }
    metrics::Counter& ws_dropped() {
        return own_metrics.counter("pricecast_ws_dropped_total", "WebSocket clients closed for falling behind");
    }
    metrics::Counter& ws_sent() {
        return own_metrics.counter("pricecast_ws_messages_sent_total", "WebSocket messages sent");
    }
    metrics::Counter& accept_errors() {
        return own_metrics.counter("pricecast_http_accept_errors_total",
                                   "Failed accepts, such as no file descriptor left; retried after a pause");
    }
    metrics::Counter& over_limit() {
        return own_metrics.counter("pricecast_http_connections_refused_total",
                                   "Connections closed at once because max_connections were open");
    }

    void broadcast(const Prediction& p);
    void broadcast(const Bar& b);
    void broadcast(const std::string& symbol, std::string_view type, nlohmann::json message);
    void add_client(const std::shared_ptr<WsSession>& s) {
        std::lock_guard lock(clients_mutex);
        clients[s.get()] = s;
    }
    void remove_client(const WsSession* s) {
        std::lock_guard lock(clients_mutex);
        clients.erase(s);
    }
    void listen(tcp::acceptor& acceptor, int port, bool ws_only);

    struct Key {
        Digest digest;
        Role role;
    };

    Services services;
    ServerOptions options;
    metrics::Registry own_metrics;
    detail::Router router;
    std::vector<Key> keys;

    std::mutex clients_mutex;
    std::map<const WsSession*, std::weak_ptr<WsSession>> clients;
    int listener_id = -1, bar_listener_id = -1;

    const std::size_t max_connections;
    std::atomic<std::size_t> open_connections{0};  // held by ConnectionSlot
    std::atomic<bool> accept_trouble{false};       // logs the first of a run of refusals only

    // One io_context per start(): stop() destroys it and, with it, the
    // sessions its pending handlers own, so every connection closes. Declared
    // last so that, at destruction too, it goes before what sessions point at.
    std::unique_ptr<net::io_context> ioc;
    std::optional<tcp::acceptor> http_acceptor, ws_acceptor;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    int bound_port = -1, bound_ws_port = -1;

    void shutdown() {
        if (services.predictions && listener_id >= 0) services.predictions->unlisten(listener_id);
        listener_id = -1;
        if (services.bars && bar_listener_id >= 0) services.bars->unlisten(bar_listener_id);
        bar_listener_id = -1;
        work.reset();
        if (ioc) ioc->stop();
        for (auto& t : threads) t.join();
        threads.clear();
        http_acceptor.reset();
        ws_acceptor.reset();
        ioc.reset();
        std::lock_guard lock(clients_mutex);
        clients.clear();
    }
};

// ---- WebSocket --------------------------------------------------------------------------

class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    WsSession(ServerState& server, tcp::socket socket, ConnectionSlot slot)
        : server_(server), ws_(std::move(socket)), slot_(std::move(slot)) {}

    void accept(http::request<http::string_body> request) {
        beast::get_lowest_layer(ws_).expires_never();
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.read_message_max(kMaxWsFrame);
        ws_.async_accept(request, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
    }

    // From the thread adding the prediction or bar: never blocks on the socket.
    // Coalesced per (type, symbol), so a newer bar never replaces a queued prediction.
    void offer(const std::string& symbol, std::string_view type, const std::string& text) {
        std::lock_guard lock(mutex_);
        if (closed_ || (!all_ && !symbols_.contains(symbol))) return;
        Slot slot{std::string(type), symbol};
        if (const auto it = pending_.find(slot); it != pending_.end()) {
            queued_bytes_ -= it->second->text.size();
            it->second->text = text;  // not sent yet: only the newest matters
            queued_bytes_ += text.size();
            return settle_locked();
        }
        queue_.push_back({slot, text});
        queued_bytes_ += text.size();
        pending_[std::move(slot)] = std::prev(queue_.end());
        settle_locked();
    }

private:
    using Slot = std::pair<std::string, std::string>;  // (message type, symbol)
    struct Out {
        Slot slot;  // empty for replies, which are never coalesced
        std::string text;
    };

    void on_accept(beast::error_code ec) {
        if (ec) return;
        accepted_ = true;
        server_.ws_clients().add(1);
        server_.add_client(shared_from_this());
        read();
    }

    void read() { ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this())); }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return finish();
        if (ws_.got_text())
            handle(beast::buffers_to_string(buffer_.data()));
        else
            reply_error("binary frames are not accepted; send JSON text");
        buffer_.consume(buffer_.size());
        read();
    }

    void handle(const std::string& text) {
        const json j = json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return reply_error("frame is not a JSON object");
        if (!j.contains("op") || !j["op"].is_string())
            return reply_error("field 'op' is required (subscribe or unsubscribe)");
        const auto op = j["op"].get<std::string>();
        if (op != "subscribe" && op != "unsubscribe")
            return reply_error(fmt::format("unknown op '{}'; use subscribe or unsubscribe", op));
        if (!j.contains("symbols") || !j["symbols"].is_array() || j["symbols"].empty() ||
            !std::all_of(j["symbols"].begin(), j["symbols"].end(), [](const json& s) { return s.is_string(); }))
            return reply_error("field 'symbols' must be a non-empty array of strings (\"*\" for all)");
        for (const auto& s : j["symbols"])
            if (s.get_ref<const std::string&>().size() > kMaxWsSymbolBytes)
                return reply_error(fmt::format("field 'symbols': a symbol is at most {} bytes", kMaxWsSymbolBytes));
        std::unique_lock lock(mutex_);
        // Applied to a copy: a request past the limit changes nothing.
        auto symbols = symbols_;
        bool all = all_;
        for (const auto& s : j["symbols"]) {
            const auto symbol = s.get<std::string>();
            if (symbol == "*")
                all = op == "subscribe";
            else if (op == "subscribe")
                symbols.insert(symbol);
            else
                symbols.erase(symbol);
            if (symbol == "*" && op == "unsubscribe") symbols.clear();
        }
        if (symbols.size() > kMaxWsSymbols) {
            lock.unlock();
            return reply_error(fmt::format(
                "field 'symbols': at most {} symbols per connection (\"*\" for all)", kMaxWsSymbols));
        }
        symbols_ = std::move(symbols);
        all_ = all;
        json now = json::array();
        if (all_) now.push_back("*");
        for (const auto& s : symbols_) now.push_back(s);
        enqueue_locked(json{{"type", "subscribed"}, {"symbols", now}}.dump());
    }

    void reply_error(std::string_view message) {
        std::lock_guard lock(mutex_);
        enqueue_locked(json{{"type", "error"}, {"message", message}}.dump());
    }

    void enqueue_locked(std::string text) {
        if (closed_) return;
        queued_bytes_ += text.size();
        queue_.push_back({{}, std::move(text)});
        settle_locked();
    }

    // Past either limit the client is dropped; else a writer is started if idle.
    void settle_locked() {
        if (queue_.size() > server_.options.ws_queue_limit || queued_bytes_ > server_.options.ws_queue_bytes) {
            spdlog::warn("api: dropped a WebSocket client {} messages ({} bytes) behind", queue_.size(),
                         queued_bytes_);
            closed_ = true;
            clear_locked();
            server_.ws_dropped().inc();
            net::post(ws_.get_executor(), [self = shared_from_this()] {
                beast::error_code ignored;
                beast::get_lowest_layer(self->ws_).socket().close(ignored);  // cancels the pending read/write
            });
            return;
        }
        if (writing_) return;
        writing_ = true;
        net::post(ws_.get_executor(), [self = shared_from_this()] { self->write_next(); });
    }

    void write_next() {
        {
            std::lock_guard lock(mutex_);
            if (closed_ || queue_.empty()) {
                writing_ = false;
                return;
            }
            auto& front = queue_.front();
            if (!front.slot.second.empty()) pending_.erase(front.slot);
            queued_bytes_ -= front.text.size();
            current_ = std::move(front.text);
            queue_.pop_front();
        }
        ws_.text(true);
        ws_.async_write(net::buffer(current_), beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return finish();
        server_.ws_sent().inc();
        write_next();
    }

    void clear_locked() {
        queue_.clear();
        pending_.clear();
        queued_bytes_ = 0;
    }

    void finish() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            clear_locked();
        }
        if (!accepted_ || finished_.exchange(true)) return;
        server_.remove_client(this);
        server_.ws_clients().add(-1);
    }

    ServerState& server_;
    websocket::stream<beast::tcp_stream> ws_;
    ConnectionSlot slot_;
    beast::flat_buffer buffer_;
    std::string current_;  // the frame being written
    bool accepted_ = false;
    std::atomic<bool> finished_{false};

    std::mutex mutex_;  // guards what the adding thread touches
    std::list<Out> queue_;
    std::map<Slot, std::list<Out>::iterator> pending_;  // (type, symbol) -> its queued, unsent message
    std::size_t queued_bytes_ = 0;                      // of the texts in queue_
    std::set<std::string> symbols_;
    bool all_ = false, writing_ = false, closed_ = false;
};

void ServerState::broadcast(const Prediction& p) { broadcast(p.symbol, "prediction", detail::prediction_json(p)); }

void ServerState::broadcast(const Bar& b) { broadcast(b.symbol, "bar", detail::bar_json(b)); }

void ServerState::broadcast(const std::string& symbol, std::string_view type, nlohmann::json message) {
    message["type"] = type;
    const std::string text = message.dump();
    std::vector<std::shared_ptr<WsSession>> live;
    {
        std::lock_guard lock(clients_mutex);
        for (const auto& [ptr, weak] : clients)
            if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (const auto& s : live) s->offer(symbol, type, text);
}

// ---- HTTP -------------------------------------------------------------------------------

class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(ServerState& server, tcp::socket socket, bool ws_only)
        : server_(server), stream_(std::move(socket)), slot_(server.open_connections), ws_only_(ws_only) {}

    void run() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

private:
    void read() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
        parser_->body_limit(server_.options.max_body_bytes);
        stream_.expires_after(kIdleTimeout);
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::body_limit)
            return reply_and_close(413,
                                   fmt::format("request body larger than {} bytes", server_.options.max_body_bytes));
        if (ec == http::error::header_limit)
            return reply_and_close(
                431, fmt::format("request headers larger than {} bytes", server_.options.max_header_bytes));
        if (ec == http::error::end_of_stream || ec == http::error::partial_message) return close();
        if (ec && ec.category() == http::make_error_code(http::error::bad_method).category())
            return reply_and_close(400, fmt::format("malformed HTTP request: {}", ec.message()));
        if (ec) return close();
        auto request = parser_->release();
        // An ops-only port has no /ws: its router answers the upgrade request with the 404.
        if (websocket::is_upgrade(request) && !server_.options.ops_only) return upgrade(std::move(request));
        respond(std::move(request));
    }

    void respond(http::request<http::string_body> req) {
        const auto start = std::chrono::steady_clock::now();
        auto parsed = detail::parse_target(std::string_view(req.target().data(), req.target().size()));
        Response res;
        std::string route = "unknown";
        if (!parsed) {
            res = detail::error_response(400, "malformed request target (bad percent-escape)");
        } else if (ws_only_) {
            res = detail::error_response(426, "this port serves WebSocket only: send an Upgrade request");
        } else {
            parsed->method = std::string(req.method_string());
            parsed->body = std::move(req.body());
            parsed->content_type = std::string(req[http::field::content_type]);
            parsed->api_key = key_of(req);
            const auto r = server_.router.route(*parsed);
            route = r.name;
            auto denied = server_.authorize(r.access, parsed->api_key);
            res = denied ? std::move(*denied) : server_.router.handle(*parsed);
        }
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        server_.count(route, res.status, took.count());
        send(std::move(res), req.version(), req.keep_alive(), req.method() == http::verb::head);
    }

    void upgrade(http::request<http::string_body> req) {
        auto parsed = detail::parse_target(std::string_view(req.target().data(), req.target().size()));
        if (!parsed || (!ws_only_ && parsed->path != "/ws")) return reply_and_close(404, "WebSocket endpoint is /ws");
        std::string key = key_of(req);
        if (key.empty() && parsed->query.contains("api_key")) key = parsed->query["api_key"];
        if (auto denied = server_.authorize(Access::read, key)) {
            server_.count("/ws", denied->status, 0);
            return send(std::move(*denied), req.version(), false);
        }
        if (auto bad = handshake_problem(req)) {
            server_.count("/ws", bad->status, 0);
            return send(std::move(*bad), req.version(), false);
        }
        server_.count("/ws", 101, 0);
        std::make_shared<WsSession>(server_, stream_.release_socket(), std::move(slot_))->accept(std::move(req));
    }

    // Beast answers a bad handshake itself, in plain text: it is checked here
    // first so that the client gets a JSON error like every other one.
    static std::optional<Response> handshake_problem(const http::request<http::string_body>& req) {
        if (req[http::field::sec_websocket_version] != "13") {
            auto r = detail::error_response(426, "WebSocket version 13 is required (Sec-WebSocket-Version: 13)");
            r.headers.emplace_back("Sec-WebSocket-Version", "13");
            return r;
        }
        const auto key = req[http::field::sec_websocket_key];
        if (!is_nonce(std::string_view(key.data(), key.size())))
            return detail::error_response(400, "Sec-WebSocket-Key must be a base64-encoded 16-byte nonce");
        return std::nullopt;
    }
    // RFC 6455 4.1: 16 random bytes in base64, so 22 characters and "==".
    static bool is_nonce(std::string_view key) {
        const auto base64 = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; };
        return key.size() == 24 && key.ends_with("==") && std::all_of(key.begin(), key.end() - 2, base64);
    }

    void reply_and_close(int status, std::string_view message) {
        server_.count("malformed", status, 0);
        send(detail::error_response(status, message), 11, false);
    }

    // A HEAD answer is the GET answer's header, Content-Length included, without the body.
    void send(Response r, unsigned version, bool keep_alive, bool head = false) {
        auto res = std::make_shared<http::response<http::string_body>>();
        res->version(version);
        res->result(static_cast<unsigned>(r.status));
        res->set(http::field::server, "pricecast/" PRICECAST_VERSION);
        res->set(http::field::content_type, r.content_type);
        for (const auto& [k, v] : r.headers) res->set(k, v);
        res->keep_alive(keep_alive);
        const std::size_t length = r.body.size();
        if (!head) res->body() = std::move(r.body);
        res->prepare_payload();
        if (head) res->content_length(length);
        response_ = res;
        http::async_write(stream_, *res, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
            self->response_.reset();
            if (ec) return self->close();
            if (keep_alive) return self->read();
            self->linger();
        });
    }

    // Stops sending, then reads what the client still sends until it closes:
    // closing with unread input would reset the connection and could destroy
    // the error response before the client reads it.
    void linger() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(std::chrono::seconds(5));
        drain_.resize(4096);
        stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->linger_more();
        });
    }
    void linger_more() {
        stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->linger_more();
        });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    ServerState& server_;
    beast::tcp_stream stream_;
    ConnectionSlot slot_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<http::response<http::string_body>> response_;
    std::string drain_;
    bool ws_only_;
};

// ---- listeners --------------------------------------------------------------------------

namespace {

void accept_loop(ServerState& server, tcp::acceptor& acceptor, bool ws_only);

// A failed accept fails again at once while its cause lasts (no descriptor
// left: EMFILE), so an immediate retry would spin a core: pause first.
void accept_later(ServerState& server, tcp::acceptor& acceptor, bool ws_only, beast::error_code ec) {
    server.accept_errors().inc();
    if (!server.accept_trouble.exchange(true))
        spdlog::warn("api: cannot accept connections: {}; retrying every {} ms", ec.message(), kAcceptRetry.count());
    auto timer = std::make_shared<net::steady_timer>(acceptor.get_executor(), kAcceptRetry);
    timer->async_wait([&server, &acceptor, ws_only, timer](beast::error_code e) {
        if (!e && acceptor.is_open()) accept_loop(server, acceptor, ws_only);
    });
}

// Past max_connections a new connection is closed unanswered: answering would
// hold its descriptor longer, and descriptors are what is running out.
void refuse(ServerState& server, tcp::socket& socket) {
    server.over_limit().inc();
    if (!server.accept_trouble.exchange(true))
        spdlog::warn("api: {} connections open, the limit: closing new ones until some end", server.max_connections);
    beast::error_code ignored;
    socket.close(ignored);
}

void accept_loop(ServerState& server, tcp::acceptor& acceptor, bool ws_only) {
    acceptor.async_accept(net::make_strand(*server.ioc),
                          [&server, &acceptor, ws_only](beast::error_code ec, tcp::socket socket) {
                              if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
                              if (ec) return accept_later(server, acceptor, ws_only, ec);
                              if (server.open_connections.load() >= server.max_connections) {
                                  refuse(server, socket);
                              } else {
                                  server.accept_trouble = false;
                                  // Small frames (one prediction) must leave at once, not wait for Nagle.
                                  socket.set_option(tcp::no_delay(true), ec);
                                  std::make_shared<HttpSession>(server, std::move(socket), ws_only)->run();
                              }
                              accept_loop(server, acceptor, ws_only);
                          });
}

}  // namespace

void ServerState::listen(tcp::acceptor& acceptor, int port, bool ws_only) {
    beast::error_code ec;
    const auto address = net::ip::make_address(options.host, ec);
    if (ec) throw std::invalid_argument(fmt::format("api host '{}' is not an IP address", options.host));
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", options.host, port, ec.message()));
    acceptor.listen(net::socket_base::max_listen_connections);
    accept_loop(*this, acceptor, ws_only);
}

struct Server::Impl : ServerState {
    using ServerState::ServerState;
};

Server::Server(Services services, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(services), std::move(options))) {
    if (impl_->options.port < 0 || impl_->options.port > 65535)
        throw std::invalid_argument(fmt::format("api port {} is out of range", impl_->options.port));
    if (impl_->options.ws_port > 65535)
        throw std::invalid_argument(fmt::format("api ws_port {} is out of range", impl_->options.ws_port));
    if (impl_->options.ops_only && impl_->options.ws_port >= 0)
        throw std::invalid_argument("an ops-only server (/health, /ready, /metrics) has no WebSocket port");
}

Server::~Server() { stop(); }

void Server::start() {
    auto& s = *impl_;
    if (s.ioc) return;
    s.ioc = std::make_unique<net::io_context>();
    try {
        s.http_acceptor.emplace(*s.ioc);
        s.listen(*s.http_acceptor, s.options.port, false);
        s.bound_port = s.http_acceptor->local_endpoint().port();
        if (s.options.ws_port >= 0) {
            s.ws_acceptor.emplace(*s.ioc);
            s.listen(*s.ws_acceptor, s.options.ws_port, true);
            s.bound_ws_port = s.ws_acceptor->local_endpoint().port();
        }
    } catch (...) {
        s.shutdown();
        throw;
    }
    if (s.services.predictions)
        s.listener_id = s.services.predictions->listen([&s](const Prediction& p) { s.broadcast(p); });
    if (s.services.bars) s.bar_listener_id = s.services.bars->listen([&s](const Bar& b) { s.broadcast(b); });
    s.work.emplace(s.ioc->get_executor());
    for (int i = 0; i < s.options.threads; ++i) s.threads.emplace_back([&s] { s.ioc->run(); });
}

void Server::stop() { impl_->shutdown(); }

int Server::port() const { return impl_->bound_port; }

int Server::ws_port() const { return impl_->bound_ws_port; }

}  // namespace pricecast::api
