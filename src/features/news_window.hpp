// Internal to src/features: scored news of one scope (a symbol, or the whole
// market) kept in event-time order, and the statistics of a window of it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/state.hpp"
#include "core/time.hpp"

namespace pricecast::features {

struct ScoredNews {
    Timestamp time = 0;
    std::uint64_t key = 0;  // hash of id and text: a total order that ignores arrival order
    double score = 0;
    auto operator<=>(const ScoredNews&) const = default;
    template <class V>
    void fields(V& v) { v(time, key, score); }
};

// The statistic columns of one window, in column order.
inline constexpr const char* kWindowStats[] = {"mean", "std", "slope", "count", "decayed"};
inline constexpr std::size_t kWindowStatCount = 5;

class NewsWindow {
public:
    void add(const ScoredNews& item);
    bool contains(const ScoredNews& item) const;
    // Forgets items at or before `time` (no later window can reach them).
    void prune(Timestamp time);
    // Statistics over items with event time in (t - window, t], summed in
    // (time, key) order so that the result does not depend on arrival order:
    // mean, population std, least-squares slope of score per hour, count, and
    // the mean weighted by exp2(-age / half_life) with half_life = window / 2.
    // An empty window gives zeros.
    void stats(Timestamp t, Duration window, std::span<double> out) const;
    std::size_t size() const { return items_.size(); }

    template <class V>
    void fields(V& v) { v(items_); }

private:
    std::vector<ScoredNews> items_;  // sorted
};

}  // namespace pricecast::features
