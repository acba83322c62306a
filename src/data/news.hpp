// News files: JSON lines (one object per line) and CSV with a header (RFC 4180
// quoting, so headlines may hold commas, quotes and newlines).
//
// Fields: id, event_time (or time / timestamp / date: ISO-8601 or epoch s/ms),
// source, symbols (JSON array, or a string separated by ';', '|' or ','),
// headline, body, optional sentiment in [-1, 1]. A record without a time or
// without text is rejected with its line number; valid ones are kept.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/types.hpp"

namespace pricecast::data {

struct NewsProblem {
    std::size_t line = 0;
    std::string reason;
};

struct NewsFile {
    std::vector<NewsItem> items;
    std::vector<NewsProblem> rejected;
};

// Throws DataError when the file cannot be opened or a CSV has no usable header.
NewsFile read_news_file(const std::filesystem::path& path);
std::vector<NewsItem> read_news(const std::filesystem::path& path);

// One news object in the JSONL layout above (also the body of POST /v1/news
// and the `news-raw` message). `problem` is empty when the item is usable,
// else names what is wrong.
NewsItem news_from_json(const nlohmann::json& j, std::string& problem);
// Its time field's value: ISO-8601, or an epoch number (an integer past 1e17
// is nanoseconds, else epoch_time's rule); nullopt when none, or past what
// int64 nanoseconds hold.
std::optional<Timestamp> news_time(const nlohmann::json& v);

// One JSON object per line; read_news reads it back.
void write_news_jsonl(std::ostream& out, std::span<const NewsItem> items);

}  // namespace pricecast::data
