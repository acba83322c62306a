// Event time: int64 nanoseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace pricecast {

using Timestamp = std::int64_t;  // ns since 1970-01-01T00:00:00Z
using Duration = std::int64_t;   // ns

inline constexpr Duration kNanosecond = 1;
inline constexpr Duration kMicrosecond = 1'000;
inline constexpr Duration kMillisecond = 1'000'000;
inline constexpr Duration kSecond = 1'000'000'000;
inline constexpr Duration kMinute = 60 * kSecond;
inline constexpr Duration kHour = 60 * kMinute;
inline constexpr Duration kDay = 24 * kHour;

// Parses ISO-8601 / RFC-3339 style times: "2024-01-02", "2024-01-02T03:04:05",
// "2024-01-02 03:04:05.123456789", optional "Z" or "+hh:mm"/"-hhmm" offset
// (times without an offset are UTC). Returns nullopt on anything else, and
// for a time int64 nanoseconds cannot hold (before 1677-09-21 or after 2262-04-11).
std::optional<Timestamp> parse_iso8601(std::string_view text);

// An epoch number in the unit its magnitude tells: seconds below 1e11,
// milliseconds below 1e14, microseconds below 1e17, else nanoseconds. Kept to
// the microsecond (a double holds no finer below 1e17); nullopt when not
// finite or outside what int64 nanoseconds hold, as above.
std::optional<Timestamp> epoch_time(double v);

// Formats as "YYYY-MM-DDTHH:MM:SS[.fff...]Z"; fractional digits only when non-zero
// (3, 6 or 9 digits as needed).
std::string format_iso8601(Timestamp t);

// Parses a duration such as "1m", "5m", "1h", "30s", "1d", "250ms". nullopt if invalid.
std::optional<Duration> parse_duration(std::string_view text);
// Formats a duration in the largest exact unit: "5m", "1h", "90s".
std::string format_duration(Duration d);

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept;

}  // namespace pricecast
