#include "training/backtest_model.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

namespace pricecast::training {
namespace {

models::SampleSet subset(const models::Windows& w, const std::vector<std::size_t>& idx) {
    models::SampleSet s;
    s.steps = w.set.steps;
    s.width = w.set.width;
    for (auto i : idx) {
        const auto one = w.set.sample(i);
        s.values.insert(s.values.end(), one.begin(), one.end());
        s.times.push_back(w.set.times[i]);
    }
    return s;
}

int majority_class(const std::vector<models::Trend>& labels) {
    std::array<long, models::kClasses> n{};
    for (auto l : labels) ++n[static_cast<std::size_t>(l)];
    return static_cast<int>(std::max_element(n.begin(), n.end()) - n.begin());
}

}  // namespace

backtest::BlockModel backtest_model(const models::Windows& w, const models::RowReturns& returns,
                                    const models::LabelConfig& labels, ModelFactory make, BlockTrained trained) {
    return [&w, &returns, labels, make = std::move(make), trained = std::move(trained)](const backtest::BlockRows& b) {
        const Timestamp first = b.predict.empty() ? std::numeric_limits<Timestamp>::max() : w.set.times[b.predict.front()];
        const auto t = train_model(w, returns, labels, b.train, b.valid, first, make);
        if (trained) trained(b, t);
        const auto probs = t.model->predict_proba(subset(w, b.predict));
        const int majority = majority_class(t.train.labels);
        backtest::BlockOutput out;
        for (std::size_t i = 0; i < b.predict.size(); ++i) {
            const auto row = w.rows[b.predict[i]];
            const auto actual = t.labeler.forward_class(returns, row);
            out.probs.push_back(probs[i]);
            out.actual.push_back(actual ? static_cast<int>(*actual) : backtest::kUnknown);
            out.majority.push_back(majority);
            out.persistence.push_back(static_cast<int>(t.labeler.past_class(returns, row).value_or(models::Trend::stable)));
        }
        return out;
    };
}

std::vector<Bar> sample_bars(std::span<const Bar> bars, const features::FeatureMatrix& m, const models::Windows& w) {
    std::map<std::pair<std::string, Timestamp>, const Bar*> by_key;
    for (const auto& b : bars) by_key[{b.symbol, b.close_time}] = &b;
    std::vector<Bar> out;
    out.reserve(w.rows.size());
    for (auto row : w.rows) {
        const auto it = by_key.find({m.symbols[row], m.times[row]});
        if (it == by_key.end())
            throw std::runtime_error(fmt::format("no bar of {} closing at {} for its feature row", m.symbols[row],
                                                 format_iso8601(m.times[row])));
        out.push_back(*it->second);
    }
    return out;
}

}  // namespace pricecast::training
