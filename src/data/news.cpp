#include "data/news.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/csv.hpp"
#include "data/ohlcv.hpp"

namespace pricecast::data {
namespace {

std::optional<Timestamp> parse_news_time(const std::string& s) {
    if (auto t = parse_iso8601(s)) return t;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !(v > 0)) return std::nullopt;
    return epoch_time(v);
}


std::vector<std::string> split_symbols(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s + ";") {
        if (c == ';' || c == '|' || c == ',') {
            while (!cur.empty() && cur.back() == ' ') cur.pop_back();
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else if (c != ' ' || !cur.empty()) {
            cur += c;
        }
    }
    return out;
}

// Checks the fields every consumer relies on; empty string when valid.
std::string problem_of(const NewsItem& n) {
    if (n.event_time == 0) return "missing or invalid event time";
    if (n.headline.empty() && n.body.empty()) return "empty text";
    // NaN means "not scored yet", so a NaN given in the file is refused where it is parsed.
    if (!std::isnan(n.sentiment) && (n.sentiment < -1 || n.sentiment > 1)) return "sentiment outside [-1, 1]";
    return {};
}

void accept(NewsFile& f, NewsItem n, std::size_t line) {
    if (auto p = problem_of(n); !p.empty()) {
        f.rejected.push_back({line, std::move(p)});
        return;
    }
    if (n.id.empty()) n.id = fmt::format("line-{}", line);
    f.items.push_back(std::move(n));
}

}  // namespace

std::optional<Timestamp> news_time(const nlohmann::json& v) {
    // Integers past 1e17 are epoch ns (the bus's exact form); other numbers are epoch s or ms.
    if (v.is_number_integer() && v.get<double>() > 1e17) {
        // An integer past int64 (a JSON unsigned) is no time; as a Timestamp it would wrap around.
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
            return std::nullopt;
        return v.get<Timestamp>();
    }
    if (v.is_string()) return parse_news_time(v.get<std::string>());
    if (v.is_number()) return parse_news_time(fmt::format("{}", v.get<double>()));
    return std::nullopt;
}

NewsItem news_from_json(const nlohmann::json& j, std::string& problem) {
    NewsItem item;
    problem.clear();
    auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
    item.id = str("id");
    for (const char* k : {"event_time", "time", "timestamp", "date"}) {
        if (!j.contains(k)) continue;
        if (auto t = news_time(j[k])) item.event_time = *t;
        break;
    }
    item.source = str("source");
    if (j.contains("symbols") && j["symbols"].is_array()) {
        for (const auto& s : j["symbols"])
            if (s.is_string()) item.symbols.push_back(s.get<std::string>());
    } else {
        item.symbols = split_symbols(str("symbols").empty() ? str("symbol") : str("symbols"));
    }
    item.headline = str("headline");
    item.body = str("body");
    std::string sentiment_problem;
    if (j.contains("sentiment") && !j["sentiment"].is_null()) {
        if (j["sentiment"].is_number()) item.sentiment = j["sentiment"].get<double>();
        else sentiment_problem = "sentiment must be a number, not " + j["sentiment"].dump();
    }
    problem = sentiment_problem.empty() ? problem_of(item) : sentiment_problem;
    return item;
}

namespace {

void read_jsonl(std::istream& in, NewsFile& f) {
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const std::exception&) {
            f.rejected.push_back({n, "not a JSON object"});
            continue;
        }
        if (!j.is_object()) {
            f.rejected.push_back({n, "not a JSON object"});
            continue;
        }
        std::string problem;
        NewsItem item = news_from_json(j, problem);
        if (!problem.empty()) {
            f.rejected.push_back({n, std::move(problem)});
            continue;
        }
        accept(f, std::move(item), n);
    }
}

// A sentiment cell: empty (not scored), or a number; NaN would read as "not scored".
std::string parse_sentiment(const std::string& s, double& out) {
    if (s.empty()) return {};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size() || std::isnan(out))
        return fmt::format("sentiment must be a number, not '{}'", s);
    return {};
}

NewsItem item_of(const std::vector<std::string>& fields, const std::vector<int>& col) {
    auto get = [&](int i) { return i < 0 ? std::string() : fields[static_cast<std::size_t>(i)]; };
    NewsItem n;
    n.id = get(col[0]);
    n.event_time = parse_news_time(get(col[1])).value_or(0);
    n.source = get(col[2]);
    n.symbols = split_symbols(get(col[3]));
    n.headline = get(col[4]);
    n.body = get(col[5]);
    return n;
}

// A record whose quote runs past its line and that does not fit the header is
// most likely an unclosed quote that swallowed the lines after it: its first
// line is rejected and the others are read again, so no valid line is lost.
bool swallowed_lines(CsvReader& csv, std::size_t fields, std::size_t columns, NewsFile& f) {
    if (!csv.unclosed() && (fields == columns || !csv.spans_lines())) return false;
    f.rejected.push_back({csv.first_line(), csv.unclosed() ? "quoted field never closed"
                                                           : fmt::format("{} fields, header has {}; a quoted field "
                                                                         "runs past the end of the line",
                                                                         fields, columns)});
    csv.reread_after_first_line();
    return true;
}

void read_csv(std::istream& in, NewsFile& f, const std::filesystem::path& path) {
    std::vector<std::string> header, fields;
    CsvReader csv(in);
    if (!csv.next(header)) throw DataError(path.string() + ": empty file");
    auto col = [&](std::initializer_list<const char*> names) {
        for (std::size_t i = 0; i < header.size(); ++i)
            for (const char* n : names)
                if (header[i] == n) return static_cast<int>(i);
        return -1;
    };
    const std::vector<int> cols = {col({"id"}), col({"event_time", "time", "timestamp", "date", "datetime"}),
                                   col({"source"}), col({"symbols", "symbol", "tickers"}),
                                   col({"headline", "title", "text"}), col({"body", "summary"})};
    const int sentiment = col({"sentiment"});
    if (cols[1] < 0 || (cols[4] < 0 && cols[5] < 0))
        throw DataError(path.string() + ":1: header needs a time column and a headline or body column");
    while (csv.next(fields)) {
        const std::size_t start = csv.first_line();
        if (fields.size() == 1 && fields[0].empty()) continue;
        if (swallowed_lines(csv, fields.size(), header.size(), f)) continue;
        if (fields.size() != header.size()) {
            f.rejected.push_back({start, fmt::format("{} fields, header has {}", fields.size(), header.size())});
            continue;
        }
        NewsItem n = item_of(fields, cols);
        if (auto p = parse_sentiment(sentiment < 0 ? "" : fields[static_cast<std::size_t>(sentiment)], n.sentiment);
            !p.empty()) {
            f.rejected.push_back({start, std::move(p)});
            continue;
        }
        accept(f, std::move(n), start);
    }
}

}  // namespace

NewsFile read_news_file(const std::filesystem::path& path) {
    std::ifstream in = open_data_file(path);
    NewsFile f;
    in >> std::ws;
    if (in.peek() == '{') read_jsonl(in, f);
    else read_csv(in, f, path);
    return f;
}

std::vector<NewsItem> read_news(const std::filesystem::path& path) { return read_news_file(path).items; }

void write_news_jsonl(std::ostream& out, std::span<const NewsItem> items) {
    for (const auto& n : items) {
        nlohmann::json j{{"id", n.id},         {"event_time", format_iso8601(n.event_time)},
                         {"source", n.source}, {"symbols", n.symbols},
                         {"headline", n.headline}, {"body", n.body}};
        if (!std::isnan(n.sentiment)) j["sentiment"] = n.sentiment;
        out << j.dump() << "\n";
    }
}

}  // namespace pricecast::data
