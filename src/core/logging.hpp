// Log output: human-readable text (coloured on a terminal) or JSON lines, both
// on stderr so that a subcommand's stdout stays data. The CLI picks the format
// once per run (--log-format, else log_format in the configuration); everything
// else just calls spdlog.
//
//     {"time":"2024-01-02T00:00:00.000000Z","level":"info","msg":"wrote sim/"}
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include <spdlog/formatter.h>

namespace pricecast {

enum class LogFormat : unsigned char { text, json };
std::optional<LogFormat> parse_log_format(std::string_view name);  // "text", "json"

// The formatter of one format. JSON lines carry time (UTC, microseconds),
// level and msg; the message is escaped (invalid UTF-8 becomes U+FFFD), so
// every line parses whatever was logged.
std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format);

// Replaces spdlog's default logger with one writing `format` to stderr.
// Not thread-safe: call before other threads log.
void configure_logging(LogFormat format);

}  // namespace pricecast
