// The REST routes: request in, JSON out, no sockets (the server owns those).
#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "api/routes.hpp"
#include "bus/messages.hpp"
#include "core/text.hpp"
#include "data/news.hpp"
#include "monitor/monitor.hpp"
#include "registry/registry.hpp"

namespace pricecast::api::detail {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A request the client must fix; becomes a 4xx with the message.
struct ClientError {
    int status;
    std::string message;
    std::vector<std::pair<std::string, std::string>> headers{};
};

[[noreturn]] void fail(int status, std::string message) { throw ClientError{status, std::move(message)}; }

// What an ops-only server answers (ServerOptions::ops_only).
bool ops_path(std::string_view p) { return p == "/health" || p == "/ready" || p == "/metrics"; }

constexpr std::array<const char*, 3> kClassNames = {"DOWN", "STABLE", "UP"};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+' && plus_is_space) {
            out += ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Only JSON is read: a browser sends text/plain and form bodies to another
// origin without asking first, so accepting them would let any web page the
// operator opens promote a model on a server without keys.
void require_json(const Request& r) {
    std::string type = r.content_type.substr(0, r.content_type.find(';'));
    std::erase_if(type, [](unsigned char c) { return std::isspace(c); });
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
    if (type != "application/json")
        fail(415, fmt::format("request body must be sent as Content-Type: application/json, not '{}'",
                              r.content_type.empty() ? "(none)" : r.content_type));
}

json parse_body(const Request& r) {
    require_json(r);
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) fail(400, "request body is not valid JSON");
    if (!j.is_object()) fail(400, "request body must be a JSON object");
    return j;
}

void only_fields(const json& body, std::initializer_list<std::string_view> allowed) {
    for (const auto& [k, v] : body.items())
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
            fail(400, fmt::format("unknown field '{}' in the request body", k));
}

template <class T>
T field_or(const json& body, const char* name, T fallback, bool (json::*is)() const noexcept, const char* what) {
    if (!body.contains(name)) return fallback;
    if (!(body[name].*is)()) fail(400, fmt::format("field '{}' must be {}", name, what));
    return body[name].get<T>();
}

const std::string& query_param(const Request& r, const std::string& name) {
    const auto it = r.query.find(name);
    if (it == r.query.end() || it->second.empty()) fail(400, fmt::format("query parameter '{}' is required", name));
    return it->second;
}

Timestamp time_param(const Request& r, const std::string& name, Timestamp fallback) {
    const auto it = r.query.find(name);
    if (it == r.query.end()) return fallback;
    const std::string& text = it->second;
    Timestamp t = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
        // Nanoseconds before 1970-01-12 are no market's; such a number is
        // seconds or milliseconds, which read as nanoseconds would match everything.
        if (t > 0 && t < 1'000'000'000'000'000)
            fail(400, fmt::format("query parameter '{}': {} looks like epoch seconds or milliseconds; give epoch "
                                  "nanoseconds or an ISO-8601 time",
                                  name, text));
        return t;
    }
    if (const auto iso = parse_iso8601(text)) return *iso;
    fail(400, fmt::format("query parameter '{}': expected an ISO-8601 time in the years 1678-2261 (what epoch "
                          "nanoseconds reach) or epoch nanoseconds, got '{}'",
                          name, text));
}

// ?from=&to= (both optional, inclusive); 400 when from is after to.
std::pair<Timestamp, Timestamp> time_range_params(const Request& r) {
    const Timestamp from = time_param(r, "from", std::numeric_limits<Timestamp>::min());
    const Timestamp to = time_param(r, "to", std::numeric_limits<Timestamp>::max());
    if (from > to) fail(400, "query parameter 'from' is after 'to'");
    return {from, to};
}

// Each window is a pass over the prediction log on a server thread: a long
// list (3500 windows in one URL took 30 s) stalled every other request.
constexpr std::size_t kMaxWindows = 10;

// Windows as in `pricecast monitor report`: "24h,168h" by default.
std::vector<Duration> windows_param(const Request& r) {
    const auto it = r.query.find("window");
    const std::string text = it == r.query.end() ? "24h,168h" : it->second;
    std::vector<Duration> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = std::min(text.find(',', start), text.size());
        const auto item = text.substr(start, comma - start);
        const auto d = parse_duration(item);
        if (!d || *d <= 0)
            fail(400, fmt::format("query parameter 'window': '{}' is not a positive duration (e.g. 24h)", item));
        out.push_back(*d);
        start = comma + 1;
    }
    if (out.size() > kMaxWindows)
        fail(400, fmt::format("query parameter 'window': at most {} windows, got {}", kMaxWindows, out.size()));
    return out;
}

registry::Registry open_registry(const Services& s) {
    if (s.data_dir.empty()) fail(503, "this server has no data directory (model registry)");
    registry::Options o;
    o.who = "api";
    return registry::Registry(s.data_dir, o);
}

std::string_view content_type(const fs::path& p) {
    static const std::map<std::string, std::string_view> types = {{".html", "text/html; charset=utf-8"},
                                                                  {".htm", "text/html; charset=utf-8"},
                                                                  {".js", "text/javascript; charset=utf-8"},
                                                                  {".mjs", "text/javascript; charset=utf-8"},
                                                                  {".css", "text/css; charset=utf-8"},
                                                                  {".json", "application/json"},
                                                                  {".svg", "image/svg+xml"},
                                                                  {".png", "image/png"},
                                                                  {".ico", "image/x-icon"},
                                                                  {".txt", "text/plain; charset=utf-8"},
                                                                  {".map", "application/json"},
                                                                  {".woff2", "font/woff2"}};
    const auto it = types.find(p.extension().string());
    return it == types.end() ? "application/octet-stream" : it->second;
}

// One step of /v1/predict: numbers in schema column order, or an object of
// column name -> number as GET /v1/features/latest returns it.
void append_step(const json& row, std::size_t i, const features::FeatureSchema* schema, models::SampleSet& s) {
    if (row.is_object()) {
        if (!schema) fail(422, fmt::format("features[{}]: named features need the served model's schema", i));
        for (const auto& [name, v] : row.items()) {
            try {
                (void)schema->index(name);
            } catch (const std::out_of_range&) {
                fail(422, fmt::format("features[{}]: '{}' is not a column of the feature schema", i, name));
            }
        }
        for (const auto& c : schema->columns()) {
            const auto it = row.find(c.name);
            if (it == row.end()) fail(422, fmt::format("features[{}]: column '{}' is missing", i, c.name));
            if (it->is_null())
                fail(422, fmt::format("features[{}].{} is null: the feature is still warming up", i, c.name));
            if (!it->is_number()) fail(400, fmt::format("features[{}].{} must be a number", i, c.name));
            s.values.push_back(it->get<float>());
        }
        return;
    }
    if (!row.is_array())
        fail(400, fmt::format("features[{}] must be an array of numbers or an object of named numbers", i));
    for (std::size_t k = 0; k < row.size(); ++k) {
        if (row[k].is_null()) fail(422, fmt::format("features[{}][{}] is null: the feature is still warming up", i, k));
        if (!row[k].is_number()) fail(400, fmt::format("features[{}][{}] must be a number", i, k));
        s.values.push_back(row[k].get<float>());
    }
}

// The rows of /v1/predict as one sample; shape problems are the client's (422).
models::SampleSet sample_of(const json& features, const features::FeatureSchema* schema) {
    if (!features.is_array() || features.empty())
        fail(400,
             "field 'features' must be a non-empty array of steps (arrays of numbers or objects of named numbers)");
    models::SampleSet s;
    s.steps = features.size();
    for (std::size_t i = 0; i < features.size(); ++i) {
        const std::size_t before = s.values.size();
        append_step(features[i], i, schema, s);
        const std::size_t width = s.values.size() - before;
        if (i == 0) s.width = width;
        if (width != s.width)
            fail(422, fmt::format("features[{}] has {} values, features[0] has {}", i, width, s.width));
    }
    if (s.width == 0) fail(422, "features[0] is empty");
    return s;
}

}  // namespace

Response json_response(int status, const json& j) {
    return {status, j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", {}};
}

Response error_response(int status, std::string_view message) {
    return json_response(status, {{"error", {{"code", status}, {"message", message}}}});
}

std::optional<Request> parse_target(std::string_view target) {
    Request r;
    const auto q = target.find('?');
    auto path = percent_decode(target.substr(0, q), false);
    if (!path) return std::nullopt;
    r.path = std::move(*path);
    if (q == std::string_view::npos) return r;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value) return std::nullopt;
        r.query[*key] = std::move(*value);
    }
    return r;
}

json prediction_json(const Prediction& p) {
    return {{"symbol", p.symbol},
            {"bar_time", format_iso8601(p.bar_time)},
            {"feature_time", format_iso8601(p.feature_time)},
            {"model", p.model},
            {"version", p.version},
            {"slot", p.slot},
            {"class", kClassNames[static_cast<std::size_t>(std::clamp(p.cls, 0, 2))]},
            {"probabilities", {{"down", p.probs[0]}, {"stable", p.probs[1]}, {"up", p.probs[2]}}},
            {"confidence", p.confidence},
            {"close", p.close},
            {"latency_ms", static_cast<double>(p.latency) / 1e6},
            {"published_at", format_iso8601(p.published_at)}};
}

json bar_json(const Bar& b) {
    return {{"symbol", b.symbol},
            {"interval", format_duration(b.interval)},
            {"open_time", format_iso8601(b.open_time)},
            {"close_time", format_iso8601(b.close_time)},
            {"open", b.open},
            {"high", b.high},
            {"low", b.low},
            {"close", b.close},
            {"volume", b.volume},
            {"trades", b.trade_count}};
}

Router::Router(const Services& services, const ServerOptions& options, const metrics::Registry& own_metrics)
    : services_(services), options_(options), own_metrics_(own_metrics) {}

Route Router::route(const Request& r) const {
    const std::string& p = r.path;
    // Open, so that a key neither helps nor is asked for on the way to the 404.
    if (options_.ops_only && !ops_path(p)) return {"unknown", Access::open};
    if (p == "/health" || p == "/ready" || p == "/openapi.json") return {p, Access::open};
    if (p == "/metrics" || p == "/ws" || p == "/v1/predictions/latest" || p == "/v1/predictions" ||
        p == "/v1/bars" || p == "/v1/features/latest" || p == "/v1/models" || p == "/v1/predict" || p == "/v1/news" ||
        p == "/v1/monitor/metrics")
        return {p, Access::read};
    if (p.starts_with("/v1/models/")) {
        const std::string_view rest = std::string_view(p).substr(11);
        if (rest.ends_with("/promote")) return {"/v1/models/{name}/promote", Access::admin};
        if (rest.ends_with("/rollback")) return {"/v1/models/{name}/rollback", Access::admin};
        return {"/v1/models/{name}", Access::read};
    }
    if (p.starts_with("/v1/")) return {"unknown", Access::read};
    return {"static", Access::open};
}

Response Router::handle(const Request& r) const {
    try {
        return dispatch(r);
    } catch (const ClientError& e) {
        auto res = error_response(e.status, e.message);
        res.headers = e.headers;
        return res;
    } catch (const registry::NotFound& e) {
        return error_response(404, e.what());
    } catch (const registry::InvalidName& e) {
        return error_response(400, e.what());
    } catch (const registry::PromotionRefused& e) {
        if (e.why == registry::PromotionRefused::Why::no_reason)
            return error_response(400, "field 'reason' is required when 'force' is true");
        if (e.why == registry::PromotionRefused::Why::conflict) return error_response(409, e.what());  // force cannot help
        return error_response(409, fmt::format("{} (send \"force\": true with a \"reason\" to override)", e.what()));
    } catch (const std::exception& e) {
        spdlog::error("api: {} {} failed: {}", r.method, r.path, e.what());
        return error_response(500, fmt::format("internal error: {}", e.what()));
    }
}

Response Router::dispatch(const Request& r) const {
    const Route route = this->route(r);
    // Every GET route answers HEAD too (the server drops the body).
    const auto method = [&](std::string_view m) {
        const bool get = m == "GET";
        if (r.method == m || (get && r.method == "HEAD")) return;
        throw ClientError{405, fmt::format("{} does not accept {}; use {}", r.path, r.method, get ? "GET or HEAD" : m),
                          {{"Allow", get ? "GET, HEAD" : std::string(m)}}};
    };
    const std::string& n = route.name;
    if (options_.ops_only && !ops_path(n))
        fail(404, fmt::format("no route {}: this port serves only /health, /ready and /metrics", r.path));
    if (n == "/health") return method("GET"), json_response(200, {{"status", "ok"}});
    if (n == "/ready") return method("GET"), ready();
    if (n == "/openapi.json") return method("GET"), json_response(200, openapi_document());
    if (n == "/metrics") return method("GET"), metrics_text();
    if (n == "/v1/predictions/latest") return method("GET"), predictions_latest(r);
    if (n == "/v1/predictions") return method("GET"), predictions_range(r);
    if (n == "/v1/bars") return method("GET"), bars_range(r);
    if (n == "/v1/features/latest") return method("GET"), features_latest(r);
    if (n == "/v1/models") return method("GET"), models_list();
    if (n == "/v1/predict") return method("POST"), predict(r);
    if (n == "/v1/news") return method("POST"), news(r);
    if (n == "/v1/monitor/metrics") return method("GET"), monitor_metrics(r);
    if (n == "/ws") fail(426, "/ws is a WebSocket endpoint: send an Upgrade request");
    if (n.starts_with("/v1/models/{name}")) {
        std::string name = r.path.substr(11);
        if (n.ends_with("/promote")) return method("POST"), model_promote(name.substr(0, name.size() - 8), r);
        if (n.ends_with("/rollback")) return method("POST"), model_rollback(name.substr(0, name.size() - 9), r);
        if (name.empty() || name.find('/') != std::string::npos) fail(404, "no route " + r.path);
        return method("GET"), model_show(name);
    }
    if (n == "static") return method("GET"), static_file(r.path);
    fail(404, "no route " + r.path);
}

std::optional<std::string> Router::model_unready() const {
    // An ops-only server has a model manager only in a process that serves a model.
    if (!services_.models && options_.ops_only) return std::nullopt;
    if (!services_.models) return "no model manager in this process";
    if (services_.model_name.empty()) return "no served model name configured";
    if (services_.models->current(services_.model_name)) return std::nullopt;
    const auto err = services_.models->last_error(services_.model_name);
    return fmt::format("no champion of '{}' loaded{}", services_.model_name, err ? ": " + *err : std::string());
}

Response Router::ready() const {
    std::vector<std::string> reasons;
    if (auto why = model_unready()) reasons.push_back(std::move(*why));
    if (services_.bus && !services_.bus->connected()) reasons.push_back("message bus not connected");
    if (reasons.empty()) return json_response(200, {{"status", "ready"}});
    std::string message;
    for (const auto& r : reasons) message += (message.empty() ? "" : "; ") + r;
    return json_response(
        503, {{"status", "not_ready"}, {"reasons", reasons}, {"error", {{"code", 503}, {"message", message}}}});
}

Response Router::predictions_latest(const Request& r) const {
    if (!services_.predictions) fail(503, "this server has no prediction store");
    const auto& symbol = query_param(r, "symbol");
    const auto p = services_.predictions->latest(symbol);
    if (!p) fail(404, fmt::format("no predictions for symbol '{}'", symbol));
    return json_response(200, prediction_json(*p));
}

Response Router::predictions_range(const Request& r) const {
    if (!services_.predictions) fail(503, "this server has no prediction store");
    const auto& symbol = query_param(r, "symbol");
    const auto [from, to] = time_range_params(r);
    if (!services_.predictions->latest(symbol)) fail(404, fmt::format("no predictions for symbol '{}'", symbol));
    json rows = json::array();
    for (const auto& p : services_.predictions->range(symbol, from, to)) rows.push_back(prediction_json(p));
    return json_response(200, {{"symbol", symbol}, {"predictions", std::move(rows)}});
}

Response Router::bars_range(const Request& r) const {
    if (!services_.bars) fail(503, "this server has no bar store");
    const auto& symbol = query_param(r, "symbol");
    const auto [from, to] = time_range_params(r);
    if (!services_.bars->latest(symbol)) fail(404, fmt::format("no bars for symbol '{}'", symbol));
    json rows = json::array();
    for (const auto& b : services_.bars->range(symbol, from, to)) rows.push_back(bar_json(b));
    return json_response(200, {{"symbol", symbol}, {"bars", std::move(rows)}});
}

Response Router::features_latest(const Request& r) const {
    if (!services_.features) fail(503, "this server has no feature store");
    const auto& symbol = query_param(r, "symbol");
    const auto v = services_.features->latest(symbol);
    if (!v) fail(404, fmt::format("no feature vector for symbol '{}'", symbol));
    json values;
    const auto* schema = services_.schema;
    if (schema && schema->hash() == v->schema_hash && schema->size() == v->values.size()) {
        values = json::object();
        for (std::size_t i = 0; i < v->values.size(); ++i) values[schema->columns()[i].name] = v->values[i];
    } else {
        values = v->values;
    }
    return json_response(200, {{"symbol", v->symbol},
                               {"close_time", format_iso8601(v->close_time)},
                               {"close", v->close},
                               {"schema_hash", registry::schema_hash_hex(v->schema_hash)},
                               {"complete", v->complete},
                               {"values", std::move(values)}});
}

Response Router::monitor_metrics(const Request& r) const {
    if (!services_.prediction_log) fail(503, "this server has no prediction log");
    monitor::MetricsQuery q;
    if (const auto it = r.query.find("model"); it != r.query.end()) q.model = it->second;
    if (const auto it = r.query.find("symbol"); it != r.query.end()) q.symbol = it->second;
    const auto windows = windows_param(r);
    // A filter that can match nothing is a mistake, as on the other routes, not an empty 200.
    if (!q.model.empty() && !services_.data_dir.empty())
        open_registry(services_).list_versions(q.model);  // NotFound: 404
    if (!q.symbol.empty() && !serves(q.symbol))
        fail(404, fmt::format("symbol '{}' is not served here (served: {})", q.symbol,
                              fmt::join(services_.symbols, ", ")));
    json rows = json::array();
    for (const auto& row : monitor::rolling_metrics(*services_.prediction_log, q, windows))
        rows.push_back(monitor::to_json(row));
    return json_response(200, {{"rows", std::move(rows)}});
}

Response Router::models_list() const {
    auto reg = open_registry(services_);
    json out = json::array();
    for (const auto& m : reg.list_models()) out.push_back(registry::to_json(m));
    return json_response(200, {{"models", std::move(out)}});
}

Response Router::model_show(const std::string& name) const {
    auto reg = open_registry(services_);
    const auto models = reg.list_models();
    const auto m = std::find_if(models.begin(), models.end(), [&](const auto& x) { return x.name == name; });
    if (m == models.end()) fail(404, fmt::format("no registered model '{}'", name));
    json versions = json::array();
    for (const auto& v : reg.list_versions(name)) {
        auto j = registry::to_json(v);
        j.erase("artifact_dir");  // a path on the server is none of a client's business
        versions.push_back(std::move(j));
    }
    json history = json::array();
    for (const auto& h : reg.history(name)) history.push_back(registry::to_json(h));
    return json_response(200,
                         {{"model", registry::to_json(*m)}, {"versions", std::move(versions)}, {"history", history}});
}

Response Router::model_promote(const std::string& name, const Request& r) const {
    const json body = parse_body(r);
    only_fields(body, {"version", "alias", "force", "reason", "metric", "margin"});
    const auto& v = body.contains("version") ? body["version"] : json();
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > std::numeric_limits<int>::max())
        fail(400, "field 'version' is required and must be a positive integer");
    const int version = body["version"].get<int>();
    const auto alias =
        field_or<std::string>(body, "alias", std::string(registry::kChampion), &json::is_string, "a string");
    registry::PromotionGate gate;
    gate.force = field_or<bool>(body, "force", false, &json::is_boolean, "true or false");
    gate.metric = field_or<std::string>(body, "metric", gate.metric, &json::is_string, "a string");
    gate.margin = field_or<double>(body, "margin", 0.0, &json::is_number, "a number");
    const auto reason = field_or<std::string>(body, "reason", "", &json::is_string, "a string");
    if (alias.empty()) fail(400, "field 'alias' must not be empty");
    if (alias != registry::kChampion && (body.contains("metric") || body.contains("margin")))
        fail(400, fmt::format("fields 'metric' and 'margin' set the champion's promotion gate; alias '{}' has none",
                              alias));
    auto reg = open_registry(services_);
    const bool changed = reg.promote(name, version, alias, gate, reason);
    json out = {{"model", name}, {"version", version}, {"alias", alias}, {"changed", changed}};
    if (services_.models) {
        if (changed) services_.models->refresh();
        // The registry took the promotion; say whether this server now serves it
        // (a version trained on another feature schema, or a damaged artifact,
        // is refused by the model manager, which keeps serving the last one).
        if (name == services_.model_name && alias == registry::kChampion) {
            const auto served = services_.models->current(name);
            const bool serving = served && served->version.version == version;
            out["serving"] = serving;
            if (!serving)
                out["load_error"] = services_.models->last_error(name).value_or("the model manager has not loaded it");
        }
    }
    return json_response(200, out);
}

Response Router::model_rollback(const std::string& name, const Request& r) const {
    const json body = r.body.empty() ? json::object() : parse_body(r);
    only_fields(body, {"reason"});
    const auto reason = field_or<std::string>(body, "reason", "", &json::is_string, "a string");
    auto reg = open_registry(services_);
    reg.list_versions(name);  // NotFound (404) for an unknown model
    registry::Registry::Rollback done;
    try {
        done = reg.rollback(name, reason);
    } catch (const registry::NotFound& e) {  // the model exists: nothing to roll back to
        fail(409, e.what());
    }
    if (services_.models) services_.models->refresh();
    return json_response(200, {{"model", name}, {"from", done.from}, {"to", done.to}});
}

Response Router::predict(const Request& r) const {
    if (!services_.models) fail(503, "this server has no model manager");
    const json body = parse_body(r);
    only_fields(body, {"features", "model"});
    if (!body.contains("features")) fail(400, "field 'features' is required");
    const auto name = field_or<std::string>(body, "model", services_.model_name, &json::is_string, "a string");
    const auto* schema = name == services_.model_name ? services_.schema : nullptr;
    auto batch = sample_of(body["features"], schema);
    if (schema && batch.width != schema->size())
        fail(422, fmt::format("features rows have {} values; the feature schema has {} columns", batch.width,
                              schema->size()));
    const auto loaded = services_.models->current(name);
    if (!loaded && name != services_.model_name && !services_.data_dir.empty()) {
        const auto models = open_registry(services_).list_models();
        if (std::none_of(models.begin(), models.end(), [&](const auto& m) { return m.name == name; }))
            fail(404, fmt::format("no registered model '{}'", name));
    }
    if (!loaded) fail(503, fmt::format("no champion of '{}' loaded", name));
    if (batch.steps != loaded->model->steps())
        fail(422, fmt::format("features has {} steps; {} version {} reads {}", batch.steps, name,
                              loaded->version.version, loaded->model->steps()));
    serving::ModelOutput out;
    try {
        out = services_.models->predict(*loaded, batch);  // the model whose steps() was checked, not a newer one
    } catch (const serving::ServingError& e) {
        fail(503, e.what());
    } catch (const std::invalid_argument& e) {
        fail(422, e.what());
    }
    const auto& probs = out.probs.at(0);
    const auto cls = static_cast<std::size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    return json_response(200, {{"model", name},
                               {"version", out.version},
                               {"class", kClassNames[cls]},
                               {"probabilities", {{"down", probs[0]}, {"stable", probs[1]}, {"up", probs[2]}}},
                               {"confidence", probs[cls]}});
}

Response Router::news(const Request& r) const {
    if (!services_.bus) fail(503, "this server has no message bus");
    const json body = parse_body(r);
    only_fields(body, {"id", "event_time", "source", "symbols", "headline", "body", "sentiment"});
    for (const char* k : {"id", "source", "headline", "body"})
        if (body.contains(k) && !body[k].is_string()) fail(400, fmt::format("field '{}' must be a string", k));
    if (!body.contains("id") || body["id"].get<std::string>().empty()) fail(400, "field 'id' is required");
    if (!body.contains("event_time")) fail(400, "field 'event_time' is required");
    if (!body["event_time"].is_string() && !body["event_time"].is_number_integer())
        fail(400, "field 'event_time' must be an ISO-8601 string or epoch nanoseconds");
    if (!data::news_time(body["event_time"]))
        fail(400, "field 'event_time': not an event time in the years 1678-2261 (what epoch nanoseconds reach) as "
                  "ISO-8601 or an epoch number");
    if (body.contains("symbols") &&
        (!body["symbols"].is_array() ||
         !std::all_of(body["symbols"].begin(), body["symbols"].end(), [](const json& s) { return s.is_string(); })))
        fail(400, "field 'symbols' must be an array of strings");
    if (body.contains("sentiment") && !body["sentiment"].is_number())
        fail(400, "field 'sentiment' must be a number in [-1, 1]");
    std::string problem;
    const NewsItem item = data::news_from_json(body, problem);
    if (!problem.empty()) fail(400, "news item: " + problem);
    check_news(item);
    const auto key = bus::news_key(item);
    try {
        services_.bus->publish(bus::topics::news, key, bus::encode(item));
    } catch (const bus::BusError& e) {
        fail(503, fmt::format("could not publish the news item: {}", e.what()));
    }
    return json_response(202, {{"status", "accepted"}, {"id", item.id}, {"key", key}});
}

// What the features role would drop on arrival, refused here instead of
// accepted and lost. Lateness is not judged: it depends on the price stream.
void Router::check_news(const NewsItem& item) const {
    if (is_blank(item.headline) && is_blank(item.body)) fail(400, "news item: headline and body are both blank");
    const auto served = [&](const std::string& s) { return serves(s); };
    if (item.symbols.empty() || std::any_of(item.symbols.begin(), item.symbols.end(), served)) return;
    fail(400, fmt::format("news item: none of its symbols is served here (served: {})",
                          fmt::join(services_.symbols, ", ")));
}

// Services::symbols lists what the features role reads; empty: any symbol.
bool Router::serves(const std::string& symbol) const {
    const auto& known = services_.symbols;
    return known.empty() || std::find(known.begin(), known.end(), symbol) != known.end();
}

Response Router::metrics_text() const {
    return {200,
            metrics::registry().exposition() + own_metrics_.exposition(),
            "text/plain; version=0.0.4; charset=utf-8",
            {}};
}

Response Router::static_file(const std::string& path) const {
    if (options_.web_root.empty()) fail(404, "no route " + path);
    const std::string rel = path == "/" ? "index.html" : path.substr(1);
    const fs::path relative(rel);
    for (const auto& part : relative)
        if (part == ".." || part == "." || part.string().find('\\') != std::string::npos ||
            part.string().find('\0') != std::string::npos)
            fail(404, "no file " + path);
    std::error_code ec;
    const auto root = fs::canonical(options_.web_root, ec);
    const auto file = fs::weakly_canonical(options_.web_root / relative, ec);
    const auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
    if (ec || root_end != root.end() || !fs::is_regular_file(file)) fail(404, "no file " + path);
    std::ifstream in(file, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return {200, std::move(bytes), std::string(content_type(file)), {{"Cache-Control", "no-cache"}}};
}

}  // namespace pricecast::api::detail
