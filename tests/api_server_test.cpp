// The REST routes over real sockets: happy paths, each class of bad input,
// authentication and the HTTP limits.
#include <chrono>
#include <fstream>
#include <limits>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "bus/messages.hpp"
#include "support/api_client.hpp"
#include "support/api_env.hpp"
#include "support/temp_dir.hpp"

using namespace pricecast;
using namespace pricecast::test;
using nlohmann::json;

namespace {

constexpr Timestamp kT0 = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z

std::string message_of(const HttpResult& r) { return r.json().at("error").at("message").get<std::string>(); }

void expect_error(const HttpResult& r, int status, const std::string& mentions) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_NO_THROW(r.json()) << r.body;
    EXPECT_EQ(r.json()["error"]["code"], status) << r.body;
    EXPECT_NE(message_of(r).find(mentions), std::string::npos) << r.body;
}

std::string features_body(std::size_t steps, std::size_t width) {
    json rows = json::array();
    for (std::size_t i = 0; i < steps; ++i) rows.push_back(std::vector<double>(width, 0.5));
    return json{{"features", rows}}.dump();
}

}  // namespace

TEST(ApiServer, HealthAndReady) {
    ApiEnv env;
    auto h = get(env.port(), "/health");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.json(), (json{{"status", "ok"}}));
    EXPECT_EQ(h.content_type, "application/json");
    auto r = get(env.port(), "/ready");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["status"], "ready");
}

TEST(ApiServer, NotReadyWithoutAChampionSaysWhy) {
    ApiEnv env({}, false);
    auto r = get(env.port(), "/ready");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.json()["status"], "not_ready");
    ASSERT_EQ(r.json()["reasons"].size(), 1u);
    EXPECT_NE(r.json()["reasons"][0].get<std::string>().find("no champion of 'm'"), std::string::npos);
}

TEST(ApiServer, LatestPrediction) {
    ApiEnv env;
    env.predictions.add(make_prediction("BTC", kT0));
    env.predictions.add(make_prediction("BTC", kT0 + 60'000'000'000, 0));
    auto r = get(env.port(), "/v1/predictions/latest?symbol=BTC");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto j = r.json();
    EXPECT_EQ(j["symbol"], "BTC");
    EXPECT_EQ(j["bar_time"], "2023-11-14T22:14:20Z");
    EXPECT_EQ(j["class"], "DOWN");
    EXPECT_NEAR(j["probabilities"]["up"].get<double>(), 0.7, 1e-6);
    EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), 1.5);
    EXPECT_EQ(j["slot"], "champion");
    expect_error(get(env.port(), "/v1/predictions/latest?symbol=ETH"), 404, "ETH");
    expect_error(get(env.port(), "/v1/predictions/latest"), 400, "'symbol'");
}

TEST(ApiServer, PredictionRangeByIsoOrEpochNanoseconds) {
    ApiEnv env;
    for (int i = 0; i < 5; ++i) env.predictions.add(make_prediction("BTC USD", kT0 + i * 60'000'000'000LL));
    auto r = get(env.port(), "/v1/predictions?symbol=BTC%20USD&from=2023-11-14T22:14:20Z&to=" +
                                 std::to_string(kT0 + 3 * 60'000'000'000LL));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.json()["predictions"].size(), 3u);
    EXPECT_EQ(r.json()["predictions"][0]["bar_time"], "2023-11-14T22:14:20Z");
    EXPECT_EQ(get(env.port(), "/v1/predictions?symbol=BTC+USD").json()["predictions"].size(), 5u);
    expect_error(get(env.port(), "/v1/predictions?symbol=BTC+USD&from=yesterday"), 400, "'from'");
    expect_error(get(env.port(), "/v1/predictions?symbol=BTC+USD&to=12x"), 400, "'to'");
    expect_error(get(env.port(), "/v1/predictions?symbol=BTC+USD&from=1700000000000000010&to=1700000000000000005"), 400,
                 "'from' is after 'to'");
    expect_error(get(env.port(), "/v1/predictions?symbol=BTC+USD&from=1704393600"), 400, "looks like epoch seconds");
    expect_error(get(env.port(), "/v1/predictions?symbol=BTC+USD&to=1704393600000"), 400, "looks like epoch seconds");
    expect_error(get(env.port(), "/v1/predictions?symbol=XYZ"), 404, "XYZ");
    expect_error(get(env.port(), "/v1/predictions?symbol=%zz"), 400, "percent");
}

// Same parameters and errors as /v1/predictions; bars are found by close time
// (a prediction's bar_time).
TEST(ApiServer, BarRangeByIsoOrEpochNanoseconds) {
    ApiEnv env;
    for (int i = 0; i < 5; ++i) env.bars.add(make_bar("BTC USD", kT0 + i * 60'000'000'000LL, 100 + i));
    auto r = get(env.port(), "/v1/bars?symbol=BTC%20USD&from=2023-11-14T22:14:20Z&to=" +
                                 std::to_string(kT0 + 3 * 60'000'000'000LL));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["symbol"], "BTC USD");
    const auto bars = r.json()["bars"];
    ASSERT_EQ(bars.size(), 3u);
    EXPECT_EQ(bars[0], (json{{"symbol", "BTC USD"},
                             {"interval", "1m"},
                             {"open_time", "2023-11-14T22:13:20Z"},
                             {"close_time", "2023-11-14T22:14:20Z"},
                             {"open", 100.0},
                             {"high", 101.0},
                             {"low", 99.5},
                             {"close", 101.0},
                             {"volume", 12.5},
                             {"trades", 7}}));
    EXPECT_EQ(bars[2]["close"], 103.0);
    EXPECT_EQ(get(env.port(), "/v1/bars?symbol=BTC+USD").json()["bars"].size(), 5u);
    expect_error(get(env.port(), "/v1/bars"), 400, "'symbol'");
    expect_error(get(env.port(), "/v1/bars?symbol="), 400, "'symbol'");
    expect_error(get(env.port(), "/v1/bars?symbol=BTC+USD&from=yesterday"), 400, "'from'");
    expect_error(get(env.port(), "/v1/bars?symbol=BTC+USD&to=12x"), 400, "'to'");
    expect_error(get(env.port(), "/v1/bars?symbol=BTC+USD&from=1700000000000000010&to=1700000000000000005"), 400,
                 "'from' is after 'to'");
    expect_error(get(env.port(), "/v1/bars?symbol=BTC+USD&from=1704393600"), 400, "looks like epoch seconds");
    expect_error(get(env.port(), "/v1/bars?symbol=BTC+USD&to=1704393600000"), 400, "looks like epoch seconds");
    expect_error(get(env.port(), "/v1/bars?symbol=XYZ"), 404, "XYZ");
    expect_error(get(env.port(), "/v1/bars?symbol=%zz"), 400, "percent");
    expect_error(post(env.port(), "/v1/bars?symbol=BTC+USD", "{}"), 405, "GET");
}

TEST(ApiServer, LatestFeaturesKeyedByColumn) {
    ApiEnv env;
    features::FeatureVector v;
    v.schema_hash = env.schema.hash();
    v.symbol = "BTC";
    v.close_time = kT0;
    v.close = 101;
    v.values = {1, 2, std::nan(""), 4};
    env.features.add(v);
    auto r = get(env.port(), "/v1/features/latest?symbol=BTC");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["values"]["1m:b"], 2.0);
    EXPECT_TRUE(r.json()["values"]["1m:c"].is_null());
    EXPECT_EQ(r.json()["complete"], false);
    expect_error(get(env.port(), "/v1/features/latest?symbol=ETH"), 404, "ETH");
}

TEST(ApiServer, ModelsListAndShow) {
    ApiEnv env;
    auto list = get(env.port(), "/v1/models");
    ASSERT_EQ(list.status, 200) << list.body;
    ASSERT_EQ(list.json()["models"].size(), 1u);
    EXPECT_EQ(list.json()["models"][0]["aliases"]["champion"], 1);
    auto show = get(env.port(), "/v1/models/m");
    ASSERT_EQ(show.status, 200) << show.body;
    EXPECT_EQ(show.json()["versions"][0]["stage"], "Production");
    EXPECT_EQ(show.json()["versions"][0]["metrics"]["macro_f1"], 0.4);
    EXPECT_FALSE(show.json()["versions"][0].contains("artifact_dir"));
    EXPECT_EQ(show.json()["history"].back()["alias"], "champion");
    expect_error(get(env.port(), "/v1/models/nope"), 404, "nope");
}

TEST(ApiServer, PromoteThroughTheGateAndRollBack) {
    ApiEnv env;
    const int worse = env.register_version(0.3, {0.6f, 0.2f, 0.2f});
    const int better = env.register_version(0.5, {0.2f, 0.6f, 0.2f});
    auto refused = post(env.port(), "/v1/models/m/promote", json{{"version", worse}}.dump());
    expect_error(refused, 409, "macro_f1");
    auto ok = post(env.port(), "/v1/models/m/promote", json{{"version", better}, {"reason", "better"}}.dump());
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.json()["changed"], true);
    EXPECT_EQ(env.models->current(kModel)->version.version, better);  // the manager was refreshed
    auto again = post(env.port(), "/v1/models/m/promote", json{{"version", better}}.dump());
    EXPECT_EQ(again.json()["changed"], false);
    // The champion cannot also be the challenger, and no force changes that: the message offers none.
    const auto both = post(env.port(), "/v1/models/m/promote",
                           json{{"version", better}, {"alias", "challenger"}, {"force", true}, {"reason", "x"}}.dump());
    expect_error(both, 409, "champion");
    EXPECT_EQ(message_of(both).find("force"), std::string::npos) << both.body;
    auto forced = post(env.port(), "/v1/models/m/promote", json{{"version", worse}, {"alias", "challenger"}}.dump());
    EXPECT_EQ(forced.status, 200) << forced.body;

    auto back = post(env.port(), "/v1/models/m/rollback", json{{"reason", "test"}}.dump());
    ASSERT_EQ(back.status, 200) << back.body;
    EXPECT_EQ(back.json()["from"], better);
    EXPECT_EQ(back.json()["to"], 1);
    EXPECT_EQ(env.models->current(kModel)->version.version, 1);
    expect_error(post(env.port(), "/v1/models/m/rollback", ""), 409, "earlier champion");
    expect_error(post(env.port(), "/v1/models/nope/rollback", ""), 404, "nope");
}

// The registry takes a promotion the model manager then refuses (a version
// trained on another feature schema): the answer says it is not served, and
// why, and the last champion goes on serving.
TEST(ApiServer, PromoteSaysWhenTheServerDoesNotServeTheNewChampion) {
    ApiEnv env;
    registry::Registry reg(env.data_dir);
    ConstantModel other(models::ClassProbs{0.2f, 0.6f, 0.2f}, kSteps, env.schema.size(), env.schema.hash() + 1);
    registry::NewVersion meta;
    meta.metrics = {{"macro_f1", 0.9}};
    meta.eval_window = "w1";
    const int foreign = registry::register_model(reg, kModel, other, meta).version;

    auto r = post(env.port(), "/v1/models/m/promote", json{{"version", foreign}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["changed"], true);
    EXPECT_EQ(r.json()["serving"], false);
    EXPECT_NE(r.json()["load_error"].get<std::string>().find("schema"), std::string::npos) << r.body;
    EXPECT_EQ(env.models->current(kModel)->version.version, 1);

    const int good = env.register_version(0.95, {0.2f, 0.6f, 0.2f});
    auto ok = post(env.port(), "/v1/models/m/promote", json{{"version", good}}.dump());
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.json()["serving"], true);
    EXPECT_FALSE(ok.json().contains("load_error")) << ok.body;
}

TEST(ApiServer, PromoteBodyErrorsNameTheField) {
    ApiEnv env;
    expect_error(post(env.port(), "/v1/models/m/promote", "{not json"), 400, "not valid JSON");
    expect_error(post(env.port(), "/v1/models/m/promote", "[1]"), 400, "JSON object");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":"2"})"), 400, "'version'");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":4294967297})"), 400, "'version'");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"alias":"champion"})"), 400, "'version'");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":1,"force":"yes"})"), 400, "'force'");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":1,"colour":1})"), 400, "'colour'");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":99})"), 404, "99");
    const int v2 = env.register_version(0.1, {0.3f, 0.3f, 0.4f});
    expect_error(post(env.port(), "/v1/models/m/promote", json{{"version", v2}, {"force", true}}.dump()), 400,
                 "'reason' is required when 'force'");
    for (const char* alias : {"a b", "latest", "Staging", "123", "x/y"})
        expect_error(post(env.port(), "/v1/models/m/promote", json{{"version", v2}, {"alias", alias}}.dump()), 400,
                     "invalid alias");
    expect_error(post(env.port(), "/v1/models/m/promote",
                      json{{"version", v2}, {"alias", "challenger"}, {"metric", "nope"}}.dump()),
                 400, "'metric' and 'margin'");
    // A refusal says how to override in the API's terms, not the CLI's.
    const auto refused = post(env.port(), "/v1/models/m/promote", json{{"version", v2}}.dump());
    expect_error(refused, 409, "\"force\": true with a \"reason\"");
    EXPECT_EQ(message_of(refused).find("--"), std::string::npos) << refused.body;
    EXPECT_FALSE(registry::Registry(env.data_dir).alias_version(kModel, "a b"));
}

TEST(ApiServer, BodiesMustBeJson) {
    ApiEnv env;
    const std::string promote = json{{"version", 1}, {"alias", "csrf"}}.dump();
    for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"})
        expect_error(post(env.port(), "/v1/models/m/promote", promote, {{"Content-Type", type}}), 415, type);
    expect_error(post(env.port(), "/v1/predict", features_body(kSteps, 4), {{"Content-Type", "text/plain"}}), 415,
                 "application/json");
    const std::string body = features_body(kSteps, 4);
    expect_error(raw(env.port(), "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body),
                 415, "(none)");
    EXPECT_FALSE(registry::Registry(env.data_dir).alias_version(kModel, "csrf"));  // nothing was promoted
    auto ok = post(env.port(), "/v1/predict", body, {{"Content-Type", "Application/JSON; charset=utf-8"}});
    EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(ApiServer, PredictChecksWidthAndSteps) {
    ApiEnv env;
    auto r = post(env.port(), "/v1/predict", features_body(kSteps, 4));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["class"], "UP");
    EXPECT_EQ(r.json()["version"], 1);
    EXPECT_NEAR(r.json()["confidence"].get<double>(), 0.7, 1e-6);
    expect_error(post(env.port(), "/v1/predict", features_body(kSteps, 5)), 422, "schema has 4 columns");
    expect_error(post(env.port(), "/v1/predict", features_body(1, 4)), 422, "1 steps");
    expect_error(post(env.port(), "/v1/predict", R"({"features":[[1,2,3,4],[1,2,3]]})"), 422, "features[1]");
    expect_error(post(env.port(), "/v1/predict", R"({"features":[[1,2,"x",4]]})"), 400, "features[0][2]");
    expect_error(post(env.port(), "/v1/predict", R"({"features":[]})"), 400, "'features'");
    expect_error(post(env.port(), "/v1/predict", R"({})"), 400, "'features'");
    expect_error(post(env.port(), "/v1/predict", R"({"features":[[1,2,3,4]],"model":"other"})"), 404, "other");
    expect_error(post(env.port(), "/v1/predict", R"({"features":[[1,2,null,4],[1,2,3,4],[1,2,3,4]]})"), 422,
                 "features[0][2] is null");
}

// The values of GET /v1/features/latest can be sent back as they are: by
// column name, put in the schema's order whatever order the object has.
TEST(ApiServer, PredictReadsNamedFeaturesInSchemaOrder) {
    ApiEnv env;
    const json step = {{"1m:d", 4.0}, {"1m:b", 2.0}, {"1m:a", 1.0}, {"1m:c", 3.0}};
    auto r = post(env.port(), "/v1/predict", json{{"features", {step, step, step}}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const std::vector<float> order = {4, 2, 3, 1};  // 1m:d, 1m:b, 1m:c, 1m:a
    std::vector<float> expected;
    for (std::size_t i = 0; i < kSteps; ++i) expected.insert(expected.end(), order.begin(), order.end());
    EXPECT_EQ(ConstantModel::last_seen(), expected);

    auto with = [&](json s) { return json{{"features", {s, s, s}}}.dump(); };
    json missing = step, unknown = step, warming = step, text = step;
    missing.erase("1m:c");
    unknown["1m:zz"] = 1.0;
    warming["1m:b"] = nullptr;
    text["1m:a"] = "1";
    expect_error(post(env.port(), "/v1/predict", with(missing)), 422, "'1m:c' is missing");
    expect_error(post(env.port(), "/v1/predict", with(unknown)), 422, "'1m:zz' is not a column");
    expect_error(post(env.port(), "/v1/predict", with(warming)), 422, "1m:b is null");
    expect_error(post(env.port(), "/v1/predict", with(text)), 400, "1m:a must be a number");
}

TEST(ApiServer, NewsIsValidatedAndPublished) {
    ApiEnv env;
    auto consumer = env.bus->subscribe("test", {bus::topics::news});
    const json item = {{"id", "n1"},
                       {"event_time", "2024-01-02T03:04:05Z"},
                       {"source", "wire"},
                       {"symbols", {"BTC"}},
                       {"headline", "BTC rallies"},
                       {"body", "up a lot"}};
    auto r = post(env.port(), "/v1/news", item.dump());
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.json()["key"], bus::kNewsKey);  // news and clocks share one ordered stream
    const auto m = consumer->poll(std::chrono::seconds(30));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->key, bus::kNewsKey);
    const auto decoded = bus::decode_news(m->value);
    EXPECT_EQ(decoded.id, "n1");
    EXPECT_EQ(decoded.headline, "BTC rallies");
    EXPECT_EQ(format_iso8601(decoded.event_time), "2024-01-02T03:04:05Z");

    auto without = [&](const char* field) {
        json j = item;
        j.erase(field);
        return j.dump();
    };
    auto with = [&](const char* field, json v) {
        json j = item;
        j[field] = std::move(v);
        return j.dump();
    };
    expect_error(post(env.port(), "/v1/news", without("id")), 400, "'id'");
    expect_error(post(env.port(), "/v1/news", without("event_time")), 400, "'event_time'");
    expect_error(post(env.port(), "/v1/news", with("event_time", "soon")), 400, "event time");
    expect_error(post(env.port(), "/v1/news", with("symbols", "BTC")), 400, "'symbols'");
    expect_error(post(env.port(), "/v1/news", with("headline", 5)), 400, "'headline'");
    expect_error(post(env.port(), "/v1/news", with("sentiment", 3)), 400, "sentiment");
    expect_error(post(env.port(), "/v1/news", "nope"), 400, "JSON");
    json blank = item;
    blank["headline"] = "   ";
    blank["body"] = "\t";
    expect_error(post(env.port(), "/v1/news", blank.dump()), 400, "blank");
}

TEST(ApiServer, NewsForSymbolsNotServedIsRefused) {
    ApiEnv env({}, true, {"BTC", "ETH"});
    json item = {{"id", "n1"}, {"event_time", "2024-01-02T03:04:05Z"}, {"symbols", {"ZZZ"}}, {"headline", "h"}};
    expect_error(post(env.port(), "/v1/news", item.dump()), 400, "served: BTC, ETH");
    item["symbols"] = {"ZZZ", "ETH"};
    EXPECT_EQ(post(env.port(), "/v1/news", item.dump()).status, 202);
    item["symbols"] = json::array();  // market-wide news
    EXPECT_EQ(post(env.port(), "/v1/news", item.dump()).status, 202);
}

TEST(ApiServer, MonitorWindowsMustFit) {
    ApiEnv env;
    EXPECT_EQ(get(env.port(), "/v1/monitor/metrics?window=24h").status, 200);
    expect_error(get(env.port(), "/v1/monitor/metrics?window=99999999999999h"), 400, "'window'");
    expect_error(get(env.port(), "/v1/monitor/metrics?window=2562048h"), 400, "'window'");
    // Each window is a pass over the log on a server thread: a long list would stall the others.
    EXPECT_EQ(get(env.port(), "/v1/monitor/metrics?window=1h,2h,3h,4h,5h,6h,7h,8h,9h,10h").status, 200);
    expect_error(get(env.port(), "/v1/monitor/metrics?window=1h,2h,3h,4h,5h,6h,7h,8h,9h,10h,11h"), 400,
                 "'window': at most 10 windows");
}

TEST(ApiServer, MonitorFiltersThatMatchNothingAre404) {
    ApiEnv env({}, true, {"BTC", "ETH"});
    // Registered and served, but nothing logged yet: an empty list.
    const auto empty = get(env.port(), "/v1/monitor/metrics?model=m&symbol=ETH");
    EXPECT_EQ(empty.status, 200);
    EXPECT_EQ(empty.json()["rows"], json::array());
    expect_error(get(env.port(), "/v1/monitor/metrics?model=nope"), 404, "'nope'");
    expect_error(get(env.port(), "/v1/monitor/metrics?symbol=ZZZ"), 404, "served: BTC, ETH");
}

TEST(ApiServer, MetricsCountRequestsByRouteAndCode) {
    ApiEnv env;
    get(env.port(), "/health");
    get(env.port(), "/v1/predictions/latest?symbol=NONE");
    auto m = get(env.port(), "/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.content_type.find("text/plain"), std::string::npos);
    EXPECT_NE(m.body.find("pricecast_http_requests_total{code=\"200\",route=\"/health\"} 1"), std::string::npos)
        << m.body;
    EXPECT_NE(m.body.find("pricecast_http_requests_total{code=\"404\",route=\"/v1/predictions/latest\"} 1"),
              std::string::npos);
    EXPECT_NE(m.body.find("# TYPE pricecast_http_request_duration_seconds histogram"), std::string::npos);
    EXPECT_NE(m.body.find("\npricecast_ws_clients 0\n"), std::string::npos);
    EXPECT_NE(m.body.find("\npricecast_ws_dropped_total 0\n"), std::string::npos);
}

TEST(ApiServer, UnknownRoutesAndMethods) {
    ApiEnv env;
    expect_error(get(env.port(), "/v1/nothing"), 404, "/v1/nothing");
    expect_error(get(env.port(), "/"), 404, "/");  // no web_root
    expect_error(post(env.port(), "/health", "{}"), 405, "GET");
    expect_error(get(env.port(), "/v1/predict"), 405, "POST");
    EXPECT_EQ(get(env.port(), "/v1/predict").headers["Allow"], "POST");
    EXPECT_EQ(request(env.port(), http::verb::delete_, "/v1/models").headers["Allow"], "GET, HEAD");
    expect_error(get(env.port(), "/ws"), 426, "WebSocket");
}

// HEAD (uptime checks, curl -I) gets the GET answer's status and headers, no body.
TEST(ApiServer, HeadAnswersLikeGetWithoutTheBody) {
    ApiEnv env;
    const auto got = get(env.port(), "/openapi.json");
    auto head = request(env.port(), http::verb::head, "/openapi.json");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(head.headers["Content-Length"], std::to_string(got.body.size()));
    EXPECT_EQ(head.content_type, got.content_type);
    EXPECT_EQ(request(env.port(), http::verb::head, "/v1/predictions/latest?symbol=NOPE").status, 404);
    auto post_only = request(env.port(), http::verb::head, "/v1/predict");
    EXPECT_EQ(post_only.status, 405);
    EXPECT_EQ(post_only.headers["Allow"], "POST");
    // On a kept-alive connection the next answer is not taken for the HEAD's body.
    net::io_context ioc;
    auto socket = connect(ioc, env.port());
    for (const auto verb : {http::verb::head, http::verb::get}) {
        http::request<http::string_body> req{verb, "/health", 11};
        req.set(http::field::host, "127.0.0.1");
        http::write(socket, req);
        const auto res = read_response(socket, verb == http::verb::head);
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(res.body.empty(), verb == http::verb::head);
    }
}

TEST(ApiServer, StaticFilesWithoutEscapes) {
    const test::TempDir dir("api-web");  // the web root and, beside it, a secret it must not serve
    const auto web = dir / "web";
    std::filesystem::create_directories(web / "js");
    std::ofstream(web / "index.html") << "<html>dashboard</html>";
    std::ofstream(web / "js" / "app.js") << "console.log(1)";
    std::ofstream(dir / "pricecast-api-secret.txt") << "secret";
    std::filesystem::create_symlink(dir / "pricecast-api-secret.txt", web / "link.txt");
    {
        api::ServerOptions o;
        o.web_root = web;
        ApiEnv env(o);
        auto index = get(env.port(), "/");
        EXPECT_EQ(index.status, 200);
        EXPECT_EQ(index.body, "<html>dashboard</html>");
        EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
        auto js = get(env.port(), "/js/app.js");
        EXPECT_EQ(js.status, 200);
        EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
        for (const char* escape :
             {"/../pricecast-api-secret.txt", "/%2e%2e/pricecast-api-secret.txt", "/js/../../pricecast-api-secret.txt",
              "/missing.html", "/link.txt", "/js/", "/js%00/app.js"}) {
            auto r = raw(env.port(), std::string("GET ") + escape + " HTTP/1.1\r\nHost: x\r\n\r\n");
            EXPECT_EQ(r.status, 404) << escape;
            EXPECT_EQ(r.body.find("secret\""), std::string::npos);
        }
    }
}

TEST(ApiServer, ApiKeysWithRoles) {
    api::ServerOptions o;
    o.keys = {{kReadKey, api::Role::read}, {kAdminKey, api::Role::admin}};
    ApiEnv env(o);
    const Headers read = {{"X-API-Key", kReadKey}}, admin = {{"Authorization", "Bearer " + kAdminKey}};
    EXPECT_EQ(get(env.port(), "/health").status, 200);
    EXPECT_EQ(get(env.port(), "/ready").status, 200);
    EXPECT_EQ(get(env.port(), "/openapi.json").status, 200);
    expect_error(get(env.port(), "/v1/models"), 401, "missing API key");
    expect_error(get(env.port(), "/metrics"), 401, "missing API key");
    expect_error(get(env.port(), "/v1/models", {{"X-API-Key", "read-key-1235"}}), 401, "unknown API key");
    EXPECT_EQ(get(env.port(), "/v1/models", {{"X-API-Key", "read-key-1235"}}).headers["WWW-Authenticate"], "Bearer");
    EXPECT_EQ(get(env.port(), "/v1/models", read).status, 200);
    EXPECT_EQ(get(env.port(), "/v1/models", {{"Authorization", "Bearer " + kReadKey}}).status, 200);
    expect_error(post(env.port(), "/v1/models/m/rollback", "", read), 403, "admin");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":1})", read), 403, "admin");
    expect_error(post(env.port(), "/v1/models/m/promote", R"({"version":1})"), 401, "missing");
    auto ok = post(env.port(), "/v1/models/m/promote", R"({"version":1})", admin);
    EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(ApiServer, LimitsAndMalformedRequestsKeepTheServerUp) {
    api::ServerOptions o;
    o.max_body_bytes = 1024;
    o.max_header_bytes = 2048;
    ApiEnv env(o);
    expect_error(post(env.port(), "/v1/news", std::string(4096, ' ')), 413, "1024 bytes");
    expect_error(raw(env.port(), "POST /v1/news HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n{}"), 413,
                 "larger than");
    expect_error(get(env.port(), "/health", {{"X-Padding", std::string(4096, 'p')}}), 431, "2048 bytes");
    expect_error(raw(env.port(), "GARBAGE\r\n\r\n"), 400, "malformed HTTP");
    expect_error(raw(env.port(), "GET / HTTP/9.9\r\n\r\n"), 400, "malformed HTTP");
    expect_error(raw(env.port(), "GET /health HTTP/1.1\r\nContent-Length: abc\r\n\r\n"), 400, "malformed HTTP");
    EXPECT_EQ(get(env.port(), "/health").status, 200);
}

TEST(ApiServer, KeepAliveServesManyRequestsOnOneConnection) {
    ApiEnv env;
    net::io_context ioc;
    auto socket = connect(ioc, env.port());
    for (int i = 0; i < 3; ++i) {
        http::request<http::string_body> req{http::verb::get, "/health", 11};
        req.set(http::field::host, "x");
        http::write(socket, req);
        EXPECT_EQ(read_response(socket).status, 200);
    }
}

// ---- the ops-only port of a process without the api role ------------------------------

namespace {

api::ServerOptions ops_only(std::vector<api::ApiKey> keys = {}) {
    api::ServerOptions o;
    o.ops_only = true;
    o.keys = std::move(keys);
    return o;
}

// A transport known to be down, as the Kafka bus reports it when no broker answers.
class DownBus : public bus::Bus {
public:
    void publish(std::string_view, std::string_view, std::string_view) override {}
    void flush(std::chrono::milliseconds) override {}
    std::unique_ptr<bus::Consumer> subscribe(const std::string&, const std::vector<std::string>&) override {
        return nullptr;
    }
    void read_retained(const std::string&, const std::function<void(const bus::Message&)>&,
                       std::chrono::milliseconds) override {}
    bool connected() const override { return false; }
};

// What a process without a model hands its ops port: only its bus.
api::Services bus_only(bus::Bus* bus) {
    api::Services s;
    s.bus = bus;
    return s;
}

// An ops-only server started over `services` on a free port.
std::unique_ptr<api::Server> ops_server(const api::Services& services, api::ServerOptions o = ops_only()) {
    o.port = 0;
    auto s = std::make_unique<api::Server>(services, o);
    s->start();
    return s;
}

}  // namespace

TEST(ApiOpsPort, ServesHealthReadyAndMetricsAndNothingElse) {
    ApiEnv env(ops_only());  // every service present: the port still serves only the three
    env.predictions.add(make_prediction("X", kT0));
    EXPECT_EQ(get(env.port(), "/health").json(), (json{{"status", "ok"}}));
    const auto ready = get(env.port(), "/ready");
    EXPECT_EQ(ready.status, 200) << ready.body;
    const auto m = get(env.port(), "/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.content_type.find("text/plain"), std::string::npos);
    EXPECT_NE(m.body.find("pricecast_http_requests_total{code=\"200\",route=\"/health\"} 1"), std::string::npos)
        << m.body;
    EXPECT_EQ(request(env.port(), http::verb::head, "/metrics").status, 200);
    for (const char* target : {"/v1/predictions/latest?symbol=X", "/", "/openapi.json", "/v1/models", "/ws", "/v1/nothing"})
        expect_error(get(env.port(), target), 404, "this port serves only /health, /ready and /metrics");
    expect_error(post(env.port(), "/v1/news", R"({"id":"a"})"), 404, "only /health, /ready and /metrics");
    expect_error(post(env.port(), "/health", "{}"), 405, "GET");
    // No WebSocket either: the upgrade gets the same 404.
    expect_error(raw(env.port(), "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
                 404, "only /health, /ready and /metrics");
}

// An inference process: ready once the served model's champion is loaded.
TEST(ApiOpsPort, ReadyNeedsTheChampionWhereThereIsAModelManager) {
    ApiEnv env(ops_only(), false);
    const auto r = get(env.port(), "/ready");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.json()["reasons"], (json{"no champion of 'm' loaded"})) << r.body;
}

// A process without a model (features, sentiment, price, monitor): ready when its bus is.
TEST(ApiOpsPort, ReadyWithoutAModelManagerIsTheBus) {
    const auto up = bus::make_in_process_bus();
    const auto ready = ops_server(bus_only(up.get()));
    EXPECT_EQ(get(ready->port(), "/ready").json(), (json{{"status", "ready"}}));
    DownBus down;
    const auto not_ready = ops_server(bus_only(&down));
    const auto r = get(not_ready->port(), "/ready");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.json()["reasons"], (json{"message bus not connected"})) << r.body;
    expect_error(r, 503, "message bus not connected");
}

// /metrics asks for a read key where the api port does; a key opens nothing else.
TEST(ApiOpsPort, KeysGuardMetricsAsOnTheApiPort) {
    const auto bus = bus::make_in_process_bus();
    const auto s = ops_server(bus_only(bus.get()), ops_only({{kReadKey, api::Role::read}}));
    EXPECT_EQ(get(s->port(), "/health").status, 200);
    EXPECT_EQ(get(s->port(), "/ready").status, 200);
    expect_error(get(s->port(), "/metrics"), 401, "missing API key");
    EXPECT_EQ(get(s->port(), "/metrics", {{"X-API-Key", kReadKey}}).status, 200);
    expect_error(get(s->port(), "/v1/models"), 404, "only /health, /ready and /metrics");
    expect_error(get(s->port(), "/v1/models", {{"X-API-Key", kReadKey}}), 404, "only /health, /ready and /metrics");
}

TEST(ApiServer, BadOptionsAreRejected) {
    api::ServerOptions o;
    o.keys = {{"", api::Role::read}};
    EXPECT_THROW(api::Server({}, o), std::invalid_argument);
    o = {};
    o.host = "not-an-ip";
    o.port = 0;
    api::Server s({}, o);
    EXPECT_THROW(s.start(), std::invalid_argument);
    o = {};
    o.port = 70000;
    EXPECT_THROW(api::Server({}, o), std::invalid_argument);
    o = ops_only();
    o.ws_port = 8765;
    EXPECT_THROW(api::Server({}, o), std::invalid_argument);
}

// Epoch nanoseconds in an int64 reach 1677-09-21 to 2262-04-11: a time past
// that is refused, naming the parameter or field, rather than wrapped around
// to an unrelated time (from=9999-01-01 matched every prediction).
TEST(ApiServer, TimesPastTheNanosecondRangeAreRefused) {
    ApiEnv env;
    env.predictions.add(make_prediction("BTC", kT0));
    env.bars.add(make_bar("BTC", kT0));
    for (const std::string route : {"/v1/predictions", "/v1/bars"}) {
        expect_error(get(env.port(), route + "?symbol=BTC&from=9999-01-01T00:00:00Z"), 400, "'from'");
        expect_error(get(env.port(), route + "?symbol=BTC&from=2262-04-12T00:00:00Z"), 400, "1678-2261");
        expect_error(get(env.port(), route + "?symbol=BTC&to=0001-01-01T00:00:00Z"), 400, "'to'");
        const auto late = get(env.port(), route + "?symbol=BTC&from=2261-12-31T23:59:59Z");
        ASSERT_EQ(late.status, 200) << late.body;
        EXPECT_EQ(late.json()[route == "/v1/bars" ? "bars" : "predictions"].size(), 0u);
        const auto early = get(env.port(), route + "?symbol=BTC&to=1678-01-01T00:00:00%2B01:00");
        ASSERT_EQ(early.status, 200) << early.body;
        EXPECT_EQ(early.json()[route == "/v1/bars" ? "bars" : "predictions"].size(), 0u);
    }
    const json item = {{"id", "n1"}, {"symbols", {"BTC"}}, {"headline", "BTC rallies"}};
    const auto news_at = [&](json time) {
        json j = item;
        j["event_time"] = std::move(time);
        return post(env.port(), "/v1/news", j.dump());
    };
    expect_error(news_at("9999-12-31T23:59:59Z"), 400, "'event_time'");
    expect_error(news_at(99'999'999'999LL), 400, "'event_time'");         // seconds: year 5138
    expect_error(news_at(9'999'999'999'999'999LL), 400, "'event_time'");  // milliseconds: year 2286
    expect_error(news_at(std::numeric_limits<std::uint64_t>::max()), 400, "'event_time'");
    EXPECT_EQ(news_at(1'704'164'645).status, 202);        // seconds
    EXPECT_EQ(news_at(1'704'164'645'000LL).status, 202);  // milliseconds
    EXPECT_EQ(news_at(kT0).status, 202);                  // nanoseconds
    EXPECT_EQ(news_at("2261-12-31T23:59:59Z").status, 202);
}

namespace {

// A GET /health on a connection the test holds.
int health_on(tcp::socket& socket) {
    http::request<http::string_body> req{http::verb::get, "/health", 11};
    req.set(http::field::host, "x");
    http::write(socket, req);
    return read_response(socket).status;
}

double metric_on(tcp::socket& socket, const std::string& name) {
    http::request<http::string_body> req{http::verb::get, "/metrics", 11};
    req.set(http::field::host, "x");
    http::write(socket, req);
    const auto body = read_response(socket).body;
    const auto at = body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

// Lowers the open-file limit to what is open now, so that nothing new opens; restores it after.
class NoNewDescriptors {
public:
    NoNewDescriptors() {
        getrlimit(RLIMIT_NOFILE, &saved_);
        const int lowest_free = dup(0);  // descriptors are handed out lowest first
        close(lowest_free);
        rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(lowest_free);
        setrlimit(RLIMIT_NOFILE, &low);
    }
    ~NoNewDescriptors() { setrlimit(RLIMIT_NOFILE, &saved_); }
    NoNewDescriptors(const NoNewDescriptors&) = delete;
    NoNewDescriptors& operator=(const NoNewDescriptors&) = delete;

private:
    rlimit saved_{};
};

}  // namespace

// Past max_connections a new connection is closed unanswered, so that a flood
// of clients cannot take the descriptors the other roles of the process need;
// once some end, new connections are served again.
TEST(ApiServer, ConnectionsPastTheLimitAreClosed) {
    api::ServerOptions o;
    o.max_connections = 3;
    ApiEnv env(o);
    net::io_context ioc;
    std::vector<tcp::socket> held;
    for (int i = 0; i < 3; ++i) held.push_back(connect(ioc, env.port()));
    EXPECT_EQ(health_on(held[0]), 200);
    // Accepted in order: by the fourth, the three are the server's sessions.
    auto extra = connect(ioc, env.port());
    http::request<http::string_body> req{http::verb::get, "/health", 11};
    req.set(http::field::host, "x");
    beast::error_code ec;
    http::write(extra, req, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (!ec) http::read(extra, buffer, res, ec);
    EXPECT_TRUE(ec) << "answered past the limit: " << res.result_int();
    EXPECT_EQ(health_on(held[1]), 200);  // the held ones are still served
    held[2].close();
    int status = 0;
    for (int i = 0; i < 300 && status != 200; ++i) {  // until the server has seen it go
        try {
            status = get(env.port(), "/health").status;
        } catch (const boost::system::system_error&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    EXPECT_EQ(status, 200);
    EXPECT_GE(metric_on(held[0], "pricecast_http_connections_refused_total"), 1);
}

// Out of descriptors, accept() fails again at once for as long as that lasts;
// the server pauses between tries instead of spinning a core on them, and
// serves the waiting client once descriptors are back.
TEST(ApiServer, AcceptPausesWhileOutOfDescriptors) {
    ApiEnv env;
    net::io_context ioc;
    auto kept = connect(ioc, env.port());
    ASSERT_EQ(health_on(kept), 200);  // accepted: /metrics can be read on it throughout
    tcp::socket waiting(ioc);
    waiting.open(tcp::v4());  // its descriptor is taken before the limit drops
    double errors = 0, later = 0;
    {
        const NoNewDescriptors limit;
        waiting.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(env.port())));
        for (int i = 0; i < 300 && errors < 1; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            errors = metric_on(kept, "pricecast_http_accept_errors_total");
        }
        std::this_thread::sleep_for(std::chrono::seconds(2));
        later = metric_on(kept, "pricecast_http_accept_errors_total");
    }
    EXPECT_GE(errors, 1);
    // A pause of 500 ms between tries makes about 4 in 2 s, however slow the
    // machine; a retry at once makes thousands.
    EXPECT_LT(later - errors, 50);
    EXPECT_EQ(health_on(waiting), 200);
}
