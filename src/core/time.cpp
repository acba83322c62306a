#include "core/time.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace pricecast {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

namespace {

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

// Reads exactly n digits at s[pos]; advances pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::optional<Timestamp> parse_iso8601(std::string_view s) {
    std::size_t pos = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!digits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, mo) ||
        pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, d))
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(mo)))
        return std::nullopt;
    std::int64_t frac_ns = 0;
    std::int64_t offset_s = 0;
    if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
        ++pos;
        if (!digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, mi))
            return std::nullopt;
        if (pos < s.size() && s[pos] == ':') {
            ++pos;
            if (!digits(s, pos, 2, sec)) return std::nullopt;
            if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
                ++pos;
                std::int64_t scale = 100'000'000;
                std::size_t start = pos;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                    if (scale > 0) frac_ns += (s[pos] - '0') * scale;
                    scale /= 10;
                    ++pos;
                }
                if (pos == start) return std::nullopt;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
        if (pos < s.size()) {
            char c = s[pos];
            if (c == 'Z' || c == 'z') {
                ++pos;
            } else if (c == '+' || c == '-') {
                ++pos;
                int oh = 0, om = 0;
                if (!digits(s, pos, 2, oh)) return std::nullopt;
                if (pos < s.size() && s[pos] == ':') ++pos;
                if (pos < s.size() && !digits(s, pos, 2, om)) return std::nullopt;
                if (oh > 23 || om > 59) return std::nullopt;
                offset_s = (c == '+' ? 1 : -1) * (oh * 3600 + om * 60);
            }
        }
    }
    if (pos != s.size()) return std::nullopt;
    const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    Timestamp t = 0;
    if (__builtin_mul_overflow(secs, kSecond, &t) || __builtin_add_overflow(t, frac_ns, &t)) return std::nullopt;
    return t;
}

std::optional<Timestamp> epoch_time(double v) {
    constexpr double kLimitNs = 9.223372036854775e18;  // just inside int64's range
    const double a = std::fabs(v);
    if (!(a < 1e17)) {
        if (!(a < kLimitNs)) return std::nullopt;  // NaN too
        return static_cast<Timestamp>(v);
    }
    const double us = a < 1e11 ? v * 1e6 : a < 1e14 ? v * 1e3 : v;
    if (std::fabs(us) >= kLimitNs / 1e3) return std::nullopt;
    return std::llround(us) * kMicrosecond;
}

std::string format_iso8601(Timestamp t) {
    std::int64_t secs = t / kSecond;
    std::int64_t ns = t % kSecond;
    if (ns < 0) {
        ns += kSecond;
        --secs;
    }
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    std::int64_t y = 0;
    unsigned m = 0, d = 0;
    civil_from_days(days, y, m, d);
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), m, d,
                          static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                          static_cast<long long>(rem % 60));
    std::string out(buf, static_cast<std::size_t>(n));
    if (ns != 0) {
        std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(ns));
        std::string frac(buf);
        if (ns % 1'000'000 == 0) frac.resize(4);
        else if (ns % 1'000 == 0) frac.resize(7);
        out += frac;
    }
    out += 'Z';
    return out;
}

std::optional<Duration> parse_duration(std::string_view s) {
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || n <= 0) return std::nullopt;
    std::string_view unit(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr));
    Duration u = 0;
    if (unit == "ns") u = kNanosecond;
    else if (unit == "us") u = kMicrosecond;
    else if (unit == "ms") u = kMillisecond;
    else if (unit == "s") u = kSecond;
    else if (unit == "m" || unit == "min") u = kMinute;
    else if (unit == "h") u = kHour;
    else if (unit == "d") u = kDay;
    else return std::nullopt;
    if (n > std::numeric_limits<Duration>::max() / u) return std::nullopt;  // past year 2262
    return n * u;
}

std::string format_duration(Duration d) {
    struct Unit { Duration ns; const char* name; };
    static constexpr Unit kUnits[] = {{kDay, "d"}, {kHour, "h"}, {kMinute, "m"}, {kSecond, "s"},
                                      {kMillisecond, "ms"}, {kMicrosecond, "us"}};
    for (const auto& u : kUnits)
        if (d != 0 && d % u.ns == 0) return std::to_string(d / u.ns) + u.name;
    return std::to_string(d) + "ns";
}

}  // namespace pricecast
