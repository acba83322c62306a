// What the API serves from memory: recent predictions, recent price bars and
// the latest feature vector per symbol, fed from the `predictions`,
// `price-data` and `ml-features` topics (or directly by the inference service
// in the embedded mode).
//
// The stores drop duplicates by (symbol, bar time): the bus delivers at least
// once, clients see each bar once.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "features/features.hpp"

namespace pricecast::serving {

// A store's callbacks by id. Called under the store's lock, so each sees a
// symbol's rows in the order they were accepted and none runs after
// remove() returns.
template <class Row>
class Listeners {
public:
    int add(std::function<void(const Row&)> f) {
        entries_.emplace(next_, std::move(f));
        return next_++;
    }
    void remove(int id) { entries_.erase(id); }
    void notify(const Row& row) const {
        for (const auto& [id, f] : entries_) f(row);
    }

private:
    std::map<int, std::function<void(const Row&)>> entries_;
    int next_ = 0;
};

class PredictionStore {
public:
    using Listener = std::function<void(const Prediction&)>;

    explicit PredictionStore(std::size_t per_symbol = 10'000);
    // False when a prediction for (symbol, bar_time, slot) is already stored,
    // or is older than everything retained for the symbol.
    bool add(const Prediction& p);
    std::optional<Prediction> latest(const std::string& symbol) const;
    // Served predictions (champion, or a split challenger's) with from <= bar_time <= to, oldest first.
    std::vector<Prediction> range(const std::string& symbol, Timestamp from, Timestamp to) const;
    std::vector<std::string> symbols() const;
    std::uint64_t duplicates() const;
    // Called after every accepted served prediction, on the adding thread
    // with the store locked: a listener must be quick and must not call back
    // into the store. Returns an id for unlisten.
    int listen(Listener listener);
    void unlisten(int id);

private:
    std::size_t per_symbol_;
    mutable std::mutex mutex_;
    std::map<std::string, std::vector<Prediction>> by_symbol_;  // champion, ordered by bar_time
    std::uint64_t duplicates_ = 0;
    std::map<std::string, Timestamp> last_challenger_;
    Listeners<Prediction> listeners_;
};

// Bars keyed by close time, the time a prediction's bar_time names, so the
// dashboard can put a prediction's marker on its candle.
class BarStore {
public:
    using Listener = std::function<void(const Bar&)>;

    explicit BarStore(std::size_t per_symbol = 10'000);
    // False for a bar whose close time is not after the symbol's newest: a
    // price stream is in order, so anything else is a redelivery.
    bool add(const Bar& bar);
    std::optional<Bar> latest(const std::string& symbol) const;
    // Bars with from <= close_time <= to, oldest first.
    std::vector<Bar> range(const std::string& symbol, Timestamp from, Timestamp to) const;
    std::vector<std::string> symbols() const;
    std::uint64_t duplicates() const;
    // Called after every accepted bar, on the adding thread with the store
    // locked: a listener must be quick and must not call back into the store.
    int listen(Listener listener);
    void unlisten(int id);

private:
    std::size_t per_symbol_;
    mutable std::mutex mutex_;
    std::map<std::string, std::deque<Bar>> by_symbol_;  // ordered by close_time
    std::uint64_t duplicates_ = 0;
    Listeners<Bar> listeners_;
};

class FeatureStore {
public:
    // False for a duplicate or older vector of the symbol.
    bool add(const features::FeatureVector& v);
    std::optional<features::FeatureVector> latest(const std::string& symbol) const;
    std::vector<std::string> symbols() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, features::FeatureVector> latest_;
};

}  // namespace pricecast::serving
