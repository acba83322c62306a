// Log lines: every JSON line parses, whatever the message holds; text lines
// carry the message as is.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

#include "core/logging.hpp"

namespace pricecast {
namespace {

std::string format(LogFormat f, spdlog::level::level_enum level, std::string_view payload) {
    const spdlog::details::log_msg msg(spdlog::source_loc{}, "pricecast", level,
                                       spdlog::string_view_t(payload.data(), payload.size()));
    spdlog::memory_buf_t buf;
    make_log_formatter(f)->format(msg, buf);
    return {buf.data(), buf.size()};
}

TEST(Logging, JsonLinesParseWhateverTheMessageHolds) {
    const char with_nul[] = "control \x01\x1f bytes and a NUL \0 inside";
    const std::string tricky[] = {
        "plain",
        R"(quotes " and \ backslash)",
        "two\nlines\tand a tab",
        std::string(with_nul, sizeof with_nul - 1),
        "ünïcödé — ok",
        "\xff\xfe invalid UTF-8",
        "{\"looks\": \"like json\"}",
        "",
    };
    for (const auto& text : tricky) {
        const auto line = format(LogFormat::json, spdlog::level::warn, text);
        ASSERT_FALSE(line.empty());
        EXPECT_EQ(line.back(), '\n');
        EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per message: " << line;
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j["level"], "warning");
        if (text.find('\xff') == std::string::npos) {
            EXPECT_EQ(j["msg"], text);
        } else {
            EXPECT_NE(j["msg"].get<std::string>().find("invalid UTF-8"), std::string::npos);
        }
        const auto time = j["time"].get<std::string>();
        ASSERT_EQ(time.size(), 27u) << time;  // 2024-01-02T00:00:00.000000Z
        EXPECT_EQ(time[10], 'T');
        EXPECT_EQ(time.back(), 'Z');
    }
}

TEST(Logging, TextLinesCarryLevelAndMessage) {
    const auto line = format(LogFormat::text, spdlog::level::info, R"(wrote "sim")");
    EXPECT_NE(line.find(R"( info wrote "sim")"), std::string::npos) << line;
    EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_discarded());
}

TEST(Logging, FormatNames) {
    EXPECT_EQ(parse_log_format("text"), LogFormat::text);
    EXPECT_EQ(parse_log_format("json"), LogFormat::json);
    EXPECT_FALSE(parse_log_format("JSON"));
    EXPECT_FALSE(parse_log_format(""));
}

}  // namespace
}  // namespace pricecast
