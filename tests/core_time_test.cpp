// Event time: ISO-8601 parse/format and durations.
#include <cmath>

#include <gtest/gtest.h>

#include "core/time.hpp"

namespace pricecast {
namespace {

TEST(Time, ParsesIsoForms) {
    EXPECT_EQ(parse_iso8601("1970-01-01"), 0);
    EXPECT_EQ(parse_iso8601("2024-01-02"), 1704153600 * kSecond);
    EXPECT_EQ(parse_iso8601("2024-01-02T03:04:05Z"), (1704153600 + 3 * 3600 + 4 * 60 + 5) * kSecond);
    EXPECT_EQ(parse_iso8601("2024-01-02 03:04:05"), parse_iso8601("2024-01-02T03:04:05Z"));
    EXPECT_EQ(parse_iso8601("2024-01-02T03:04:05.123456789Z"), *parse_iso8601("2024-01-02T03:04:05Z") + 123456789);
    EXPECT_EQ(parse_iso8601("2024-01-02T05:04:05+02:00"), parse_iso8601("2024-01-02T03:04:05Z"));
    EXPECT_EQ(parse_iso8601("2024-01-01T22:04:05-0500"), parse_iso8601("2024-01-02T03:04:05Z"));
    EXPECT_EQ(parse_iso8601("2024-02-29"), 1709164800 * kSecond);  // leap day
    EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59Z"), -kSecond);
}

TEST(Time, RejectsInvalid) {
    for (const char* bad : {"", "2024", "2024-13-01", "2023-02-29", "2024-01-02T25:00", "2024-01-02T03:04:05.",
                            "2024-01-02Tx", "2024-01-02T03:04:05Zjunk", "02/01/2024"})
        EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

// Epoch nanoseconds in an int64 reach 1677-09-21T00:12:43Z .. 2262-04-11T23:47:16Z:
// past that a time is no time, not one wrapped around to another.
TEST(Time, TimesPastInt64NanosecondsAreRejected) {
    EXPECT_EQ(parse_iso8601("2262-04-11T23:47:16Z"), INT64_MAX / kSecond * kSecond);
    EXPECT_EQ(parse_iso8601("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
    for (const char* far : {"2262-04-11T23:47:16.854775808Z", "2262-04-12", "9999-12-31T23:59:59Z", "1677-09-21",
                            "0001-01-01"})
        EXPECT_FALSE(parse_iso8601(far)) << far;
    EXPECT_TRUE(parse_iso8601("1677-09-22"));
}

TEST(Time, EpochNumbersByMagnitude) {
    const Timestamp t = 1704153600 * kSecond;  // 2024-01-02
    EXPECT_EQ(epoch_time(1704153600.0), t);
    EXPECT_EQ(epoch_time(1704153600.25), t + 250 * kMillisecond);
    EXPECT_EQ(epoch_time(1704153600123.0), t + 123 * kMillisecond);
    EXPECT_EQ(epoch_time(1704153600123456.0), t + 123456 * kMicrosecond);
    EXPECT_EQ(epoch_time(1704153600123456768.0), 1704153600123456768);  // representable as a double
    EXPECT_EQ(epoch_time(0), 0);
    EXPECT_EQ(epoch_time(9223372036.0), 9223372036 * kSecond) << "the last whole second int64 ns hold";
    for (double far : {9223372037.0, 99999999999.0, 9999999999999999.0, 1e19, -1e19, HUGE_VAL, std::nan("")})
        EXPECT_FALSE(epoch_time(far)) << far;
}

TEST(Time, FormatRoundTrips) {
    for (Timestamp t : {Timestamp{0}, 1704153600 * kSecond + 5, 1704153600 * kSecond + 120 * kMillisecond,
                        -kSecond - 1, 1704153600 * kSecond + 7 * kMicrosecond})
        EXPECT_EQ(parse_iso8601(format_iso8601(t)), t) << format_iso8601(t);
    EXPECT_EQ(format_iso8601(1704153600 * kSecond), "2024-01-02T00:00:00Z");
    EXPECT_EQ(format_iso8601(1704153600 * kSecond + 500 * kMillisecond), "2024-01-02T00:00:00.500Z");
}

TEST(Time, Durations) {
    EXPECT_EQ(parse_duration("5m"), 5 * kMinute);
    EXPECT_EQ(parse_duration("1h"), kHour);
    EXPECT_EQ(parse_duration("250ms"), 250 * kMillisecond);
    EXPECT_FALSE(parse_duration("5"));
    EXPECT_FALSE(parse_duration("-1m"));
    EXPECT_FALSE(parse_duration("99999999999999h"));  // past what int64 nanoseconds hold
    EXPECT_FALSE(parse_duration("9223372036854775807s"));
    EXPECT_EQ(parse_duration("9223372036854775807ns"), INT64_MAX);
    EXPECT_FALSE(parse_duration("1y"));
    EXPECT_EQ(format_duration(5 * kMinute), "5m");
    EXPECT_EQ(format_duration(90 * kSecond), "90s");
    EXPECT_EQ(format_duration(kDay), "1d");
}

}  // namespace
}  // namespace pricecast
