#include "data/ohlcv.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <deque>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace pricecast::data {

std::string_view to_string(Reason r) {
    switch (r) {
        case Reason::unparsable: return "unparsable record";
        case Reason::non_finite: return "non-finite value";
        case Reason::non_positive_price: return "price <= 0";
        case Reason::high_below_open_close: return "high < max(open, close)";
        case Reason::low_above_open_close: return "low > min(open, close)";
        case Reason::negative_volume: return "volume < 0";
        case Reason::duplicate_timestamp: return "duplicate timestamp";
        case Reason::out_of_order: return "out-of-order timestamp";
    }
    return "unknown";
}

void ValidationReport::reject(Reason r, std::size_t line, std::string detail) {
    ++counts[r];
    auto& lines = first_lines[r];
    if (lines.empty() && !detail.empty()) first_detail[r] = std::move(detail);
    if (lines.size() < 5) lines.push_back(line);
}

std::vector<std::string> describe_problems(const ValidationReport& r) {
    std::vector<std::string> out;
    const char* unit = r.record_numbers ? "record" : "line";
    for (const auto& [reason, n] : r.counts) {
        const auto detail = r.first_detail.find(reason);
        out.push_back(fmt::format("{:<26} {:>8}   first at {} {}{}", to_string(reason), n, unit,
                                  fmt::join(r.first_lines.at(reason), ", "),
                                  detail == r.first_detail.end() ? "" : " (" + detail->second + ")"));
    }
    for (const auto& b : r.broken) out.push_back("broken file: " + b);
    return out;
}

std::ifstream open_data_file(const std::filesystem::path& path) {
    try {
        return open_input(path);
    } catch (const InputError& e) {
        throw DataError(e.what());
    }
}

namespace {

// One record as read from the file, before validation.
struct RawRecord {
    std::size_t line = 0;
    bool parsed = false;
    Timestamp time = 0;
    double open = 0, high = 0, low = 0, close = 0, volume = 0;
    std::string problem;  // why it is not parsed
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.front())) || s.front() == '"')) s.remove_prefix(1);
    while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == '"')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        auto p = s.find(sep);
        out.push_back(trim(s.substr(0, p)));
        if (p == std::string_view::npos) break;
        s.remove_prefix(p + 1);
    }
    return out;
}

std::optional<double> number(std::string_view s) {
    double v = 0;
    if (s.empty()) return std::nullopt;
    if (s.front() == '+') s.remove_prefix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        // from_chars rejects "nan"/"inf" spellings some exporters write; accept them so validation can say why.
        std::string lower(s);
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "nan") return std::nan("");
        if (lower == "inf" || lower == "infinity") return HUGE_VAL;
        if (lower == "-inf" || lower == "-infinity") return -HUGE_VAL;
        return std::nullopt;
    }
    return v;
}

// Epoch seconds, milliseconds, microseconds or nanoseconds (by magnitude), or ISO-8601.
std::optional<Timestamp> parse_time(std::string_view s) {
    bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
    if (digits) {
        // Integer nanoseconds exactly; a double would round them to 256 ns.
        Timestamp ns = 0;
        if (auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ns);
            ec == std::errc() && end == s.data() + s.size() && ns >= 100'000'000'000'000'000)
            return ns;
        auto v = number(s);
        return v ? epoch_time(*v) : std::nullopt;
    }
    return parse_iso8601(s);
}

// The record from its time and its open, high, low, close, volume fields (an
// absent field is 0); else r.problem names the first field that fails.
void parse_record(RawRecord& r, std::string_view time, const std::array<std::optional<std::string_view>, 5>& fields) {
    static constexpr std::array<const char*, 5> kNames = {"open", "high", "low", "close", "volume"};
    const auto t = parse_time(time);
    if (!t) {
        r.problem = fmt::format("time '{}' is not a date/time or epoch number", time);
        return;
    }
    std::array<double, 5> v{};
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto x = fields[i] ? number(*fields[i]) : std::optional(0.0);
        if (!x) {
            r.problem = fmt::format("{} '{}' is not a number", kNames[i], *fields[i]);
            return;
        }
        v[i] = *x;
    }
    r.parsed = true;
    r.time = *t;
    std::tie(r.open, r.high, r.low, r.close, r.volume) = std::tie(v[0], v[1], v[2], v[3], v[4]);
}

bool looks_like_clock(std::string_view s) {
    return s.size() >= 5 && std::isdigit(static_cast<unsigned char>(s[0])) && s[2] == ':';
}

// A source of raw records.
class RecordSource {
public:
    virtual ~RecordSource() = default;
    virtual bool next(RawRecord& r) = 0;
};

class CsvSource : public RecordSource {
public:
    CsvSource(std::ifstream& in, const std::string& name) : in_(in) {
        std::string header;
        if (!std::getline(in_, header)) throw DataError(name + ": empty file");
        line_ = 1;
        auto cols = split(strip_cr(header), ',');
        // A first line whose price fields are numbers is data, not a header.
        if (cols.size() >= 5 && number(cols[1]) && number(cols[4])) {
            pending_ = header;
            line_ = 0;
            map_ = {0, 1, 2, 3, 4, cols.size() > 5 ? 5 : -1};
            ncols_ = cols.size();
            return;
        }
        ncols_ = cols.size();
        for (std::size_t i = 0; i < cols.size(); ++i) {
            std::string c(cols[i]);
            for (auto& ch : c) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            const int idx = static_cast<int>(i);
            if (c == "time" && map_.time >= 0) {
                map_.clock = idx;  // separate Date and Time columns
            } else if (c == "date" || c == "datetime" || c == "timestamp" || c == "time" || c == "date(ms)" ||
                       (c.empty() && i == 0)) {
                if (map_.time < 0) map_.time = idx;
            } else if (c == "open") map_.open = idx;
            else if (c == "high") map_.high = idx;
            else if (c == "low") map_.low = idx;
            else if (c == "close") map_.close = idx;
            else if (c == "volume" || c == "vol") map_.volume = idx;
        }
        if (map_.time < 0 || map_.open < 0 || map_.high < 0 || map_.low < 0 || map_.close < 0)
            throw DataError(fmt::format("{}:1: header needs a time column (Date/Datetime/Timestamp/Time) and "
                                        "Open, High, Low, Close; got '{}'", name, strip_cr(header)));
    }

    bool next(RawRecord& r) override {
        std::string text;
        if (!pending_.empty()) {
            text = std::move(pending_);
            pending_.clear();
        } else if (!std::getline(in_, text)) {
            return false;
        }
        ++line_;
        std::string_view s = strip_cr(text);
        if (trim(s).empty()) return next(r);
        r = RawRecord{};
        r.line = line_;
        auto f = split(s, ',');
        // backtrader's minute files name only "Date" but carry date and time fields.
        if (f.size() == ncols_ + 1 && map_.time + 1 < static_cast<int>(f.size()) &&
            looks_like_clock(f[static_cast<std::size_t>(map_.time) + 1])) {
            joined_ = std::string(f[static_cast<std::size_t>(map_.time)]) + "T" +
                      std::string(f[static_cast<std::size_t>(map_.time) + 1]);
            f.erase(f.begin() + map_.time + 1);
            f[static_cast<std::size_t>(map_.time)] = joined_;
        }
        if (f.size() != ncols_) {
            r.problem = fmt::format("{} fields, header has {}", f.size(), ncols_);
            return true;
        }
        if (map_.clock >= 0) {
            joined_ = std::string(f[static_cast<std::size_t>(map_.time)]) + "T" +
                      std::string(f[static_cast<std::size_t>(map_.clock)]);
            f[static_cast<std::size_t>(map_.time)] = joined_;
        }
        auto get = [&](int i) {
            return i < 0 ? std::optional<std::string_view>() : std::optional(f[static_cast<std::size_t>(i)]);
        };
        parse_record(r, f[static_cast<std::size_t>(map_.time)],
                     {get(map_.open), get(map_.high), get(map_.low), get(map_.close), get(map_.volume)});
        return true;
    }

private:
    static std::string_view strip_cr(std::string_view s) {
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);  // UTF-8 byte-order mark
        return s;
    }
    struct Columns {
        int time = -1, clock = -1, open = -1, high = -1, low = -1, close = -1, volume = -1;
    };
    std::ifstream& in_;
    Columns map_;
    std::size_t ncols_ = 0;
    std::size_t line_ = 0;
    std::string pending_;
    std::string joined_;
};

// Exchange / freqtrade candles: [[time, open, high, low, close, volume], ...].
// Each inner array is found by bracket scanning and is a flat list of numbers,
// so reading never needs more than one candle in memory. "line" is the record
// number (1-based), since such files are usually one line. A file cut short
// (an interrupted download) or followed by other text is reported as broken at
// its byte offset, so it is never taken for a complete file.
class JsonArraySource : public RecordSource {
public:
    JsonArraySource(std::ifstream& in, std::vector<std::string>& broken)
        : in_(*in.rdbuf()), broken_(broken), offset_(static_cast<std::size_t>(in.tellg())) {}
    bool next(RawRecord& r) override {
        std::string item;
        // From the stream's buffer: istream::get() builds a sentry per byte, which was
        // most of the time of reading a large file.
        for (int c; !done_ && (c = in_.sbumpc()) != EOF; ++offset_) {
            if (closed_) {
                done_ = after_end(c);
            } else if (c == '[') {
                if (++depth_ == 2) item.clear();
            } else if (c == ']') {
                if (depth_-- == 2) {
                    ++offset_;
                    return parse(item, r);
                }
                closed_ = depth_ == 0;
            } else if (depth_ >= 2) {
                item.push_back(static_cast<char>(c));
            }
        }
        return !std::exchange(done_, true) && ended_early(r);
    }

private:
    // Whitespace may follow the closing ']'; anything else means the file is not one array.
    bool after_end(int c) {
        if (std::isspace(c)) return false;
        broken_.push_back(fmt::format("byte {}: text after the closing ']' of the array", offset_));
        return true;
    }
    // At the end of input: inside a candle, that candle is cut short and rejected.
    bool ended_early(RawRecord& r) {
        if (closed_) return false;
        if (depth_ == 1) {
            broken_.push_back(fmt::format("byte {}: the file ends before the closing ']' (truncated)", offset_));
            return false;
        }
        r = RawRecord{};
        r.line = ++record_;
        r.problem = fmt::format("the file ends inside this record at byte {}", offset_);
        broken_.push_back(fmt::format("byte {}: the file ends inside record {} (truncated)", offset_, record_));
        return true;
    }
    bool parse(std::string_view item, RawRecord& r) {
        r = RawRecord{};
        r.line = ++record_;
        auto f = split(item, ',');
        if (f.size() < 6) {
            r.problem = fmt::format("{} fields, a candle has 6", f.size());
            return true;
        }
        parse_record(r, f[0], {f[1], f[2], f[3], f[4], f[5]});
        return true;
    }
    std::streambuf& in_;
    std::vector<std::string>& broken_;
    std::size_t offset_;
    int depth_ = 0;
    bool closed_ = false;  // the outer array has ended
    bool done_ = false;
    std::size_t record_ = 0;
};

Reason reason_of(BarProblem p) {
    switch (p) {
        case BarProblem::non_finite: return Reason::non_finite;
        case BarProblem::non_positive_price: return Reason::non_positive_price;
        case BarProblem::high_below_open_close: return Reason::high_below_open_close;
        case BarProblem::low_above_open_close: return Reason::low_above_open_close;
        case BarProblem::negative_volume: return Reason::negative_volume;
        case BarProblem::none: break;
    }
    return Reason::unparsable;
}

constexpr std::size_t kLookahead = 64;

}  // namespace

struct BarReader::Impl {
    std::ifstream in;
    std::unique_ptr<RecordSource> source;
    std::deque<RawRecord> buffered;  // lookahead used to detect order and interval
    ValidationReport report;
    std::string symbol;
    Duration interval = 0;
    std::optional<Timestamp> last_time;

    bool next_raw(RawRecord& r) {
        if (!buffered.empty()) {
            r = buffered.front();
            buffered.pop_front();
            return true;
        }
        return source->next(r);
    }
};

BarReader::BarReader(const std::filesystem::path& path, const ReadOptions& opts) : impl_(std::make_unique<Impl>()) {
    auto& m = *impl_;
    m.in = open_data_file(path);
    int first = m.in.peek();
    while (first != EOF && std::isspace(first)) {
        m.in.get();
        first = m.in.peek();
    }
    m.report.record_numbers = first == '[';
    if (first == '[') m.source = std::make_unique<JsonArraySource>(m.in, m.report.broken);
    else m.source = std::make_unique<CsvSource>(m.in, path.string());
    m.symbol = opts.symbol.empty() ? path.stem().string() : opts.symbol;

    for (RawRecord r; m.buffered.size() < kLookahead && m.source->next(r);) m.buffered.push_back(r);
    std::vector<Timestamp> times;
    for (const auto& r : m.buffered)
        if (r.parsed) times.push_back(r.time);
    std::size_t down = 0, up = 0;
    for (std::size_t i = 1; i < times.size(); ++i) (times[i] < times[i - 1] ? down : up) += times[i] != times[i - 1];
    // Newest-first: every step of the lookahead goes back in time. Read the whole file and reverse it.
    if (times.size() >= 2 && up == 0 && down > 0) {
        for (RawRecord r; m.source->next(r);) m.buffered.push_back(r);
        std::reverse(m.buffered.begin(), m.buffered.end());
        m.report.reversed = true;
        spdlog::info("{}: newest-first file, reading it in reverse", path.string());
    }
    m.interval = opts.interval;
    if (m.interval == 0) {
        std::map<Duration, int> steps;
        for (std::size_t i = 1; i < times.size(); ++i)
            if (auto d = std::abs(times[i] - times[i - 1]); d > 0) ++steps[d];
        int best = 0;
        for (auto [d, n] : steps)
            if (n > best) best = n, m.interval = d;
    }
}

BarReader::~BarReader() = default;
BarReader::BarReader(BarReader&&) noexcept = default;

const ValidationReport& BarReader::report() const { return impl_->report; }

bool BarReader::next(Bar& out) {
    auto& m = *impl_;
    for (RawRecord r; m.next_raw(r);) {
        ++m.report.records;
        if (!r.parsed) {
            m.report.reject(Reason::unparsable, r.line, std::move(r.problem));
            continue;
        }
        if (auto p = check_bar(r.open, r.high, r.low, r.close, r.volume); p != BarProblem::none) {
            m.report.reject(reason_of(p), r.line);
            continue;
        }
        if (m.last_time && r.time == *m.last_time) {
            m.report.reject(Reason::duplicate_timestamp, r.line);
            continue;
        }
        if (m.last_time && r.time < *m.last_time) {
            m.report.reject(Reason::out_of_order, r.line);
            continue;
        }
        m.last_time = r.time;
        ++m.report.accepted;
        out.symbol = m.symbol;
        out.interval = m.interval;
        out.open_time = r.time;
        out.close_time = r.time + m.interval;
        out.open = r.open;
        out.high = r.high;
        out.low = r.low;
        out.close = r.close;
        out.volume = r.volume;
        out.trade_count = 0;
        return true;
    }
    return false;
}

BarFile read_bar_file(const std::filesystem::path& path, const ReadOptions& opts) {
    BarReader reader(path, opts);
    BarFile f;
    for (Bar b; reader.next(b);) f.bars.push_back(b);
    f.report = reader.report();
    return f;
}

std::vector<Bar> read_bars(const std::filesystem::path& path, const ReadOptions& opts) {
    return read_bar_file(path, opts).bars;
}

void write_bars_csv(std::ostream& out, std::span<const Bar> bars) {
    out << "time,open,high,low,close,volume\n";
    for (const Bar& b : bars)
        out << fmt::format("{},{},{},{},{},{}\n", format_iso8601(b.open_time), b.open, b.high, b.low, b.close,
                           b.volume);
}

}  // namespace pricecast::data
