#include "serving/stores.hpp"

#include <algorithm>

namespace pricecast::serving {
namespace {

// Rows of `rows` (ordered by time_of) with from <= time_of(row) <= to.
template <class Rows, class TimeOf>
std::vector<typename Rows::value_type> time_range(const Rows& rows, Timestamp from, Timestamp to, TimeOf time_of) {
    if (from > to) return {};
    using Row = typename Rows::value_type;
    const auto first =
        std::lower_bound(rows.begin(), rows.end(), from, [&](const Row& r, Timestamp t) { return time_of(r) < t; });
    const auto last =
        std::upper_bound(rows.begin(), rows.end(), to, [&](Timestamp t, const Row& r) { return t < time_of(r); });
    return {first, last};
}

template <class Rows>
std::vector<std::string> symbols_with_rows(const std::map<std::string, Rows>& by_symbol) {
    std::vector<std::string> out;
    for (const auto& [symbol, rows] : by_symbol)
        if (!rows.empty()) out.push_back(symbol);
    return out;
}

}  // namespace

PredictionStore::PredictionStore(std::size_t per_symbol) : per_symbol_(std::max<std::size_t>(per_symbol, 1)) {}

bool PredictionStore::add(const Prediction& p) {
    std::lock_guard lock(mutex_);
    if (p.slot != "champion" && !p.ab_split) {
        // Shadow predictions are only deduplicated: clients read the served ones.
        auto [it, fresh] = last_challenger_.try_emplace(p.symbol, p.bar_time);
        if (!fresh && p.bar_time <= it->second) {
            ++duplicates_;
            return false;
        }
        it->second = p.bar_time;
        return true;
    }
    auto& rows = by_symbol_[p.symbol];
    const auto at = std::lower_bound(rows.begin(), rows.end(), p.bar_time,
                                     [](const Prediction& r, Timestamp t) { return r.bar_time < t; });
    const bool stored = at != rows.end() && at->bar_time == p.bar_time;
    const bool older_than_all = !rows.empty() && at == rows.begin();
    if (stored || older_than_all) {
        ++duplicates_;
        return false;
    }
    rows.insert(at, p);
    if (rows.size() > per_symbol_) rows.erase(rows.begin());
    listeners_.notify(p);
    return true;
}

std::optional<Prediction> PredictionStore::latest(const std::string& symbol) const {
    std::lock_guard lock(mutex_);
    const auto it = by_symbol_.find(symbol);
    if (it == by_symbol_.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<Prediction> PredictionStore::range(const std::string& symbol, Timestamp from, Timestamp to) const {
    std::lock_guard lock(mutex_);
    const auto it = by_symbol_.find(symbol);
    if (it == by_symbol_.end()) return {};
    return time_range(it->second, from, to, [](const Prediction& p) { return p.bar_time; });
}

std::vector<std::string> PredictionStore::symbols() const {
    std::lock_guard lock(mutex_);
    return symbols_with_rows(by_symbol_);
}

std::uint64_t PredictionStore::duplicates() const {
    std::lock_guard lock(mutex_);
    return duplicates_;
}

int PredictionStore::listen(Listener listener) {
    std::lock_guard lock(mutex_);
    return listeners_.add(std::move(listener));
}

void PredictionStore::unlisten(int id) {
    std::lock_guard lock(mutex_);
    listeners_.remove(id);
}

BarStore::BarStore(std::size_t per_symbol) : per_symbol_(std::max<std::size_t>(per_symbol, 1)) {}

bool BarStore::add(const Bar& bar) {
    std::lock_guard lock(mutex_);
    auto& rows = by_symbol_[bar.symbol];
    if (!rows.empty() && bar.close_time <= rows.back().close_time) {
        ++duplicates_;
        return false;
    }
    rows.push_back(bar);
    if (rows.size() > per_symbol_) rows.pop_front();
    listeners_.notify(bar);
    return true;
}

std::optional<Bar> BarStore::latest(const std::string& symbol) const {
    std::lock_guard lock(mutex_);
    const auto it = by_symbol_.find(symbol);
    if (it == by_symbol_.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<Bar> BarStore::range(const std::string& symbol, Timestamp from, Timestamp to) const {
    std::lock_guard lock(mutex_);
    const auto it = by_symbol_.find(symbol);
    if (it == by_symbol_.end()) return {};
    return time_range(it->second, from, to, [](const Bar& b) { return b.close_time; });
}

std::vector<std::string> BarStore::symbols() const {
    std::lock_guard lock(mutex_);
    return symbols_with_rows(by_symbol_);
}

std::uint64_t BarStore::duplicates() const {
    std::lock_guard lock(mutex_);
    return duplicates_;
}

int BarStore::listen(Listener listener) {
    std::lock_guard lock(mutex_);
    return listeners_.add(std::move(listener));
}

void BarStore::unlisten(int id) {
    std::lock_guard lock(mutex_);
    listeners_.remove(id);
}

bool FeatureStore::add(const features::FeatureVector& v) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = latest_.try_emplace(v.symbol, v);
    if (fresh) return true;
    if (v.close_time <= it->second.close_time) return false;
    it->second = v;
    return true;
}

std::optional<features::FeatureVector> FeatureStore::latest(const std::string& symbol) const {
    std::lock_guard lock(mutex_);
    const auto it = latest_.find(symbol);
    if (it == latest_.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> FeatureStore::symbols() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [symbol, v] : latest_) out.push_back(symbol);
    return out;
}

}  // namespace pricecast::serving
