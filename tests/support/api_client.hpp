// Blocking HTTP and WebSocket clients (Boost.Beast) for the API tests, with a
// hang guard on every read instead of sleeps.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace pricecast::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpResult {
    int status = 0;
    std::string body;
    std::string content_type;
    std::map<std::string, std::string> headers;
    nlohmann::json json() const { return nlohmann::json::parse(body); }
};

using Headers = std::map<std::string, std::string>;

// `head`: the answer to a HEAD request, which has a Content-Length but no body.
inline HttpResult read_response(tcp::socket& socket, bool head = false) {
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(head);
    http::read(socket, buffer, parser);
    const auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    out.content_type = out.headers["Content-Type"];
    return out;
}

inline tcp::socket connect(net::io_context& ioc, int port) {
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    return socket;
}

inline HttpResult request(int port, http::verb method, const std::string& target, const std::string& body = {},
                          const Headers& headers = {}) {
    net::io_context ioc;
    auto socket = connect(ioc, port);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
        if (!headers.contains("Content-Type")) req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    http::write(socket, req);
    return read_response(socket, method == http::verb::head);
}

inline HttpResult get(int port, const std::string& target, const Headers& headers = {}) {
    return request(port, http::verb::get, target, {}, headers);
}
inline HttpResult post(int port, const std::string& target, const std::string& body, const Headers& headers = {}) {
    return request(port, http::verb::post, target, body, headers);
}

// Sends bytes as they are (malformed or oversized requests) and reads the answer.
inline HttpResult raw(int port, const std::string& bytes) {
    net::io_context ioc;
    auto socket = connect(ioc, port);
    net::write(socket, net::buffer(bytes));
    return read_response(socket);
}

class WsClient {
public:
    // `receive_buffer` > 0 shrinks the socket's receive buffer (a slow reader fills up sooner).
    explicit WsClient(int port, const std::string& target = "/ws", const Headers& headers = {}, int receive_buffer = 0)
        : ws_(ioc_) {
        auto& s = ws_.next_layer();
        s.open(tcp::v4());
        if (receive_buffer > 0) s.set_option(net::socket_base::receive_buffer_size(receive_buffer));
        s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
        ws_.set_option(beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& r) {
            for (const auto& [k, v] : headers) r.set(k, v);
        }));
        ws_.handshake("127.0.0.1", target);
    }

    void send(const std::string& text) {
        ws_.text(true);
        ws_.write(net::buffer(text));
    }
    // For a frame the server may refuse while it is still being written (it
    // closes past its size limit): a reset connection is then not an error.
    void send_refusable(const std::string& text) {
        ws_.text(true);
        beast::error_code ignored;
        ws_.write(net::buffer(text), ignored);
    }
    void send_binary(const std::string& bytes) {
        ws_.binary(true);
        ws_.write(net::buffer(bytes));
    }
    void send_json(const nlohmann::json& j) { send(j.dump()); }

    // The next text frame; nullopt when the connection ended or nothing came
    // within the hang guard.
    std::optional<std::string> read(std::chrono::seconds guard = std::chrono::seconds(30)) {
        if (closed_) return std::nullopt;
        beast::flat_buffer buffer;
        bool done = false;
        beast::error_code error;
        ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) {
            done = true;
            error = ec;
        });
        ioc_.restart();
        ioc_.run_for(guard);
        if (!done) {
            beast::error_code ignored;
            ws_.next_layer().close(ignored);
            ioc_.restart();
            ioc_.run_for(std::chrono::seconds(5));
            closed_ = true;
            return std::nullopt;
        }
        if (error) {
            closed_ = true;
            return std::nullopt;
        }
        return beast::buffers_to_string(buffer.data());
    }
    std::optional<nlohmann::json> read_json(std::chrono::seconds guard = std::chrono::seconds(30)) {
        auto text = read(guard);
        if (!text) return std::nullopt;
        return nlohmann::json::parse(*text);
    }

    // The socket under the stream, e.g. to shrink its receive buffer.
    tcp::socket& socket() { return ws_.next_layer(); }

private:
    net::io_context ioc_;
    beast::websocket::stream<tcp::socket> ws_;
    bool closed_ = false;
};

}  // namespace pricecast::test
