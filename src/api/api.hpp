// The HTTP + WebSocket server (Boost.Beast): REST routes, the /ws prediction
// and bar stream, the dashboard's static files and /metrics, on one port (plus the
// original design's WebSocket port 8765 when asked).
//
//   api::Server server(services, options);
//   server.start();          // returns once listening; serves on its own threads
//   ... server.port() ...
//   server.stop();           // closes listeners and connections, joins threads
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bus/bus.hpp"
#include "features/features.hpp"
#include "serving/model_manager.hpp"
#include "serving/stores.hpp"

namespace pricecast::monitor {
class PredictionLog;
}

namespace pricecast::api {

enum class Role { read, admin };

struct ApiKey {
    std::string key;
    Role role = Role::read;
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;              // HTTP + /ws; 0 picks a free port
    int ws_port = -1;             // extra WebSocket-only listener (8765 in the original design); -1: none
    std::vector<ApiKey> keys;     // empty: no authentication (embedded demo)
    std::size_t max_body_bytes = 1 << 20;
    std::size_t max_header_bytes = 16 << 10;
    // Per client; past it the client is dropped. One bar close queues one
    // bar and one prediction per subscribed symbol, so this must exceed twice
    // the symbol count.
    std::size_t ws_queue_limit = 8192;
    // Per client too, in bytes: a client that sends requests and never reads
    // the answers would otherwise queue up to ws_queue_limit large replies.
    std::size_t ws_queue_bytes = 16 << 20;
    // Open HTTP and WebSocket connections; past it a new one is closed at once.
    // 0: three quarters of the open-file limit (RLIMIT_NOFILE), so that a flood
    // of clients leaves descriptors to the roles sharing the process.
    std::size_t max_connections = 0;
    std::filesystem::path web_root;    // dashboard files served at /; empty: none
    int threads = 2;
    // The operations port of a process without the api role: only /health,
    // /ready and /metrics, everything else 404, no WebSocket, no files.
    // /ready then asks for a loaded champion only when `Services::models` is set.
    bool ops_only = false;
};

// The parts of the running system the routes read and act on. Pointers may be
// null when this process does not run that part; routes needing it answer 503.
struct Services {
    serving::PredictionStore* predictions = nullptr;
    serving::FeatureStore* features = nullptr;
    serving::ModelManager* models = nullptr;   // POST /v1/predict, /ready
    std::string model_name;                    // the served registered model
    const features::FeatureSchema* schema = nullptr;  // width check of /v1/predict
    std::filesystem::path data_dir;            // the registry: /v1/models, promote, rollback
    bus::Bus* bus = nullptr;                   // POST /v1/news publishes to news-raw; /ready
    const monitor::PredictionLog* prediction_log = nullptr;  // GET /v1/monitor/metrics
    serving::BarStore* bars = nullptr;         // GET /v1/bars, the dashboard's candles
    std::vector<std::string> symbols;          // POST /v1/news: those the features role reads; empty: any
};

class Server {
public:
    Server(Services services, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    void start();
    void stop();
    int port() const;     // the bound HTTP port
    int ws_port() const;  // the bound extra WebSocket port, or -1

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3.0 document of the routes above (served at /openapi.json and
// kept in the repo as api/openapi.json).
nlohmann::json openapi_document();

}  // namespace pricecast::api
