// The JSON messages on the topics. Every message carries "v" (the wire schema
// version); times are int64 ns UTC so a round trip is exact, and NaN feature
// values travel as null.
//
//   price-data      Bar                      key: symbol
//   news-raw        NewsItem (unscored), or a news clock   key: "" (one ordered stream)
//   sentiment-data  NewsItem with sentiment, or a clock    key: ""
//   ml-features     FeatureVector            key: symbol
//   predictions     Prediction               key: symbol
//
// A news clock {"type":"clock","time":t,"symbols":[...]} says that no news
// with event time <= t follows it, and which symbols have a bar closing at t.
// Price sources publish one after each bar close; the
// sentiment service forwards it behind the news it scored, so the feature
// service knows when a bar has all its news. News therefore share one key:
// clocks and news keep one order on any number of partitions.
//
// Decoders throw MessageError naming the field that is missing or wrong, so a
// consumer can count and skip a bad message and keep running.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "features/features.hpp"

namespace pricecast::bus {

inline constexpr int kWireVersion = 1;

class MessageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::string encode(const Bar& bar);
std::string encode(const NewsItem& news);
// `input_at`: wall time (ns) the input that released the vector was published,
// carried so the inference service can report end-to-end latency.
std::string encode(const features::FeatureVector& vector, Timestamp input_at = 0);
std::string encode(const Prediction& prediction);

Bar decode_bar(std::string_view json);
// Accepts the news file layout too (ISO-8601 times), as POST /v1/news does.
NewsItem decode_news(std::string_view json);
features::FeatureVector decode_features(std::string_view json, Timestamp* input_at = nullptr);
Prediction decode_prediction(std::string_view json);

// The message key of news and clocks.
inline constexpr const char* kNewsKey = "";
inline std::string news_key(const NewsItem&) { return kNewsKey; }

struct NewsClock {
    Timestamp time = 0;
    std::vector<std::string> symbols;  // the symbols whose bars closed at `time`
};
std::string encode(const NewsClock& clock);
// The clock when `json` is a news clock, else nullopt (a news item).
std::optional<NewsClock> decode_clock(std::string_view json);

}  // namespace pricecast::bus
