// The JSON messages on the topics. Every message carries "v" (the wire schema
// version); times are int64 ns UTC so a round trip is exact, and NaN feature
// values travel as null.
//
//   price-data      Bar                      key: symbol
//   news-raw        NewsItem (unscored)      key: first symbol ("" for market-wide)
//   sentiment-data  NewsItem with sentiment  key: first symbol
//   ml-features     FeatureVector            key: symbol
//   predictions     Prediction               key: symbol
//
// Decoders throw MessageError naming the field that is missing or wrong, so a
// consumer can count and skip a bad message and keep running.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

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

// The message key of a news item.
std::string news_key(const NewsItem& news);

}  // namespace pricecast::bus
