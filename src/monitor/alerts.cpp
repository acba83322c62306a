#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class LogSink final : public AlertSink {
public:
    std::string name() const override { return "log"; }
    void send(const Alert& a) override {
        const auto level = a.severity == Severity::critical ? spdlog::level::err
                           : a.severity == Severity::warning ? spdlog::level::warn
                                                              : spdlog::level::info;
        spdlog::log(level, "alert {} [{}]: {}", a.kind, a.key, a.summary);
    }
};

class MetricsSink final : public AlertSink {
public:
    std::string name() const override { return "metrics"; }
    void send(const Alert& a) override {
        metrics::registry()
            .counter("pricecast_alerts_total", "Monitoring alerts sent, by kind and severity",
                     {{"kind", a.kind}, {"severity", std::string(to_string(a.severity))}})
            .inc();
    }
};

struct Url {
    std::string host, port, target;
};

Url parse_http_url(const std::string& url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme))
        throw MonitorError(fmt::format("webhook url '{}': only http://host[:port]/path is supported", url));
    const std::string rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    Url u{.host = authority, .port = "80", .target = slash == std::string::npos ? "/" : rest.substr(slash)};
    if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
        if (u.port.empty() || !std::all_of(u.port.begin(), u.port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            throw MonitorError(fmt::format("webhook url '{}': bad port", url));
    }
    if (u.host.empty()) throw MonitorError(fmt::format("webhook url '{}': no host", url));
    return u;
}

class WebhookSink final : public AlertSink {
public:
    WebhookSink(const std::string& url, WebhookFormat format, Duration timeout)
        : url_(parse_http_url(url)), format_(format), timeout_(timeout) {}
    std::string name() const override { return "webhook"; }

    void send(const Alert& a) override {
        const std::string body = format_ == WebhookFormat::slack ? nlohmann::json{{"text", slack_text(a)}}.dump()
                                                                 : to_json(a).dump();
        boost::asio::io_context io;
        beast::tcp_stream stream(io);
        stream.expires_after(std::chrono::nanoseconds(timeout_));
        stream.connect(tcp::resolver(io).resolve(url_.host, url_.port));
        http::request<http::string_body> req{http::verb::post, url_.target, 11};
        req.set(http::field::host, url_.host);
        req.set(http::field::content_type, "application/json");
        req.set(http::field::user_agent, "pricecast-monitor");
        req.body() = body;
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);  // the peer may have closed first
        if (res.result_int() >= 300)
            throw MonitorError(fmt::format("webhook {}:{}{} answered {}", url_.host, url_.port, url_.target,
                                           res.result_int()));
    }

private:
    static std::string slack_text(const Alert& a) {
        return fmt::format("[{}] {}: {}", to_string(a.severity), a.kind, a.summary);
    }
    Url url_;
    WebhookFormat format_;
    Duration timeout_;
};

}  // namespace

std::string_view to_string(Severity s) {
    switch (s) {
        case Severity::info: return "info";
        case Severity::warning: return "warning";
        case Severity::critical: return "critical";
    }
    return "unknown";
}

nlohmann::json to_json(const Alert& a) {
    return {{"kind", a.kind},       {"key", a.key},         {"severity", to_string(a.severity)},
            {"summary", a.summary}, {"details", a.details}, {"time", format_iso8601(a.time)}};
}

Alert performance_alert(const ModelKey& key, const std::string& symbol, const PerformanceDrift& d, Timestamp time) {
    const std::string subject = fmt::format("{} v{} {} {}", key.model, key.version, key.slot, symbol.empty() ? "all" : symbol);
    return {.kind = "performance_drift",
            .key = "performance_drift/" + subject,
            .severity = Severity::warning,
            .summary = fmt::format("{}: accuracy {:.1f}% over the short window vs {:.1f}% over the long one ({} and {} "
                                   "resolved predictions)",
                                   subject, 100 * d.short_accuracy, 100 * d.long_accuracy, d.short_resolved,
                                   d.long_resolved),
            .details = {{"model", key.model}, {"version", key.version}, {"slot", key.slot},
                        {"symbol", symbol.empty() ? "all" : symbol}, {"short_accuracy", d.short_accuracy},
                        {"long_accuracy", d.long_accuracy}, {"short_resolved", d.short_resolved},
                        {"long_resolved", d.long_resolved}},
            .time = time};
}

Alert data_drift_alert(const ModelKey& key, const DataDrift& d, Timestamp time) {
    auto features = nlohmann::json::array();
    std::string named;
    for (const auto& f : d.features) {
        if (!f.alarm) continue;
        features.push_back({{"name", f.name}, {"psi", f.psi}, {"ks", f.ks}, {"ks_p", f.ks_p}, {"n", f.n}});
        if (std::find(d.top.begin(), d.top.end(), f.name) != d.top.end())
            named += fmt::format("{}{} (PSI {:.2f}, KS {:.2f})", named.empty() ? "" : ", ", f.name, f.psi, f.ks);
    }
    const std::string subject = fmt::format("{} v{} {}", key.model, key.version, key.slot);
    return {.kind = "data_drift",
            .key = "data_drift/" + subject,
            .severity = Severity::warning,
            .summary = fmt::format("{}: {} features drifted; top: {}", subject, features.size(), named),
            .details = {{"model", key.model}, {"version", key.version}, {"slot", key.slot}, {"top", d.top},
                        {"features", features}},
            .time = time};
}

std::unique_ptr<AlertSink> make_log_sink() { return std::make_unique<LogSink>(); }
std::unique_ptr<AlertSink> make_metrics_sink() { return std::make_unique<MetricsSink>(); }
std::unique_ptr<AlertSink> make_webhook_sink(const std::string& url, WebhookFormat format, Duration timeout) {
    if (timeout <= 0) throw MonitorError("webhook timeout must be positive");
    return std::make_unique<WebhookSink>(url, format, timeout);
}

struct AlertManager::Impl {
    AlertPolicy policy;
    std::mutex mutex;
    std::vector<std::unique_ptr<AlertSink>> sinks;
    std::map<std::string, Timestamp> last_by_key;
    std::deque<Timestamp> sent_times;  // within the rate window
    Stats stats;

    bool admit(const Alert& a) {
        if (auto it = last_by_key.find(a.key); it != last_by_key.end() && a.time - it->second < policy.cooldown) {
            ++stats.duplicates;
            return false;
        }
        while (!sent_times.empty() && a.time - sent_times.front() >= policy.rate_window) sent_times.pop_front();
        if (sent_times.size() >= policy.max_per_window) {
            ++stats.rate_limited;
            return false;
        }
        last_by_key[a.key] = a.time;
        sent_times.push_back(a.time);
        return true;
    }
};

AlertManager::AlertManager(AlertPolicy policy) : impl_(std::make_unique<Impl>()) {
    if (policy.cooldown < 0 || policy.rate_window <= 0 || policy.max_per_window == 0)
        throw MonitorError("alert policy: cooldown must be >= 0, rate_window and max_per_window positive");
    impl_->policy = policy;
}

AlertManager::~AlertManager() = default;

void AlertManager::add_sink(std::unique_ptr<AlertSink> sink) {
    std::lock_guard lock(impl_->mutex);
    impl_->sinks.push_back(std::move(sink));
}

bool AlertManager::raise(const Alert& a) {
    std::lock_guard lock(impl_->mutex);
    ++impl_->stats.raised;
    if (!impl_->admit(a)) return false;
    ++impl_->stats.sent;
    for (const auto& sink : impl_->sinks) {
        // A sink that fails (a webhook that is down) must not stop the others.
        try {
            sink->send(a);
        } catch (const std::exception& e) {
            ++impl_->stats.sink_failures;
            spdlog::error("alert sink {} failed for {}: {}", sink->name(), a.key, e.what());
        }
    }
    return true;
}

AlertManager::Stats AlertManager::stats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

}  // namespace pricecast::monitor
