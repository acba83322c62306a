// Internals of the API shared by the server (networking) and the route
// handlers: a transport-free request/response so routes are plain functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api.hpp"
#include "core/metrics.hpp"

namespace pricecast::api::detail {

struct Request {
    std::string method;
    std::string path;                          // percent-decoded, without the query
    std::map<std::string, std::string> query;  // percent-decoded
    std::string body;
    std::string content_type;  // of the body, as sent
    std::string api_key;       // from X-API-Key or Authorization: Bearer
};

struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

Response json_response(int status, const nlohmann::json& j);
Response error_response(int status, std::string_view message);

// Splits "path?a=1&b=%20" into a decoded path and query; nullopt for bad escapes.
std::optional<Request> parse_target(std::string_view target);

enum class Access { open, read, admin };

struct Route {
    std::string name;  // the pattern, e.g. "/v1/models/{name}" (the metrics label)
    Access access = Access::read;
};

// Finds the route of a request (for auth and metrics) and answers it.
class Router {
public:
    Router(const Services& services, const ServerOptions& options, const metrics::Registry& own_metrics);
    Route route(const Request& request) const;
    Response handle(const Request& request) const;

private:
    Response dispatch(const Request& request) const;
    Response ready() const;
    std::optional<std::string> model_unready() const;  // why /ready is 503 on the model's side
    Response predictions_latest(const Request& request) const;
    Response predictions_range(const Request& request) const;
    Response bars_range(const Request& request) const;
    Response features_latest(const Request& request) const;
    Response models_list() const;
    Response model_show(const std::string& name) const;
    Response model_promote(const std::string& name, const Request& request) const;
    Response model_rollback(const std::string& name, const Request& request) const;
    Response predict(const Request& request) const;
    Response news(const Request& request) const;
    void check_news(const NewsItem& item) const;
    bool serves(const std::string& symbol) const;  // in Services::symbols, or any when that is empty
    Response monitor_metrics(const Request& request) const;
    Response metrics_text() const;
    Response static_file(const std::string& path) const;

    const Services& services_;
    const ServerOptions& options_;
    const metrics::Registry& own_metrics_;
};

// The prediction as clients see it (REST and WebSocket).
nlohmann::json prediction_json(const Prediction& p);
// The price bar as clients see it (REST and WebSocket).
nlohmann::json bar_json(const Bar& b);

}  // namespace pricecast::api::detail
