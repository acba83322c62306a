// A weighted average of member models' probabilities, the weights fit on the
// validation tail (the original design's hybrid of the LSTM and tree models).
#pragma once

#include <memory>
#include <vector>

#include "models/model.hpp"

namespace pricecast::models {

class EnsembleModel final : public Model {
public:
    explicit EnsembleModel(std::vector<std::unique_ptr<Model>> members, std::uint64_t feature_schema_hash = 0);

    std::string kind() const override { return "ensemble"; }
    // The longest window any member reads; shorter members see its tail.
    std::size_t steps() const override;
    // Fits every member on the same split, then the weights: the point of a grid
    // over the simplex (step 0.05) with the least validation log loss.
    void fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) override;
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override;
    void save(const std::filesystem::path& dir) const override;  // member-<i>/ folders + model.json
    std::uint64_t feature_schema_hash() const override { return schema_hash_; }
    nlohmann::json describe() const override;
    const std::vector<double>& weights() const { return weights_; }

private:
    friend std::unique_ptr<Model> load_model(const std::filesystem::path& dir);
    std::vector<std::unique_ptr<Model>> members_;
    std::vector<double> weights_;
    std::uint64_t schema_hash_ = 0;
};

// The last `steps` vectors of every sample.
SampleSet tail_steps(const SampleSet& s, std::size_t steps);

}  // namespace pricecast::models
