#include "support/series.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace pricecast::test {

std::vector<Bar> synthetic_bars(std::size_t n, std::uint64_t seed, double start_price) {
    std::mt19937_64 rng(seed);
    auto uni = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    auto gauss = [&] { return std::sqrt(-2 * std::log(1 - uni())) * std::cos(6.283185307179586 * uni()); };
    std::vector<Bar> bars;
    bars.reserve(n);
    double price = start_price;
    for (std::size_t i = 0; i < n; ++i) {
        Bar b;
        b.symbol = "SYN";
        b.interval = kMinute;
        b.open_time = 1'600'000'000 * kSecond + static_cast<Timestamp>(i) * kMinute;
        b.close_time = b.open_time + kMinute;
        const double u = uni();
        // Opening gap now and then; otherwise open at the previous close.
        b.open = u < 0.1 ? price * (1 + 0.01 * gauss()) : price;
        double body = 0.006 * gauss();
        if (u > 0.85) body = 0;                       // doji
        else if (u > 0.75) body *= 3;                 // long body
        b.close = b.open * (1 + body);
        const double top = std::max(b.open, b.close), bottom = std::min(b.open, b.close);
        const double v = uni();
        double upper = top * 0.003 * std::abs(gauss()), lower = bottom * 0.003 * std::abs(gauss());
        if (v < 0.1) upper = 0;                       // shaven head
        else if (v < 0.2) lower = 0;                  // shaven bottom
        else if (v < 0.3) lower *= 6;                 // hammer-like tail
        else if (v < 0.4) upper *= 6;                 // shooting-star-like tail
        b.high = top + upper;
        b.low = std::max(bottom - lower, bottom * 0.5);
        // Quantize to a tick so equal prices occur, as in real data.
        auto tick = [](double x) { return std::round(x * 100) / 100; };
        b.open = tick(b.open);
        b.close = tick(b.close);
        b.high = std::max({tick(b.high), b.open, b.close});
        b.low = std::min({tick(b.low), b.open, b.close});
        b.volume = std::round(1000 * std::exp(gauss()));
        if (uni() < 0.02) b.volume = 0;
        price = b.close;
        bars.push_back(b);
    }
    return bars;
}

}  // namespace pricecast::test
