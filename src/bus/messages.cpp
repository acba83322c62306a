#include "bus/messages.hpp"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/news.hpp"

namespace pricecast::bus {
namespace {

using nlohmann::json;

json parse(std::string_view text, const char* what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw MessageError(fmt::format("{} message: not a JSON object", what));
    if (!j.contains("v") || !j["v"].is_number_integer() || j["v"].get<int>() != kWireVersion)
        throw MessageError(fmt::format("{} message: field \"v\" must be {}", what, kWireVersion));
    return j;
}

// Reads field `key` as T, naming it in the error when missing or of another type.
template <class T>
T field(const json& j, const char* key, const char* what) {
    auto it = j.find(key);
    if (it == j.end()) throw MessageError(fmt::format("{} message: missing field \"{}\"", what, key));
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        throw MessageError(fmt::format("{} message: field \"{}\" has the wrong type", what, key));
    }
}

}  // namespace

std::string encode(const Bar& b) {
    return json{{"v", kWireVersion}, {"symbol", b.symbol}, {"interval", b.interval}, {"open_time", b.open_time},
                {"close_time", b.close_time}, {"open", b.open}, {"high", b.high}, {"low", b.low},
                {"close", b.close}, {"volume", b.volume}, {"trades", b.trade_count}}
        .dump();
}

Bar decode_bar(std::string_view text) {
    const json j = parse(text, "bar");
    Bar b;
    b.symbol = field<std::string>(j, "symbol", "bar");
    b.interval = field<Duration>(j, "interval", "bar");
    b.open_time = field<Timestamp>(j, "open_time", "bar");
    b.close_time = field<Timestamp>(j, "close_time", "bar");
    b.open = field<double>(j, "open", "bar");
    b.high = field<double>(j, "high", "bar");
    b.low = field<double>(j, "low", "bar");
    b.close = field<double>(j, "close", "bar");
    b.volume = field<double>(j, "volume", "bar");
    b.trade_count = j.value("trades", std::int64_t{0});
    if (b.symbol.empty()) throw MessageError("bar message: field \"symbol\" is empty");
    return b;
}

std::string encode(const NewsItem& n) {
    json j{{"v", kWireVersion}, {"id", n.id},           {"event_time", n.event_time}, {"source", n.source},
           {"symbols", n.symbols},  {"headline", n.headline}, {"body", n.body}};
    if (!std::isnan(n.sentiment)) j["sentiment"] = n.sentiment;
    return j.dump();
}

NewsItem decode_news(std::string_view text) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw MessageError("news message: not a JSON object");
    std::string problem;
    NewsItem n = data::news_from_json(j, problem);
    if (!problem.empty()) throw MessageError("news message: " + problem);
    return n;
}

std::string encode(const NewsClock& c) {
    return json{{"v", kWireVersion}, {"type", "clock"}, {"time", c.time}, {"symbols", c.symbols}}.dump();
}

std::optional<NewsClock> decode_clock(std::string_view text) {
    if (text.find("\"clock\"") == std::string_view::npos) return std::nullopt;  // the common case: news
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("type", "") != "clock") return std::nullopt;
    return NewsClock{field<Timestamp>(j, "time", "news clock"), j.value("symbols", std::vector<std::string>{})};
}

std::string encode(const features::FeatureVector& f, Timestamp input_at) {
    json values = json::array();
    for (double v : f.values) values.push_back(std::isfinite(v) ? json(v) : json(nullptr));
    return json{{"v", kWireVersion},        {"schema", f.schema_hash}, {"symbol", f.symbol},
                {"close_time", f.close_time}, {"close", f.close},        {"complete", f.complete},
                {"input_at", input_at},       {"values", std::move(values)}}
        .dump();
}

features::FeatureVector decode_features(std::string_view text, Timestamp* input_at) {
    const json j = parse(text, "features");
    features::FeatureVector f;
    f.schema_hash = field<std::uint64_t>(j, "schema", "features");
    f.symbol = field<std::string>(j, "symbol", "features");
    f.close_time = field<Timestamp>(j, "close_time", "features");
    f.close = field<double>(j, "close", "features");
    f.complete = field<bool>(j, "complete", "features");
    if (input_at) *input_at = j.value("input_at", Timestamp{0});
    const auto& values = j.find("values");
    if (values == j.end() || !values->is_array()) throw MessageError("features message: field \"values\" must be an array");
    f.values.reserve(values->size());
    for (const auto& v : *values) {
        if (v.is_null()) f.values.push_back(std::nan(""));
        else if (v.is_number()) f.values.push_back(v.get<double>());
        else throw MessageError("features message: field \"values\" holds a non-number");
    }
    return f;
}

std::string encode(const Prediction& p) {
    return json{{"v", kWireVersion},
                {"symbol", p.symbol},
                {"bar_time", p.bar_time},
                {"feature_time", p.feature_time},
                {"model", p.model},
                {"version", p.version},
                {"slot", p.slot},
                {"ab_split", p.ab_split},
                {"class", p.cls},
                {"probs", p.probs},
                {"confidence", p.confidence},
                {"close", p.close},
                {"latency", p.latency},
                {"published_at", p.published_at}}
        .dump();
}

Prediction decode_prediction(std::string_view text) {
    const json j = parse(text, "prediction");
    Prediction p;
    p.symbol = field<std::string>(j, "symbol", "prediction");
    p.bar_time = field<Timestamp>(j, "bar_time", "prediction");
    p.feature_time = field<Timestamp>(j, "feature_time", "prediction");
    p.model = field<std::string>(j, "model", "prediction");
    p.version = field<int>(j, "version", "prediction");
    p.slot = field<std::string>(j, "slot", "prediction");
    // Absent in messages written before A/B splits existed.
    p.ab_split = j.contains("ab_split") && field<bool>(j, "ab_split", "prediction");
    p.cls = field<int>(j, "class", "prediction");
    p.probs = field<std::array<float, 3>>(j, "probs", "prediction");
    p.confidence = field<double>(j, "confidence", "prediction");
    p.close = field<double>(j, "close", "prediction");
    p.latency = field<Duration>(j, "latency", "prediction");
    p.published_at = field<Timestamp>(j, "published_at", "prediction");
    if (p.cls < 0 || p.cls > 2) throw MessageError("prediction message: field \"class\" must be 0, 1 or 2");
    return p;
}

}  // namespace pricecast::bus
