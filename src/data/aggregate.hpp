// Bar aggregation in event time: trades -> bars, and bars -> bars of a longer
// interval (1m -> 5m -> 1h, any multiple).
//
// Rules:
// - Buckets are aligned to the Unix epoch in UTC: a record at time t belongs to
//   the bucket starting at floor(t / interval) * interval (a bar by its open time).
// - OHLC are first / max / min / last, volume and trade counts are summed.
// - A bucket is emitted when the first record of a later bucket arrives, or on
//   flush() (end of stream). Intervals with no records (gaps) produce no bar.
// - A bar built from fewer source bars than interval / source interval is still
//   emitted, with `partial` set and the number of constituents it has.
// - A record older than the open bucket (out of order) is rejected and counted;
//   it never changes an emitted bar.
#pragma once

#include <optional>
#include <vector>

#include "core/types.hpp"

namespace pricecast::data {

struct AggregatedBar {
    Bar bar;
    int constituents = 0;  // source bars (or trades) in the bar
    bool partial = false;  // fewer source bars than the interval holds
};

class BarAggregator {
public:
    explicit BarAggregator(Duration interval);
    // Adds a source bar; returns the bar it closed, if any.
    std::optional<AggregatedBar> add(const Bar& bar);
    // Adds a trade (bars from trades are never partial: a trade-less minute is a gap).
    std::optional<AggregatedBar> add(const Trade& trade);
    // Emits the still-open bar, if any (end of stream).
    std::optional<AggregatedBar> flush();
    // The still-forming bar, without closing it.
    std::optional<AggregatedBar> peek() const;
    std::size_t rejected() const { return rejected_; }

private:
    std::optional<AggregatedBar> start_or_roll(Timestamp bucket, const std::string& symbol);
    Duration interval_;
    std::optional<AggregatedBar> open_;
    Duration source_interval_ = 0;
    std::size_t rejected_ = 0;
};

// Convenience: aggregate a whole series (flushes at the end).
std::vector<AggregatedBar> aggregate(const std::vector<Bar>& bars, Duration interval);
std::vector<AggregatedBar> aggregate(const std::vector<Trade>& trades, Duration interval);

}  // namespace pricecast::data
