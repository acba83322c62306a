// The OpenAPI document, built here so it cannot drift from the code: the
// contract test checks every response against it, and checks that the copy in
// the repo (api/openapi.json) equals it. To regenerate the copy:
//   PRICECAST_UPDATE_OPENAPI=1 build/tests/api_openapi_test
#include "api/api.hpp"

namespace pricecast::api {
namespace {

using nlohmann::json;

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }
json type(const char* t) { return {{"type", t}}; }
json time_string() { return {{"type", "string"}, {"format", "date-time"}}; }
json array_of(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
json one_of_strings(std::initializer_list<const char*> values) { return {{"type", "string"}, {"enum", values}}; }
json object(json properties, std::vector<std::string> required) {
    json o = {{"type", "object"}, {"properties", std::move(properties)}};
    if (!required.empty()) o["required"] = std::move(required);
    return o;
}
json nullable_integer() { return {{"type", "integer"}, {"nullable", true}}; }
json nullable_number() { return {{"type", "number"}, {"nullable", true}}; }

json content(json schema, const char* media = "application/json") { return {{media, {{"schema", std::move(schema)}}}}; }
json response(const char* description, json schema) {
    return {{"description", description}, {"content", content(std::move(schema))}};
}
json error(const char* description) { return response(description, ref("Error")); }
json query(const char* name, bool required, const char* description) {
    return {{"name", name},
            {"in", "query"},
            {"required", required},
            {"description", description},
            {"schema", type("string")}};
}
json path_name() {
    return {{"name", "name"},
            {"in", "path"},
            {"required", true},
            {"description", "registered model name"},
            {"schema", type("string")}};
}
json body(json schema) { return {{"required", true}, {"content", content(std::move(schema))}}; }

json probabilities() {
    return object({{"down", type("number")}, {"stable", type("number")}, {"up", type("number")}},
                  {"down", "stable", "up"});
}

json prediction_properties() {
    return {{"symbol", type("string")},
            {"bar_time", time_string()},
            {"feature_time", time_string()},
            {"model", type("string")},
            {"version", type("integer")},
            {"slot", one_of_strings({"champion", "challenger"})},
            {"class", one_of_strings({"DOWN", "STABLE", "UP"})},
            {"probabilities", probabilities()},
            {"confidence", type("number")},
            {"close", type("number")},
            {"latency_ms", type("number")},
            {"published_at", time_string()}};
}
const std::vector<std::string> kPredictionRequired = {"symbol",     "bar_time", "feature_time", "model",
                                                      "version",    "slot",     "class",        "probabilities",
                                                      "confidence", "close",    "latency_ms",   "published_at"};

json bar_properties() {
    return {{"symbol", type("string")},
            {"interval", {{"type", "string"}, {"description", "bar length, e.g. 1m"}}},
            {"open_time", time_string()},
            {"close_time", {{"type", "string"}, {"format", "date-time"}, {"description", "a prediction's bar_time"}}},
            {"open", type("number")},
            {"high", type("number")},
            {"low", type("number")},
            {"close", type("number")},
            {"volume", type("number")},
            {"trades", type("integer")}};
}
const std::vector<std::string> kBarRequired = {"symbol", "interval", "open_time", "close_time", "open",
                                               "high",   "low",      "close",     "volume",     "trades"};

json pushed(json properties, std::vector<std::string> required, const char* type_name) {
    properties["type"] = one_of_strings({type_name});
    required.push_back("type");
    return object(std::move(properties), std::move(required));
}

// Rolling metrics of the prediction log; null where nothing is resolved yet.
void monitor_schemas(json& s) {
    s["ClassScores"] = object({{"precision", type("number")},
                               {"recall", type("number")},
                               {"f1", type("number")},
                               {"support", type("integer")},
                               {"predicted", type("integer")}},
                              {"precision", "recall", "f1", "support", "predicted"});
    const auto per_class = [](json item) {
        return object({{"down", item}, {"stable", item}, {"up", item}}, {"down", "stable", "up"});
    };
    s["ReliabilityBin"] = object({{"lower", type("number")},
                                  {"upper", type("number")},
                                  {"count", type("integer")},
                                  {"mean_confidence", nullable_number()},
                                  {"accuracy", nullable_number()}},
                                 {"lower", "upper", "count", "mean_confidence", "accuracy"});
    s["Metrics"] = object({{"predictions", type("integer")},
                           {"resolved", type("integer")},
                           {"accuracy", nullable_number()},
                           {"macro_f1", nullable_number()},
                           {"log_loss", nullable_number()},
                           {"brier", nullable_number()},
                           {"ece", nullable_number()},
                           {"classes", per_class(ref("ClassScores"))},
                           {"class_mix", per_class(type("number"))},
                           {"reliability", array_of(ref("ReliabilityBin"))}},
                          {"predictions", "resolved", "accuracy", "macro_f1", "log_loss", "brier", "ece", "classes",
                           "class_mix", "reliability"});
    s["MetricsRow"] = object({{"model", type("string")},
                              {"version", type("integer")},
                              {"slot", one_of_strings({"champion", "challenger"})},
                              {"symbol", {{"type", "string"}, {"description", "\"all\" for every symbol together"}}},
                              {"window", type("string")},
                              {"end", time_string()},
                              {"metrics", ref("Metrics")}},
                             {"model", "version", "slot", "symbol", "window", "end", "metrics"});
    s["MetricsList"] = object({{"rows", array_of(ref("MetricsRow"))}}, {"rows"});
}

json schemas() {
    json s;
    s["Error"] = object(
        {{"error", object({{"code", type("integer")}, {"message", type("string")}}, {"code", "message"})}}, {"error"});
    s["Health"] = object({{"status", one_of_strings({"ok"})}}, {"status"});
    s["Ready"] = object({{"status", one_of_strings({"ready", "not_ready"})},
                         {"reasons", array_of(type("string"))},
                         {"error", s["Error"]["properties"]["error"]}},
                        {"status"});
    s["Prediction"] = object(prediction_properties(), kPredictionRequired);
    s["PredictionList"] =
        object({{"symbol", type("string")}, {"predictions", array_of(ref("Prediction"))}}, {"symbol", "predictions"});
    s["Bar"] = object(bar_properties(), kBarRequired);
    s["BarList"] = object({{"symbol", type("string")}, {"bars", array_of(ref("Bar"))}}, {"symbol", "bars"});
    s["FeatureVector"] = object({{"symbol", type("string")},
                                 {"close_time", time_string()},
                                 {"close", type("number")},
                                 {"schema_hash", type("string")},
                                 {"complete", type("boolean")},
                                 {"values",
                                  {{"description",
                                    "keyed by column name when the server knows the schema, else an array; "
                                    "null while an indicator warms up"}}}},
                                {"symbol", "close_time", "close", "schema_hash", "complete", "values"});
    s["RegisteredModel"] = object({{"name", type("string")},
                                   {"created", time_string()},
                                   {"latest_version", type("integer")},
                                   {"versions", type("integer")},
                                   {"aliases", {{"type", "object"}, {"additionalProperties", type("integer")}}}},
                                  {"name", "created", "latest_version", "versions", "aliases"});
    s["ModelVersion"] = object(
        {{"model", type("string")},
         {"version", type("integer")},
         {"kind", type("string")},
         {"stage", one_of_strings({"None", "Staging", "Production", "Archived"})},
         {"aliases", array_of(type("string"))},
         {"feature_schema_hash", type("string")},
         {"params", type("object")},
         {"metrics", type("object")},
         {"eval_window", type("string")},
         {"data_from", time_string()},
         {"data_to", time_string()},
         {"data_hash", type("string")},
         {"code_version", type("string")},
         {"created", time_string()},
         {"description", type("string")},
         {"tags", type("object")},
         {"files", array_of(object({{"path", type("string")}, {"size", type("integer")}, {"sha256", type("string")}},
                                   {"path", "size", "sha256"}))}},
        {"model", "version", "kind", "stage", "aliases", "feature_schema_hash", "metrics", "created", "files"});
    s["HistoryEntry"] = object({{"id", type("integer")},
                                {"model", type("string")},
                                {"alias", type("string")},
                                {"action", one_of_strings({"register", "set", "rollback", "remove", "delete"})},
                                {"old_version", nullable_integer()},
                                {"new_version", nullable_integer()},
                                {"who", type("string")},
                                {"at", time_string()},
                                {"reason", type("string")}},
                               {"id", "model", "alias", "action", "old_version", "new_version", "who", "at"});
    s["ModelList"] = object({{"models", array_of(ref("RegisteredModel"))}}, {"models"});
    s["ModelDetail"] = object({{"model", ref("RegisteredModel")},
                               {"versions", array_of(ref("ModelVersion"))},
                               {"history", array_of(ref("HistoryEntry"))}},
                              {"model", "versions", "history"});
    s["PromoteRequest"] = object({{"version", type("integer")},
                                  {"alias", type("string")},
                                  {"force", type("boolean")},
                                  {"reason", type("string")},
                                  {"metric", type("string")},
                                  {"margin", type("number")}},
                                 {"version"});
    s["PromoteResult"] = object({{"model", type("string")},
                                 {"version", type("integer")},
                                 {"alias", type("string")},
                                 {"changed", type("boolean")},
                                 {"serving",
                                  {{"type", "boolean"},
                                   {"description", "champion of the model this server serves: whether it now serves "
                                                   "this version (the registry took the promotion either way)"}}},
                                 {"load_error",
                                  {{"type", "string"},
                                   {"description", "when serving is false: why the model manager did not load it"}}}},
                                {"model", "version", "alias", "changed"});
    s["RollbackRequest"] = object({{"reason", type("string")}}, {});
    s["RollbackResult"] = object({{"model", type("string")}, {"from", type("integer")}, {"to", type("integer")}},
                                 {"model", "from", "to"});
    const json by_position = {{"type", "array"},
                              {"items", type("number")},
                              {"description", "in the feature schema's column order (pricecast features schema)"}};
    const json by_name = {{"type", "object"},
                          {"additionalProperties", type("number")},
                          {"description", "column name -> value, every column of the served model's schema: the "
                                          "values of GET /v1/features/latest as they are"}};
    s["PredictRequest"] = object(
        {{"features",
          {{"type", "array"}, {"items", {{"oneOf", {by_position, by_name}}}}, {"description", "steps, oldest first"}}},
         {"model", type("string")}},
        {"features"});
    s["PredictResult"] = object({{"model", type("string")},
                                 {"version", type("integer")},
                                 {"class", one_of_strings({"DOWN", "STABLE", "UP"})},
                                 {"probabilities", probabilities()},
                                 {"confidence", type("number")}},
                                {"model", "version", "class", "probabilities", "confidence"});
    s["NewsRequest"] = object(
        {{"id", type("string")},
         {"event_time",
          {{"description",
            "ISO-8601 string, or epoch time as a number (ns past 1e17, else s or ms), in the years 1678-2261"}}},
         {"source", type("string")},
         {"symbols", array_of(type("string"))},
         {"headline", {{"type", "string"}, {"description", "the headline, the body or both must not be blank"}}},
         {"body", type("string")},
         {"sentiment", type("number")}},
        {"id", "event_time"});
    s["NewsAccepted"] =
        object({{"status", one_of_strings({"accepted"})}, {"id", type("string")}, {"key", type("string")}},
               {"status", "id", "key"});
    s["WsRequest"] =
        object({{"op", one_of_strings({"subscribe", "unsubscribe"})}, {"symbols", array_of(type("string"))}},
               {"op", "symbols"});
    s["WsPrediction"] = pushed(prediction_properties(), kPredictionRequired, "prediction");
    s["WsBar"] = pushed(bar_properties(), kBarRequired, "bar");
    s["WsSubscribed"] =
        object({{"type", one_of_strings({"subscribed"})}, {"symbols", array_of(type("string"))}}, {"type", "symbols"});
    s["WsError"] = object({{"type", one_of_strings({"error"})}, {"message", type("string")}}, {"type", "message"});
    monitor_schemas(s);
    return s;
}

const json kOpen = json::array();

json paths() {
    // Dashboards send seconds or milliseconds by habit; read as nanoseconds they would match everything.
    const char* const kTimeParam =
        "ISO-8601 time or epoch nanoseconds (a positive number below 1e15 is refused), in the years 1678-2261";
    const json kNotJson = error("a body sent with another Content-Type than application/json");
    json p;
    p["/health"]["get"] = {{"summary", "liveness"},
                           {"security", kOpen},
                           {"responses", {{"200", response("the process is up", ref("Health"))}}}};
    p["/ready"]["get"] = {
        {"summary", "readiness: the served model's champion is loaded and the bus is connected"},
        {"security", kOpen},
        {"responses",
         {{"200", response("ready", ref("Ready"))}, {"503", response("not ready, with the reasons", ref("Ready"))}}}};
    p["/v1/predictions/latest"]["get"] = {{"summary", "the newest champion prediction of a symbol"},
                                          {"parameters", {query("symbol", true, "instrument symbol")}},
                                          {"responses",
                                           {{"200", response("the prediction", ref("Prediction"))},
                                            {"400", error("missing symbol")},
                                            {"404", error("no predictions for the symbol")}}}};
    p["/v1/predictions"]["get"] = {
        {"summary", "champion predictions of a symbol with from <= bar_time <= to, oldest first"},
        {"parameters",
         {query("symbol", true, "instrument symbol"), query("from", false, kTimeParam),
          query("to", false, kTimeParam)}},
        {"responses",
         {{"200", response("the predictions", ref("PredictionList"))},
          {"400", error("a missing or malformed parameter, named in the message")},
          {"404", error("no predictions for the symbol")}}}};
    p["/v1/bars"]["get"] = {
        {"summary", "recent price bars (OHLCV) of a symbol with from <= close_time <= to, oldest first"},
        {"parameters",
         {query("symbol", true, "instrument symbol"), query("from", false, kTimeParam),
          query("to", false, kTimeParam)}},
        {"responses",
         {{"200", response("the bars", ref("BarList"))},
          {"400", error("a missing or malformed parameter, named in the message")},
          {"404", error("no bars for the symbol")}}}};
    p["/v1/features/latest"]["get"] = {{"summary", "the newest feature vector of a symbol"},
                                       {"parameters", {query("symbol", true, "instrument symbol")}},
                                       {"responses",
                                        {{"200", response("the vector", ref("FeatureVector"))},
                                         {"400", error("missing symbol")},
                                         {"404", error("no vector for the symbol")}}}};
    p["/v1/models"]["get"] = {{"summary", "registered models"},
                              {"responses", {{"200", response("the models", ref("ModelList"))}}}};
    p["/v1/models/{name}"]["get"] = {
        {"summary", "a registered model: versions, aliases, stages, metrics, history"},
        {"parameters", {path_name()}},
        {"responses", {{"200", response("the model", ref("ModelDetail"))}, {"404", error("unknown model")}}}};
    p["/v1/models/{name}/promote"]["post"] = {
        {"summary", "point an alias at a version (admin); champion promotion passes the registry's gate"},
        {"parameters", {path_name()}},
        {"requestBody", body(ref("PromoteRequest"))},
        {"responses",
         {{"200", response("done (changed: false when the alias already pointed there)", ref("PromoteResult"))},
          {"400", error("a bad body field, named in the message (also a forced promotion without a reason)")},
          {"403", error("needs an admin key")},
          {"404", error("unknown model or version")},
          {"409", error("the promotion gate refused")},
          {"415", kNotJson}}}};
    p["/v1/models/{name}/rollback"]["post"] = {
        {"summary", "restore the previous champion (admin)"},
        {"parameters", {path_name()}},
        {"requestBody", {{"required", false}, {"content", content(ref("RollbackRequest"))}}},
        {"responses",
         {{"200", response("rolled back", ref("RollbackResult"))},
          {"400", error("a bad body field")},
          {"403", error("needs an admin key")},
          {"404", error("unknown model")},
          {"409", error("no earlier champion")},
          {"415", kNotJson}}}};
    p["/v1/predict"]["post"] = {{"summary", "predict from an ad-hoc feature sequence (steps x width)"},
                                {"requestBody", body(ref("PredictRequest"))},
                                {"responses",
                                 {{"200", response("the prediction", ref("PredictResult"))},
                                  {"400", error("malformed body")},
                                  {"404", error("no registered model of that name")},
                                  {"415", kNotJson},
                                  {"422", error("wrong width or number of steps, a missing or unknown column, or a "
                                                "null (warming-up) value")},
                                  {"503", error("the model is registered but no champion of it is loaded")}}}};
    p["/v1/news"]["post"] = {{"summary", "publish a news item to news-raw"},
                             {"requestBody", body(ref("NewsRequest"))},
                             {"responses",
                              {{"202", response("published to news-raw. The features role may still drop it as late "
                                                "(event time behind its watermark) or a duplicate; "
                                                "pricecast_messages_rejected_total counts those",
                                                ref("NewsAccepted"))},
                               {"400", error("a bad field, named in the message; blank text; or only symbols this "
                                             "server does not serve")},
                               {"415", kNotJson},
                               {"503", error("no bus")}}}};
    p["/v1/monitor/metrics"]["get"] = {
        {"summary",
         "rolling metrics of the prediction log per model version and slot, for all symbols and each one, over "
         "windows ending at the newest logged bar (as `pricecast monitor report`)"},
        {"parameters",
         {query("model", false, "only this registered model (default: every model)"),
          query("symbol", false, "only this symbol (default: all symbols together and each one)"),
          query("window", false, "comma-separated durations, at most 10 (default 24h,168h)")}},
        {"responses",
         {{"200", response("one row per model version and slot, symbol and window", ref("MetricsList"))},
          {"400", error("a malformed window, named in the message")},
          {"404", error("a model not in the registry, or a symbol this server does not serve")},
          {"503", error("no prediction log in this process")}}}};
    p["/metrics"]["get"] = {
        {"summary", "Prometheus text exposition (0.0.4)"},
        {"responses", {{"200", {{"description", "metrics"}, {"content", content(type("string"), "text/plain")}}}}}};
    p["/openapi.json"]["get"] = {{"summary", "this document"},
                                 {"security", kOpen},
                                 {"responses", {{"200", response("the document", type("object"))}}}};
    p["/ws"]["get"] = {
        {"summary",
         "WebSocket prediction and bar stream. Send WsRequest frames; receive WsSubscribed, WsPrediction for "
         "every champion prediction and WsBar for every price bar of a subscribed symbol (\"*\" for all), and "
         "WsError for invalid frames. A client that falls behind gets the latest prediction and the latest bar "
         "per symbol and is closed past the server's queue limits (messages or bytes). A connection subscribes to at "
         "most 1000 symbols of at most 128 bytes each (\"*\" for all); past that the request gets a WsError and "
         "changes nothing. Frames over 64 KiB close the connection (1009). Browsers may pass the key as "
         "?api_key="},
        {"parameters", {query("api_key", false, "API key, for clients that cannot set headers")}},
        {"responses",
         {{"101", {{"description", "switching to WebSocket"}}},
          {"400", error("a Sec-WebSocket-Key that is not a base64 16-byte nonce")},
          {"426", error("not an Upgrade request, or a WebSocket version other than 13 (the answer says "
                        "Sec-WebSocket-Version: 13)")}}}};
    const json unauthorized = error("missing or unknown API key");
    for (auto& [path, ops] : p.items())
        for (auto& [method, op] : ops.items())
            if (!op.contains("security")) op["responses"]["401"] = unauthorized;
    return p;
}

}  // namespace

json openapi_document() {
    return {{"openapi", "3.0.3"},
            {"info",
             {{"title", "pricecast API"},
              {"version", PRICECAST_VERSION},
              {"description",
               "Price trend predictions (DOWN/STABLE/UP), features, the model registry and news "
               "intake. Errors are {\"error\": {\"code\", \"message\"}}. Every GET route also answers HEAD "
               "(the same status and headers, no body). On every route: another method is a 405 with Allow, a "
               "body past the server's limit (1 MiB by default) a 413, headers past theirs (16 KiB) a 431, a "
               "request that is not HTTP/1.x a 400; the last three close the connection."}}},
            {"paths", paths()},
            {"components",
             {{"schemas", schemas()},
              {"securitySchemes",
               {{"ApiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
                {"Bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
            {"security", {{{"ApiKey", json::array()}}, {{"Bearer", json::array()}}}}};
}

}  // namespace pricecast::api
