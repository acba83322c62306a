#include "training/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "models/baseline.hpp"

namespace pricecast::training {
namespace {

using models::ClassProbs;
using models::Trend;

std::array<double, models::kClasses> shares(std::span<const Trend> labels) {
    std::array<double, models::kClasses> n{};
    for (auto l : labels) n[static_cast<std::size_t>(l)] += 1;
    for (auto& x : n) x /= std::max<double>(1, static_cast<double>(labels.size()));
    return n;
}

Trend majority(std::span<const Trend> labels) {
    const auto s = shares(labels);
    return static_cast<Trend>(std::max_element(s.begin(), s.end()) - s.begin());
}

// The samples of `idx` whose label's last bar closes before `from`.
std::vector<std::size_t> labels_before(const models::Windows& w, const models::RowReturns& returns,
                                       std::span<const std::size_t> idx, Timestamp from) {
    std::vector<std::size_t> kept;
    for (auto i : idx)
        if (returns.forward_end[w.rows[i]] < from) kept.push_back(i);
    return kept;
}

}  // namespace

features::FeatureMatrix volatility_only(const features::FeatureMatrix& m) {
    auto sign_free = [](const std::string& n) {
        if (n.rfind("x:", 0) == 0) return false;
        if (n.rfind("sent:", 0) == 0 || n.rfind("market:", 0) == 0) return n.ends_with(":std") || n.ends_with(":count");
        for (const char* k : {"atr(", "stddev(", "trange", "bb_width", "volatility(", "volume_ratio", "hl_ratio"})
            if (n.find(k) != std::string::npos) return true;
        return false;
    };
    std::vector<std::size_t> keep;
    std::size_t change = m.columns.size();
    for (std::size_t c = 0; c < m.columns.size(); ++c) {
        if (change == m.columns.size() && m.columns[c].ends_with(":pct_change(1)") && m.columns[c].rfind("x:", 0) != 0)
            change = c;
        if (sign_free(m.columns[c])) keep.push_back(c);
    }
    features::FeatureMatrix v;
    v.schema_hash = m.schema_hash;
    v.symbols = m.symbols;
    v.times = m.times;
    v.closes = m.closes;
    for (auto c : keep) v.columns.push_back(m.columns[c]);
    v.columns.push_back("|pct_change(1)|");
    const std::size_t w = m.columns.size();
    for (std::size_t r = 0; r < m.rows(); ++r) {
        bool complete = true;
        for (std::size_t c = 0; c < w; ++c) complete = complete && std::isfinite(m.values[r * w + c]);
        for (auto c : keep) v.values.push_back(complete ? m.values[r * w + c] : NAN);
        v.values.push_back(complete && change < w ? std::abs(m.values[r * w + change]) : NAN);
    }
    return v;
}

Duration bar_interval(const features::FeatureMatrix& m) {
    std::map<std::string, Timestamp> last;
    std::map<Duration, std::size_t> gaps;
    for (std::size_t i = 0; i < m.rows(); ++i) {
        if (auto it = last.find(m.symbols[i]); it != last.end()) ++gaps[m.times[i] - it->second];
        last[m.symbols[i]] = m.times[i];
    }
    if (gaps.empty()) return 0;
    return std::max_element(gaps.begin(), gaps.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
}

TrainedModel train_model(const models::Windows& w, const models::RowReturns& returns, const models::LabelConfig& labels,
                         std::span<const std::size_t> train, std::span<const std::size_t> valid, Timestamp next_from,
                         const ModelFactory& make, const models::ProgressFn& progress) {
    // Purged by where each label ends, not by time: the quantile thresholds too
    // are fit only on returns that end before what the model is checked on.
    Timestamp valid_from = next_from;
    for (auto i : valid) valid_from = std::min(valid_from, w.set.times[i]);
    const auto train_kept = labels_before(w, returns, train, valid_from);
    const auto valid_kept = labels_before(w, returns, valid, next_from);
    std::vector<std::size_t> train_rows;
    for (auto i : train_kept) train_rows.push_back(w.rows[i]);
    TrainedModel t{nullptr, models::Labeler(labels), {}, {}};
    t.labeler.fit(returns, train_rows);
    t.train = models::select(w, train_kept, t.labeler, returns);
    t.valid = models::select(w, valid_kept, t.labeler, returns);
    if (t.train.size() == 0) throw std::invalid_argument("no labeled training samples");
    t.model = make();
    t.model->fit(t.train, t.valid, progress);
    return t;
}

WalkForwardResult walk_forward_train(const features::FeatureMatrix& m, const models::LabelConfig& lc,
                                     WalkForwardConfig wf, const ModelFactory& make, const FoldObserver& observe,
                                     const models::ProgressFn& progress) {
    const auto returns = models::row_returns(m, lc);
    const auto probe = make();
    const auto windows = models::make_windows(m, probe->steps());
    wf.purge = bar_interval(m) * lc.horizon;
    const auto splits = walk_forward(windows.set.times, wf);

    WalkForwardResult r;
    std::vector<Trend> truth, majority_pred, persistence_pred;
    std::vector<ClassProbs> probs_all, majority_probs_all, persistence_probs_all;
    for (std::size_t k = 0; k < splits.size(); ++k) {
        const auto& s = splits[k];
        auto [model, labeler, train, valid] = train_model(windows, returns, lc, s.train, s.valid, s.test_from, make, progress);
        const auto test = models::select(windows, s.test, labeler, returns);
        if (test.size() == 0) throw std::invalid_argument(fmt::format("walk-forward fold {}: no labeled samples", k + 1));
        const auto probs = model->predict_proba(test);
        // The baselines are Models too, fit on the same training split.
        models::MajorityModel majority_model(model->feature_schema_hash());
        majority_model.fit(train, valid, {});
        const auto majority_probs = majority_model.predict_proba(test);
        const auto persistence_probs = models::PersistenceModel().predict_proba(test);
        const Trend maj = majority(train.labels);
        FoldResult f{s.test_from, s.test_to, train.size(), valid.size(), test.size(), shares(train.labels),
                     evaluate(test.labels, probs), evaluate(test.labels, majority_probs),
                     evaluate(test.labels, persistence_probs)};
        if (observe) observe(k, splits.size(), f);
        r.folds.push_back(f);
        truth.insert(truth.end(), test.labels.begin(), test.labels.end());
        probs_all.insert(probs_all.end(), probs.begin(), probs.end());
        majority_pred.insert(majority_pred.end(), test.size(), maj);
        majority_probs_all.insert(majority_probs_all.end(), majority_probs.begin(), majority_probs.end());
        persistence_probs_all.insert(persistence_probs_all.end(), persistence_probs.begin(), persistence_probs.end());
        persistence_pred.insert(persistence_pred.end(), test.last_realized.begin(), test.last_realized.end());
        r.last_model = std::move(model);
        r.last_labeler = labeler;
    }
    r.model = evaluate(truth, probs_all);
    r.majority = evaluate(truth, majority_probs_all);
    r.persistence = evaluate(truth, persistence_probs_all);
    r.test_balance = shares(truth);
    r.intervals = bootstrap(truth, probs_all, majority_pred, persistence_pred);
    return r;
}

nlohmann::json WalkForwardResult::to_json() const {
    nlohmann::json folds_json = nlohmann::json::array();
    for (std::size_t k = 0; k < folds.size(); ++k) {
        const auto& f = folds[k];
        folds_json.push_back({{"fold", k + 1}, {"test_from", format_iso8601(f.test_from)},
                              {"test_to", format_iso8601(f.test_to)}, {"train", f.train}, {"valid", f.valid},
                              {"test", f.test}, {"train_balance", f.train_balance}, {"model", f.model.to_json()},
                              {"majority", f.majority.to_json()}, {"persistence", f.persistence.to_json()}});
    }
    return {{"overall", {{"model", model.to_json()}, {"majority", majority.to_json()}, {"persistence", persistence.to_json()}}},
            {"intervals", intervals.to_json()},
            {"test_balance", test_balance},
            {"labels", last_labeler.to_json()},
            {"folds", folds_json}};
}

}  // namespace pricecast::training
