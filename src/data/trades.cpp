#include "data/trades.hpp"

#include <zlib.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/ohlcv.hpp"

namespace pricecast::data {
namespace {

std::string read_all(const std::filesystem::path& path) {
    gzFile f = gzopen(path.c_str(), "rb");  // reads plain files as they are, too
    if (!f) throw DataError(path.string() + ": cannot open");
    std::string out;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    gzclose(f);
    if (n < 0) throw DataError(path.string() + ": cannot decompress");
    return out;
}

double num(std::string_view s, const std::filesystem::path& path, std::size_t line, const char* field) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '"')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '"' || s.back() == '\r')) s.remove_suffix(1);
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        throw DataError(fmt::format("{}:{}: {} is not a number: '{}'", path.string(), line, field, s));
    return v;
}


// `where` names the record for the error: "file:line" or "file: record n".
Timestamp trade_time(double v, const std::string& where) {
    if (auto t = epoch_time(v)) return *t;
    throw DataError(fmt::format("{}: timestamp {} is no time int64 nanoseconds hold (the years 1678-2261)", where, v));
}

Side side_of(std::string_view s) { return s == "buy" ? Side::buy : s == "sell" ? Side::sell : Side::unknown; }

std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> f;
    for (std::size_t p; (p = s.find(',')) != std::string_view::npos; s.remove_prefix(p + 1)) f.push_back(s.substr(0, p));
    f.push_back(s);
    return f;
}

}  // namespace

std::vector<Trade> read_trades(const std::filesystem::path& path, std::string symbol) {
    if (symbol.empty()) symbol = path.filename().string().substr(0, path.filename().string().find('.'));
    const std::string text = read_all(path);
    std::vector<Trade> out;
    const auto first = text.find_first_not_of(" \n\r\t");
    if (first != std::string::npos && text[first] == '[') {
        nlohmann::json rows;
        try {
            rows = nlohmann::json::parse(text);
        } catch (const std::exception& e) {
            throw DataError(path.string() + ": " + e.what());
        }
        std::size_t i = 0;
        for (const auto& r : rows) {
            ++i;
            if (!r.is_array() || r.size() < 6 || !r[0].is_number() || !r[4].is_number() || !r[5].is_number())
                throw DataError(fmt::format("{}: record {}: expected [timestamp_ms, id, type, side, price, amount, ...]",
                                            path.string(), i));
            out.push_back({symbol, trade_time(r[0].get<double>(), fmt::format("{}: record {}", path.string(), i)),
                           r[4].get<double>(),
                           r[5].get<double>(), r[3].is_string() ? side_of(r[3].get<std::string>()) : Side::unknown});
        }
        return out;
    }
    std::istringstream in(text);
    std::string line;
    std::size_t n = 0;
    int t_col = 0, p_col = 1, a_col = 2, s_col = -1;
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        auto f = split(line);
        if (n == 1 && !std::isdigit(static_cast<unsigned char>(f[0].empty() ? 'x' : f[0][0])) &&
            !std::isdigit(static_cast<unsigned char>(f.size() > 1 && !f[1].empty() ? f[1][0] : 'x'))) {
            t_col = p_col = a_col = -1;  // header
            for (int i = 0; i < static_cast<int>(f.size()); ++i) {
                const auto& c = f[static_cast<std::size_t>(i)];
                if (c == "timestamp" || c == "time") t_col = i;
                else if (c == "price") p_col = i;
                else if (c == "amount" || c == "volume") a_col = i;
                else if (c == "side") s_col = i;
            }
            if (t_col < 0 || p_col < 0 || a_col < 0)
                throw DataError(path.string() + ":1: header needs timestamp, price and amount columns");
            continue;
        }
        const int need = std::max({t_col, p_col, a_col, s_col});
        if (static_cast<int>(f.size()) <= need)
            throw DataError(fmt::format("{}:{}: expected at least {} fields", path.string(), n, need + 1));
        out.push_back({symbol,
                       trade_time(num(f[static_cast<std::size_t>(t_col)], path, n, "timestamp"),
                                  fmt::format("{}:{}", path.string(), n)),
                       num(f[static_cast<std::size_t>(p_col)], path, n, "price"),
                       num(f[static_cast<std::size_t>(a_col)], path, n, "amount"),
                       s_col >= 0 ? side_of(f[static_cast<std::size_t>(s_col)]) : Side::unknown});
    }
    return out;
}

void write_trades_csv(std::ostream& out, std::span<const Trade> trades) {
    out << "timestamp,price,amount,side\n";
    for (const auto& t : trades) {
        const char* side = t.side == Side::buy ? "buy" : t.side == Side::sell ? "sell" : "";
        // Floor division keeps pre-1970 times exact too.
        const Timestamp ms = t.time / kMillisecond - (t.time % kMillisecond < 0 ? 1 : 0);
        const Timestamp us = (t.time - ms * kMillisecond) / kMicrosecond;
        out << fmt::format("{}.{:03},{},{},{}\n", ms, us, t.price, t.amount, side);
    }
}

}  // namespace pricecast::data
