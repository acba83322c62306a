// Alerts: webhooks received by a local HTTP server (Beast, in this test), the
// Slack payload, de-duplication, rate limiting, failing sinks and the
// Prometheus counter.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "monitor/monitor.hpp"

using namespace pricecast;
using namespace pricecast::monitor;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// Answers `expected` requests with `status`, keeping what it received.
class WebhookServer {
public:
    struct Received {
        std::string target, content_type, body;
    };

    WebhookServer(std::size_t expected, http::status status = http::status::ok)
        : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}), status_(status) {
        thread_ = std::thread([this, expected] { serve(expected); });
    }
    // A test that failed before sending everything must not hang here:
    // shutting the listening socket down wakes the blocked accept.
    ~WebhookServer() {
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
        thread_.join();
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
    }
    // Waits (generously) for n requests; returns what arrived.
    std::vector<Received> wait_for(std::size_t n) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::seconds(60), [&] { return received_.size() >= n; });
        return received_;
    }

private:
    void serve(std::size_t expected) {
        for (std::size_t i = 0; i < expected; ++i) {
            tcp::socket socket(io_);
            beast::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec) return;
            beast::flat_buffer buffer;
            http::request<http::string_body> req;
            http::read(socket, buffer, req);
            {
                std::lock_guard lock(mutex_);
                received_.push_back({std::string(req.target()), std::string(req[http::field::content_type]), req.body()});
            }
            cv_.notify_all();
            http::response<http::string_body> res{status_, 11};
            res.body() = "ok";
            res.prepare_payload();
            http::write(socket, res);
            socket.shutdown(tcp::socket::shutdown_both, ec);
        }
    }

    boost::asio::io_context io_;
    tcp::acceptor acceptor_;
    http::status status_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Received> received_;
};

Alert alert(const std::string& key, Timestamp time) {
    return {.kind = "data_drift", .key = key, .severity = Severity::warning, .summary = "drift in " + key,
            .details = {{"top", {"1m:natr(14)"}}}, .time = time};
}

class Recorder final : public AlertSink {
public:
    explicit Recorder(std::vector<std::string>* keys) : keys_(keys) {}
    std::string name() const override { return "recorder"; }
    void send(const Alert& a) override { keys_->push_back(a.key); }

private:
    std::vector<std::string>* keys_;
};

class Broken final : public AlertSink {
public:
    std::string name() const override { return "broken"; }
    void send(const Alert&) override { throw std::runtime_error("down"); }
};

TEST(Webhook, PostsTheAlertAsJson) {
    WebhookServer server(1);
    AlertManager alerts;
    alerts.add_sink(make_webhook_sink(server.url("/hooks/pricecast"), WebhookFormat::json));
    const auto a = alert("data_drift/gbdt v1 champion", 5 * kMinute);
    ASSERT_TRUE(alerts.raise(a));
    const auto got = server.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].target, "/hooks/pricecast");
    EXPECT_EQ(got[0].content_type, "application/json");
    const auto body = nlohmann::json::parse(got[0].body);
    EXPECT_EQ(body, to_json(a));
    EXPECT_EQ(body["details"]["top"][0], "1m:natr(14)");
    EXPECT_EQ(body["time"], "1970-01-01T00:05:00Z");
    EXPECT_EQ(alerts.stats().sink_failures, 0u);
}

TEST(Webhook, SlackPayloadIsJustText) {
    WebhookServer server(1);
    auto sink = make_webhook_sink(server.url("/services/T0/B0/x"), WebhookFormat::slack);
    sink->send(alert("k", 0));
    const auto body = nlohmann::json::parse(server.wait_for(1).at(0).body);
    ASSERT_EQ(body.size(), 1u);
    EXPECT_EQ(body["text"], "[warning] data_drift: drift in k");
}

TEST(Webhook, ErrorStatusIsASinkFailureAndOtherSinksStillGetTheAlert) {
    WebhookServer server(1, http::status::internal_server_error);
    std::vector<std::string> keys;
    AlertManager alerts;
    alerts.add_sink(make_webhook_sink(server.url("/"), WebhookFormat::json));
    alerts.add_sink(std::make_unique<Broken>());
    alerts.add_sink(std::make_unique<Recorder>(&keys));
    EXPECT_TRUE(alerts.raise(alert("k", 0)));
    EXPECT_EQ(server.wait_for(1).size(), 1u);
    EXPECT_EQ(keys, std::vector<std::string>{"k"});
    EXPECT_EQ(alerts.stats().sink_failures, 2u);
}

TEST(Webhook, BadUrlsAreRejectedUpFront) {
    EXPECT_THROW(make_webhook_sink("https://example.com/x", WebhookFormat::json), MonitorError);
    EXPECT_THROW(make_webhook_sink("http://:80/x", WebhookFormat::json), MonitorError);
    EXPECT_THROW(make_webhook_sink("http://host:8x/x", WebhookFormat::json), MonitorError);
    EXPECT_THROW(make_webhook_sink("http://host/x", WebhookFormat::json, 0), MonitorError);
    EXPECT_NO_THROW(make_webhook_sink("http://host", WebhookFormat::json));
}

TEST(AlertManager, SameKeyWithinTheCooldownIsDropped) {
    std::vector<std::string> keys;
    AlertManager alerts({.cooldown = kHour, .max_per_window = 100, .rate_window = kHour});
    alerts.add_sink(std::make_unique<Recorder>(&keys));
    EXPECT_TRUE(alerts.raise(alert("a", 0)));
    EXPECT_FALSE(alerts.raise(alert("a", 30 * kMinute)));
    EXPECT_TRUE(alerts.raise(alert("b", 30 * kMinute)));
    EXPECT_TRUE(alerts.raise(alert("a", kHour)));  // the cool-down is over
    EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "a"}));
    EXPECT_EQ(alerts.stats().duplicates, 1u);
    EXPECT_EQ(alerts.stats().raised, 4u);
}

TEST(AlertManager, RateLimitsDistinctAlertsPerWindow) {
    std::vector<std::string> keys;
    AlertManager alerts({.cooldown = 0, .max_per_window = 2, .rate_window = 10 * kMinute});
    alerts.add_sink(std::make_unique<Recorder>(&keys));
    EXPECT_TRUE(alerts.raise(alert("a", 0)));
    EXPECT_TRUE(alerts.raise(alert("b", kMinute)));
    EXPECT_FALSE(alerts.raise(alert("c", 2 * kMinute)));
    EXPECT_TRUE(alerts.raise(alert("c", 10 * kMinute)));  // "a" left the window
    EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(alerts.stats().rate_limited, 1u);
    EXPECT_THROW(AlertManager({.cooldown = 0, .max_per_window = 0, .rate_window = kHour}), MonitorError);
}

TEST(AlertSinks, MetricsCounterAndLog) {
    AlertManager alerts({.cooldown = 0, .max_per_window = 100, .rate_window = kHour});
    alerts.add_sink(make_metrics_sink());
    alerts.add_sink(make_log_sink());
    auto& counter = metrics::registry().counter("pricecast_alerts_total", "Monitoring alerts sent, by kind and severity",
                                                {{"kind", "data_drift"}, {"severity", "warning"}});
    const double before = counter.value();
    alerts.raise(alert("a", 0));
    alerts.raise(alert("b", 0));
    EXPECT_EQ(counter.value(), before + 2);
    EXPECT_EQ(alerts.stats().sink_failures, 0u);
    EXPECT_NE(metrics::registry().exposition().find("pricecast_alerts_total{"), std::string::npos);
}

}  // namespace
