#include "features/news_window.hpp"

#include <algorithm>
#include <cmath>

namespace pricecast::features {

void NewsWindow::add(const ScoredNews& item) {
    // News mostly arrives in order: append; a late item is inserted in place.
    if (items_.empty() || !(item < items_.back())) {
        items_.push_back(item);
        return;
    }
    items_.insert(std::upper_bound(items_.begin(), items_.end(), item), item);
}

bool NewsWindow::contains(const ScoredNews& item) const {
    return std::binary_search(items_.begin(), items_.end(), item);
}

void NewsWindow::prune(Timestamp time) {
    auto end = std::upper_bound(items_.begin(), items_.end(), time,
                                [](Timestamp t, const ScoredNews& n) { return t < n.time; });
    items_.erase(items_.begin(), end);
}

void NewsWindow::stats(Timestamp t, Duration window, std::span<double> out) const {
    auto by_time = [](const ScoredNews& n, Timestamp x) { return n.time < x; };
    auto first = std::lower_bound(items_.begin(), items_.end(), t - window + 1, by_time);
    auto last = std::lower_bound(first, items_.end(), t + 1, by_time);
    std::fill(out.begin(), out.end(), 0.0);
    const auto n = static_cast<double>(last - first);
    if (n == 0) return;

    constexpr double kHour = 3600e9;
    const double half_life = static_cast<double>(window) / 2;
    double sum = 0, sum_x = 0, sum_xx = 0, sum_xy = 0, sum_yy = 0, wsum = 0, wy = 0;
    for (auto it = first; it != last; ++it) {
        const double y = it->score;
        const double age = static_cast<double>(t - it->time);
        const double x = -age / kHour;  // hours, 0 at t
        const double w = std::exp2(-age / half_life);
        sum += y;
        sum_yy += y * y;
        sum_x += x;
        sum_xx += x * x;
        sum_xy += x * y;
        wsum += w;
        wy += w * y;
    }
    const double mean = sum / n;
    const double var = std::max(0.0, sum_yy / n - mean * mean);
    const double sxx = sum_xx - sum_x * sum_x / n;
    out[0] = mean;
    out[1] = n > 1 ? std::sqrt(var) : 0.0;
    out[2] = n > 1 && sxx > 1e-18 ? (sum_xy - sum_x * sum / n) / sxx : 0.0;
    out[3] = n;
    out[4] = wy / wsum;
}

}  // namespace pricecast::features
