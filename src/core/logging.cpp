#include "core/logging.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/progress.hpp"

namespace pricecast {
namespace {

// %* in a pattern: the message as a JSON string literal, quotes included.
class JsonMessage final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const std::string text(msg.payload.data(), msg.payload.size());
        const auto quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(quoted.data(), quoted.data() + quoted.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

// stderr, first erasing a progress line drawn there (the next redraw brings it back).
class StderrSink final : public spdlog::sinks::stderr_color_sink_mt {
    using Base = spdlog::sinks::stderr_color_sink_mt;

public:
    using Base::Base;
    void log(const spdlog::details::log_msg& msg) override {
        if (progress_line_open()) std::fputs("\r\x1b[K", stderr);
        Base::log(msg);
    }
};

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v";
constexpr const char* kJsonPattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":%*})";

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
    if (name == "text") return LogFormat::text;
    if (name == "json") return LogFormat::json;
    return std::nullopt;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format) {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (format == LogFormat::json) {
        f->add_flag<JsonMessage>('*').set_pattern(kJsonPattern);
    } else {
        f->set_pattern(kTextPattern);
    }
    return f;
}

void configure_logging(LogFormat format) {
    // Colours only for text on a terminal; the sink detects the terminal.
    const auto colours = format == LogFormat::text ? spdlog::color_mode::automatic : spdlog::color_mode::never;
    auto sink = std::make_shared<StderrSink>(colours);
    sink->set_formatter(make_log_formatter(format));
    auto logger = std::make_shared<spdlog::logger>("pricecast", std::move(sink));
    logger->set_level(spdlog::default_logger()->level());
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace pricecast
