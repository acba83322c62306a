// Core domain types shared by every component. Depends on nothing of ours.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace pricecast {

// One OHLCV bar. Times are event times: open_time inclusive, close_time exclusive
// (close_time = open_time + interval), so a bar "closes at" close_time.
struct Bar {
    std::string symbol;
    Duration interval = 0;
    Timestamp open_time = 0;
    Timestamp close_time = 0;
    double open = 0, high = 0, low = 0, close = 0, volume = 0;
    std::int64_t trade_count = 0;
};

enum class Side : std::uint8_t { unknown, buy, sell };

struct Trade {
    std::string symbol;
    Timestamp time = 0;
    double price = 0;
    double amount = 0;
    Side side = Side::unknown;
};

struct NewsItem {
    std::string id;
    Timestamp event_time = 0;
    std::string source;
    std::vector<std::string> symbols;
    std::string headline;
    std::string body;
    // Optional score in [-1, 1] attached by a source that already knows it
    // (the simulator does); NaN when absent.
    double sentiment = std::numeric_limits<double>::quiet_NaN();
};

// One published prediction: what the inference service sends to `predictions`
// and what clients read. `cls` and `probs` are in class order DOWN, STABLE, UP.
struct Prediction {
    std::string symbol;
    Timestamp bar_time = 0;      // close time of the bar predicted from
    Timestamp feature_time = 0;  // close time of the newest feature vector used
    std::string model;           // registered model name
    int version = 0;             // registry version that answered
    std::string slot = "champion";  // or "challenger" (shadow/A-B)
    // A challenger's prediction served to clients for its symbol (split A/B
    // traffic); a shadow challenger's is only logged. Champions are always served.
    bool ab_split = false;
    int cls = 1;
    std::array<float, 3> probs{};
    double confidence = 0;       // max(probs)
    double close = 0;            // the bar's close, for outcome resolution
    Duration latency = 0;        // bar's last input -> publication
    Timestamp published_at = 0;
};

// Why a bar is invalid on its own (sequence problems such as duplicates are
// judged by the validator in src/data, which sees neighbours).
enum class BarProblem : std::uint8_t {
    none,
    non_finite,
    non_positive_price,
    high_below_open_close,
    low_above_open_close,
    negative_volume,
};

std::string_view to_string(BarProblem p);

// Checks the values of one bar. Cheap and allocation-free: indicators call it on
// every update so that a bad bar never reaches their state.
inline BarProblem check_bar(double open, double high, double low, double close, double volume) noexcept {
    // One combined test for the common case keeps this cheap on every update.
    if (std::isfinite(open + high + low + close + volume) && open > 0 && high > 0 && low > 0 && close > 0 &&
        high >= (open > close ? open : close) && low <= (open < close ? open : close) && volume >= 0)
        return BarProblem::none;
    if (!std::isfinite(open) || !std::isfinite(high) || !std::isfinite(low) || !std::isfinite(close) ||
        !std::isfinite(volume))
        return BarProblem::non_finite;
    if (open <= 0 || high <= 0 || low <= 0 || close <= 0) return BarProblem::non_positive_price;
    if (high < (open > close ? open : close)) return BarProblem::high_below_open_close;
    if (low > (open < close ? open : close)) return BarProblem::low_above_open_close;
    return volume < 0 ? BarProblem::negative_volume : BarProblem::none;  // the sum above can overflow
}
inline BarProblem check_bar(const Bar& b) noexcept {
    return check_bar(b.open, b.high, b.low, b.close, b.volume);
}

}  // namespace pricecast
