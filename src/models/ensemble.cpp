#include "models/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace pricecast::models {
namespace {

double log_loss(const std::vector<std::vector<ClassProbs>>& p, const std::vector<double>& w, const std::vector<Trend>& y) {
    double loss = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        double q = 0;
        for (std::size_t m = 0; m < p.size(); ++m) q += w[m] * p[m][i][static_cast<std::size_t>(y[i])];
        loss -= std::log(std::clamp(q, 1e-15, 1.0));
    }
    return loss;
}

// Every weight vector on the simplex with coordinates in multiples of 1/steps.
void simplex_grid(std::size_t members, int steps, std::vector<double>& w, std::size_t k, int left,
                  const std::function<void(const std::vector<double>&)>& visit) {
    if (k + 1 == members) {
        w[k] = static_cast<double>(left) / steps;
        visit(w);
        return;
    }
    for (int i = 0; i <= left; ++i) {
        w[k] = static_cast<double>(i) / steps;
        simplex_grid(members, steps, w, k + 1, left - i, visit);
    }
}

}  // namespace

SampleSet tail_steps(const SampleSet& s, std::size_t steps) {
    if (steps >= s.steps) return s;
    SampleSet out = s;
    out.steps = steps;
    out.values.clear();
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto x = s.sample(i);
        out.values.insert(out.values.end(), x.end() - static_cast<std::ptrdiff_t>(steps * s.width), x.end());
    }
    return out;
}

EnsembleModel::EnsembleModel(std::vector<std::unique_ptr<Model>> members, std::uint64_t hash)
    : members_(std::move(members)), weights_(members_.size(), members_.empty() ? 0.0 : 1.0 / static_cast<double>(members_.size())),
      schema_hash_(hash) {
    if (members_.empty()) throw std::invalid_argument("an ensemble needs at least one member");
}

std::size_t EnsembleModel::steps() const {
    std::size_t s = 1;
    for (const auto& m : members_) s = std::max(s, m->steps());
    return s;
}

void EnsembleModel::fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) {
    for (auto& m : members_) m->fit(tail_steps(train, m->steps()), tail_steps(valid, m->steps()), progress);
    if (valid.size() == 0 || members_.size() == 1) return;  // equal weights
    std::vector<std::vector<ClassProbs>> p;
    for (const auto& m : members_) p.push_back(m->predict_proba(tail_steps(valid, m->steps())));
    std::vector<double> w(members_.size()), best = weights_;
    double best_loss = log_loss(p, weights_, valid.labels);
    simplex_grid(members_.size(), 20, w, 0, 20, [&](const std::vector<double>& cand) {
        if (const double l = log_loss(p, cand, valid.labels); l < best_loss - 1e-12) best_loss = l, best = cand;
    });
    weights_ = best;
}

std::vector<ClassProbs> EnsembleModel::predict_proba(const SampleSet& batch) const {
    std::vector<ClassProbs> out(batch.size(), ClassProbs{0, 0, 0});
    for (std::size_t m = 0; m < members_.size(); ++m) {
        if (weights_[m] == 0) continue;
        const auto p = members_[m]->predict_proba(tail_steps(batch, members_[m]->steps()));
        for (std::size_t i = 0; i < out.size(); ++i)
            for (std::size_t c = 0; c < kClasses; ++c) out[i][c] += static_cast<float>(weights_[m]) * p[i][c];
    }
    return out;
}

nlohmann::json EnsembleModel::describe() const {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& m : members_) members.push_back(m->kind());
    return {{"kind", "ensemble"}, {"members", members}, {"weights", weights_},
            {"feature_schema_hash", fmt::format("{:016x}", schema_hash_)}};
}

void EnsembleModel::save(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    for (std::size_t m = 0; m < members_.size(); ++m) members_[m]->save(dir / fmt::format("member-{}", m));
    std::ofstream(dir / "model.json") << describe().dump(2) << "\n";
}

}  // namespace pricecast::models
