#include "data/aggregate.hpp"

#include <algorithm>
#include <stdexcept>

namespace pricecast::data {

BarAggregator::BarAggregator(Duration interval) : interval_(interval) {
    if (interval <= 0) throw std::invalid_argument("aggregation interval must be positive");
}

namespace {
Timestamp bucket_of(Timestamp t, Duration interval) {
    Timestamp b = t / interval * interval;
    return b > t ? b - interval : b;  // floor for times before 1970 too
}
}  // namespace

std::optional<AggregatedBar> BarAggregator::start_or_roll(Timestamp bucket, const std::string& symbol) {
    std::optional<AggregatedBar> closed;
    if (open_ && open_->bar.open_time != bucket) closed = flush();
    if (!open_) {
        open_ = AggregatedBar{};
        open_->bar.symbol = symbol;
        open_->bar.interval = interval_;
        open_->bar.open_time = bucket;
        open_->bar.close_time = bucket + interval_;
    }
    return closed;
}

std::optional<AggregatedBar> BarAggregator::add(const Bar& b) {
    const Timestamp bucket = bucket_of(b.open_time, interval_);
    if (open_ && bucket < open_->bar.open_time) {
        ++rejected_;
        return std::nullopt;
    }
    source_interval_ = b.interval;
    auto closed = start_or_roll(bucket, b.symbol);
    auto& o = *open_;
    if (o.constituents == 0) {
        o.bar.open = b.open, o.bar.high = b.high, o.bar.low = b.low;
    } else {
        o.bar.high = std::max(o.bar.high, b.high);
        o.bar.low = std::min(o.bar.low, b.low);
    }
    o.bar.close = b.close;
    o.bar.volume += b.volume;
    o.bar.trade_count += b.trade_count;
    ++o.constituents;
    o.partial = source_interval_ > 0 && o.constituents < interval_ / source_interval_;
    return closed;
}

std::optional<AggregatedBar> BarAggregator::add(const Trade& t) {
    const Timestamp bucket = bucket_of(t.time, interval_);
    if (open_ && bucket < open_->bar.open_time) {
        ++rejected_;
        return std::nullopt;
    }
    source_interval_ = 0;
    auto closed = start_or_roll(bucket, t.symbol);
    auto& o = *open_;
    if (o.constituents == 0) {
        o.bar.open = o.bar.high = o.bar.low = t.price;
    } else {
        o.bar.high = std::max(o.bar.high, t.price);
        o.bar.low = std::min(o.bar.low, t.price);
    }
    o.bar.close = t.price;
    o.bar.volume += t.amount;
    ++o.bar.trade_count;
    ++o.constituents;
    return closed;
}

std::optional<AggregatedBar> BarAggregator::flush() {
    auto out = std::move(open_);
    open_.reset();
    return out;
}

std::optional<AggregatedBar> BarAggregator::peek() const { return open_; }

namespace {
template <class Record>
std::vector<AggregatedBar> aggregate_all(const std::vector<Record>& in, Duration interval) {
    BarAggregator agg(interval);
    std::vector<AggregatedBar> out;
    for (const auto& r : in)
        if (auto b = agg.add(r)) out.push_back(std::move(*b));
    if (auto b = agg.flush()) out.push_back(std::move(*b));
    return out;
}
}  // namespace

std::vector<AggregatedBar> aggregate(const std::vector<Bar>& bars, Duration interval) {
    return aggregate_all(bars, interval);
}
std::vector<AggregatedBar> aggregate(const std::vector<Trade>& trades, Duration interval) {
    return aggregate_all(trades, interval);
}

}  // namespace pricecast::data
