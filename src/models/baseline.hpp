// The naive baselines every model is reported against, behind the same Model
// interface so they train, save, load, register and serve like any model.
#pragma once

#include "models/model.hpp"

namespace pricecast::models {

// Predicts the training split's class shares for every sample: its argmax is
// the majority class, and its log loss is that of the base rates.
class MajorityModel final : public Model {
public:
    explicit MajorityModel(std::uint64_t feature_schema_hash = 0) : schema_hash_(feature_schema_hash) {}
    static std::unique_ptr<MajorityModel> load(const std::filesystem::path& dir);

    std::string kind() const override { return "majority"; }
    std::size_t steps() const override { return 1; }
    void fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) override;
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override;
    void save(const std::filesystem::path& dir) const override;
    std::uint64_t feature_schema_hash() const override { return schema_hash_; }
    nlohmann::json describe() const override;

private:
    std::uint64_t schema_hash_;
    ClassProbs shares_{0, 1, 0};
};

// Repeats the class realized at sample time (SampleSet::last_realized), with
// probability 1 - 2 * kOther; the other classes get kOther each so the log loss
// stays finite.
class PersistenceModel final : public Model {
public:
    static constexpr float kOther = 0.01f;
    explicit PersistenceModel(std::uint64_t feature_schema_hash = 0) : schema_hash_(feature_schema_hash) {}
    static std::unique_ptr<PersistenceModel> load(const std::filesystem::path& dir);

    std::string kind() const override { return "persistence"; }
    std::size_t steps() const override { return 1; }
    void fit(const SampleSet&, const SampleSet&, const ProgressFn&) override {}
    // Throws std::invalid_argument when the batch carries no realized classes.
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override;
    void save(const std::filesystem::path& dir) const override;
    std::uint64_t feature_schema_hash() const override { return schema_hash_; }
    nlohmann::json describe() const override;

private:
    std::uint64_t schema_hash_;
};

}  // namespace pricecast::models
