// Contract tests: every REST response and WebSocket message checked against
// the schemas of the OpenAPI document, and the document in the repo
// (api/openapi.json) equal to the one the server serves.
//
// Regenerate api/openapi.json after changing src/api/openapi.cpp:
//   PRICECAST_UPDATE_OPENAPI=1 build/tests/api_openapi_test --gtest_filter=*RepoCopy*
#include <cstdlib>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/api_env.hpp"
#include "support/paths.hpp"

using namespace pricecast;
using namespace pricecast::test;
using nlohmann::json;

namespace {

constexpr Timestamp kT0 = 1'700'000'000'000'000'000;

// The subset of JSON Schema (OpenAPI 3.0 flavour) the document uses: $ref,
// type, nullable, required, properties, additionalProperties, items, enum.
class SchemaChecker {
public:
    explicit SchemaChecker(json doc) : doc_(std::move(doc)) {}

    std::vector<std::string> check(const json& value, const json& schema) const {
        std::vector<std::string> errors;
        check(value, schema, "$", errors);
        return errors;
    }

    const json& resolve(const json& schema) const {
        if (!schema.contains("$ref")) return schema;
        const auto ref = schema["$ref"].get<std::string>();
        if (!ref.starts_with("#/")) throw std::runtime_error("unsupported $ref " + ref);
        return doc_.at(json::json_pointer(ref.substr(1)));
    }

private:
    static bool has_type(const json& v, const std::string& t) {
        if (t == "object") return v.is_object();
        if (t == "array") return v.is_array();
        if (t == "string") return v.is_string();
        if (t == "integer") return v.is_number_integer();
        if (t == "number") return v.is_number();
        if (t == "boolean") return v.is_boolean();
        throw std::runtime_error("unknown schema type " + t);
    }

    void check(const json& v, const json& raw, const std::string& at, std::vector<std::string>& errors) const {
        const json& s = resolve(raw);
        if (v.is_null() && s.value("nullable", false)) return;
        if (s.contains("type") && !has_type(v, s["type"])) {
            errors.push_back(fmt::format("{}: expected {}, got {}", at, s["type"].get<std::string>(), v.dump()));
            return;
        }
        if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end())
            errors.push_back(fmt::format("{}: {} is not one of {}", at, v.dump(), s["enum"].dump()));
        if (v.is_object()) {
            for (const auto& r : s.value("required", json::array()))
                if (!v.contains(r.get<std::string>())) errors.push_back(fmt::format("{}: missing {}", at, r.dump()));
            for (const auto& [k, item] : v.items()) {
                if (s.contains("properties") && s["properties"].contains(k))
                    check(item, s["properties"][k], at + "." + k, errors);
                else if (s.contains("additionalProperties"))
                    check(item, s["additionalProperties"], at + "." + k, errors);
            }
        }
        if (v.is_array() && s.contains("items"))
            for (std::size_t i = 0; i < v.size(); ++i) check(v[i], s["items"], fmt::format("{}[{}]", at, i), errors);
    }

    json doc_;
};

std::filesystem::path repo_copy() { return test_data().parent_path().parent_path() / "api" / "openapi.json"; }

class Contract : public ::testing::Test {
protected:
    json doc = api::openapi_document();
    SchemaChecker checker{doc};
    std::set<std::string> covered;  // "get /v1/models/{name} 404"

    // Checks one response against the document's schema for (path, method, status).
    void expect_matches(const HttpResult& r, const std::string& path, const std::string& method) {
        const std::string status = std::to_string(r.status);
        covered.insert(fmt::format("{} {} {}", method, path, status));
        ASSERT_TRUE(doc["paths"].contains(path)) << path;
        ASSERT_TRUE(doc["paths"][path].contains(method)) << method << " " << path;
        const auto& responses = doc["paths"][path][method]["responses"];
        ASSERT_TRUE(responses.contains(status))
            << method << " " << path << " answered undocumented " << status << ": " << r.body;
        const auto& media = responses[status]["content"];
        if (media.contains("text/plain")) {
            EXPECT_NE(r.content_type.find("text/plain"), std::string::npos);
            return;
        }
        ASSERT_TRUE(media.contains("application/json")) << path << " " << status;
        EXPECT_EQ(r.content_type, "application/json");
        const auto errors = checker.check(r.json(), media["application/json"]["schema"]);
        EXPECT_TRUE(errors.empty()) << method << " " << path << " " << status << ": "
                                    << ::testing::PrintToString(errors) << "\n"
                                    << r.body;
    }
    void expect_ws(const std::optional<json>& m, const std::string& schema) {
        ASSERT_TRUE(m);
        const auto errors = checker.check(*m, {{"$ref", "#/components/schemas/" + schema}});
        EXPECT_TRUE(errors.empty()) << schema << ": " << ::testing::PrintToString(errors) << "\n" << m->dump();
    }
};

}  // namespace

TEST(OpenApi, RepoCopyEqualsTheServedDocument) {
    const auto generated = api::openapi_document();
    if (std::getenv("PRICECAST_UPDATE_OPENAPI")) {
        std::filesystem::create_directories(repo_copy().parent_path());
        std::ofstream(repo_copy()) << generated.dump(2) << "\n";
    }
    std::ifstream in(repo_copy());
    ASSERT_TRUE(in) << repo_copy() << " missing; see the top of this file to regenerate it";
    EXPECT_EQ(json::parse(in), generated)
        << "api/openapi.json is stale; regenerate it (see the top of tests/api_openapi_test.cpp)";
}

TEST(OpenApi, EveryReferenceResolvesAndEveryOperationDocumentsItsResponses) {
    const auto doc = api::openapi_document();
    SchemaChecker checker(doc);
    std::function<void(const json&)> walk = [&](const json& j) {
        if (j.is_object()) {
            if (j.contains("$ref")) {
                EXPECT_NO_THROW(checker.resolve(j)) << j.dump();
            }
            for (const auto& [k, v] : j.items()) walk(v);
        } else if (j.is_array()) {
            for (const auto& v : j) walk(v);
        }
    };
    walk(doc);
    for (const auto& [path, ops] : doc["paths"].items())
        for (const auto& [method, op] : ops.items()) {
            EXPECT_FALSE(op["responses"].empty()) << method << " " << path;
            EXPECT_TRUE(op.contains("summary")) << method << " " << path;
        }
}

TEST(OpenApi, CheckerRejectsWhatTheSchemaForbids) {
    const auto doc = api::openapi_document();
    SchemaChecker c(doc);
    const json prediction = {{"$ref", "#/components/schemas/Prediction"}};
    auto good = json::parse(R"({"symbol":"A","bar_time":"t","feature_time":"t","model":"m","version":1,
        "slot":"champion","class":"UP","probabilities":{"down":0.1,"stable":0.2,"up":0.7},"confidence":0.7,
        "close":1.5,"latency_ms":1,"published_at":"t"})");
    EXPECT_TRUE(c.check(good, prediction).empty());
    auto missing = good;
    missing.erase("symbol");
    EXPECT_EQ(c.check(missing, prediction).size(), 1u);
    auto wrong_type = good;
    wrong_type["version"] = "1";
    EXPECT_EQ(c.check(wrong_type, prediction).size(), 1u);
    auto wrong_enum = good;
    wrong_enum["class"] = "SIDEWAYS";
    EXPECT_EQ(c.check(wrong_enum, prediction).size(), 1u);
    auto nested = good;
    nested["probabilities"].erase("up");
    EXPECT_EQ(c.check(nested, prediction).size(), 1u);
    EXPECT_TRUE(c.check(nullptr, {{"type", "integer"}, {"nullable", true}}).empty());
    EXPECT_EQ(c.check(json::array({1, "x"}), {{"type", "array"}, {"items", {{"type", "integer"}}}}).size(), 1u);
}

TEST_F(Contract, EveryRouteAndStatusMatchesTheDocument) {
    api::ServerOptions o;
    o.keys = {{kReadKey, api::Role::read}, {kAdminKey, api::Role::admin}};
    ApiEnv env(o);
    const int port = env.port();
    const Headers read = {{"X-API-Key", kReadKey}}, admin = {{"X-API-Key", kAdminKey}};
    env.predictions.add(make_prediction("BTC", kT0));
    features::FeatureVector v;
    v.schema_hash = env.schema.hash();
    v.symbol = "BTC";
    v.close_time = kT0;
    v.values = {1, 2, 3, std::nan("")};
    env.features.add(v);
    env.bars.add(make_bar("BTC", kT0));
    const int better = env.register_version(0.6, {0.2f, 0.6f, 0.2f});
    const int worse = env.register_version(0.1, {0.2f, 0.6f, 0.2f});

    expect_matches(get(port, "/health"), "/health", "get");
    expect_matches(get(port, "/ready"), "/ready", "get");
    expect_matches(get(port, "/openapi.json"), "/openapi.json", "get");
    expect_matches(get(port, "/metrics", read), "/metrics", "get");
    expect_matches(get(port, "/metrics"), "/metrics", "get");
    expect_matches(get(port, "/v1/predictions/latest?symbol=BTC", read), "/v1/predictions/latest", "get");
    expect_matches(get(port, "/v1/predictions/latest?symbol=NO", read), "/v1/predictions/latest", "get");
    expect_matches(get(port, "/v1/predictions/latest", read), "/v1/predictions/latest", "get");
    expect_matches(get(port, "/v1/predictions?symbol=BTC", read), "/v1/predictions", "get");
    expect_matches(get(port, "/v1/predictions?symbol=BTC&from=x", read), "/v1/predictions", "get");
    expect_matches(get(port, "/v1/predictions?symbol=NO", read), "/v1/predictions", "get");
    expect_matches(get(port, "/v1/bars?symbol=BTC", read), "/v1/bars", "get");
    expect_matches(get(port, "/v1/bars?symbol=BTC&to=x", read), "/v1/bars", "get");
    expect_matches(get(port, "/v1/bars?symbol=NO", read), "/v1/bars", "get");
    expect_matches(get(port, "/v1/features/latest?symbol=BTC", read), "/v1/features/latest", "get");
    expect_matches(get(port, "/v1/features/latest?symbol=NO", read), "/v1/features/latest", "get");
    expect_matches(get(port, "/v1/features/latest", read), "/v1/features/latest", "get");
    expect_matches(get(port, "/v1/models", read), "/v1/models", "get");
    expect_matches(get(port, "/v1/models/m", read), "/v1/models/{name}", "get");
    expect_matches(get(port, "/v1/models/none", read), "/v1/models/{name}", "get");

    const auto promote = [&](const json& body, const Headers& h) {
        expect_matches(post(port, "/v1/models/m/promote", body.dump(), h), "/v1/models/{name}/promote", "post");
    };
    promote({{"version", better}}, admin);
    promote({{"version", worse}}, admin);
    promote({{"version", "x"}}, admin);
    promote({{"version", 99}}, admin);
    promote({{"version", better}}, read);
    promote({{"version", better}}, {});
    const auto as_text = [](Headers h) {
        h["Content-Type"] = "text/plain";
        return h;
    };
    promote({{"version", better}}, as_text(admin));
    const auto rollback = [&](const std::string& model, const Headers& h) {
        expect_matches(post(port, "/v1/models/" + model + "/rollback", R"({"reason":"contract"})", h),
                       "/v1/models/{name}/rollback", "post");
    };
    rollback("m", admin);
    rollback("m", admin);  // nothing earlier: 409
    rollback("none", admin);
    rollback("m", read);
    expect_matches(post(port, "/v1/models/m/rollback", R"({"why":1})", admin), "/v1/models/{name}/rollback", "post");
    expect_matches(post(port, "/v1/models/m/rollback", R"({"reason":"x"})", as_text(admin)),
                   "/v1/models/{name}/rollback", "post");

    json rows = json::array();
    for (std::size_t i = 0; i < kSteps; ++i) rows.push_back({0.1, 0.2, 0.3, 0.4});
    expect_matches(post(port, "/v1/predict", json{{"features", rows}}.dump(), read), "/v1/predict", "post");
    expect_matches(post(port, "/v1/predict", R"({"features":[[1]]})", read), "/v1/predict", "post");
    expect_matches(post(port, "/v1/predict", R"({"features":"x"})", read), "/v1/predict", "post");
    expect_matches(post(port, "/v1/predict", R"({"features":[[1,2,3,4]],"model":"x"})", read), "/v1/predict", "post");
    expect_matches(post(port, "/v1/predict", json{{"features", rows}}.dump(), as_text(read)), "/v1/predict", "post");

    const json news = {{"id", "n"}, {"event_time", "2024-01-01T00:00:00Z"}, {"symbols", {"BTC"}}, {"headline", "h"}};
    expect_matches(post(port, "/v1/news", news.dump(), read), "/v1/news", "post");
    expect_matches(post(port, "/v1/news", R"({"id":"n"})", read), "/v1/news", "post");
    expect_matches(post(port, "/v1/news", news.dump(), as_text(read)), "/v1/news", "post");
    expect_matches(get(port, "/ws", read), "/ws", "get");
    expect_matches(raw(port, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\nX-API-Key: " +
                             kReadKey + "\r\n\r\n"),
                   "/ws", "get");
    env.log->append(make_prediction("BTC", kT0));
    env.log->set_outcome({.symbol = "BTC", .bar_time = kT0, .cls = 2, .close_after = 101, .resolved_at = kT0 + 1});
    env.log->append(make_prediction("ETH", kT0));  // pending: null metrics
    const auto metrics = get(port, "/v1/monitor/metrics?model=m&window=24h", read);
    expect_matches(metrics, "/v1/monitor/metrics", "get");
    const auto metric_rows = metrics.json()["rows"];
    ASSERT_EQ(metric_rows.size(), 3u);  // all symbols, BTC, ETH
    EXPECT_EQ(metric_rows[0]["symbol"], "all");
    EXPECT_EQ(metric_rows[0]["metrics"]["predictions"], 2);
    EXPECT_EQ(metric_rows[0]["metrics"]["resolved"], 1);
    EXPECT_EQ(metric_rows[0]["metrics"]["accuracy"], 1.0);
    EXPECT_EQ(metric_rows[2]["metrics"]["accuracy"], nullptr);
    expect_matches(get(port, "/v1/monitor/metrics?symbol=ETH&window=1h", read), "/v1/monitor/metrics", "get");
    expect_matches(get(port, "/v1/monitor/metrics?window=1h,soon", read), "/v1/monitor/metrics", "get");
    expect_matches(get(port, "/v1/monitor/metrics?model=nope", read), "/v1/monitor/metrics", "get");

    for (const auto& [path, ops] : doc["paths"].items())  // every documented 401, without a key
        for (const auto& [method, op] : ops.items()) {
            if (!op["responses"].contains("401")) continue;
            std::string target = path;
            if (const auto at = target.find("{name}"); at != std::string::npos) target.replace(at, 6, "m");
            const auto verb = method == "post" ? http::verb::post : http::verb::get;
            expect_matches(request(port, verb, target, method == "post" ? "{}" : ""), path, method);
        }

    for (const auto& [path, ops] : doc["paths"].items())
        for (const auto& [method, op] : ops.items())
            for (const auto& [status, r] : op["responses"].items())
                if (status != "101" && status != "503") {  // 503: parts this server lacks; 101: the WebSocket test
                    EXPECT_TRUE(covered.contains(fmt::format("{} {} {}", method, path, status)))
                        << "not exercised: " << method << " " << path << " " << status;
                }
}

TEST_F(Contract, UnavailablePartsAnswer503AsDocumented) {
    ApiEnv env({}, false);
    expect_matches(get(env.port(), "/ready"), "/ready", "get");
    json rows = json::array();
    for (std::size_t i = 0; i < kSteps; ++i) rows.push_back({0.1, 0.2, 0.3, 0.4});
    expect_matches(post(env.port(), "/v1/predict", json{{"features", rows}}.dump()), "/v1/predict", "post");
    api::Server bare({}, [] {
        api::ServerOptions o;
        o.port = 0;
        return o;
    }());
    bare.start();
    const json news = {{"id", "n"}, {"event_time", "2024-01-01T00:00:00Z"}, {"headline", "h"}};
    expect_matches(post(bare.port(), "/v1/news", news.dump()), "/v1/news", "post");
    EXPECT_EQ(get(bare.port(), "/v1/models").status, 503);
    expect_matches(get(bare.port(), "/v1/monitor/metrics"), "/v1/monitor/metrics", "get");
}

TEST_F(Contract, WebSocketMessagesMatchTheDocument) {
    ApiEnv env;
    WsClient c(env.port());
    c.send_json({{"op", "subscribe"}, {"symbols", {"*"}}});
    expect_ws(c.read_json(), "WsSubscribed");
    env.predictions.add(make_prediction("BTC", kT0));
    expect_ws(c.read_json(), "WsPrediction");
    env.bars.add(make_bar("BTC", kT0));
    expect_ws(c.read_json(), "WsBar");
    c.send("nope");
    expect_ws(c.read_json(), "WsError");
    const json request = {{"op", "unsubscribe"}, {"symbols", {"BTC"}}};
    EXPECT_TRUE(checker.check(request, {{"$ref", "#/components/schemas/WsRequest"}}).empty());
}
