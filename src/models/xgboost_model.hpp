// Gradient-boosted trees and random forest through XGBoost's C API
// (multi:softprob). Trees read the sample window flattened: the last vector and
// its lags. Trees need no scaling, so this model keeps no scaler.
#pragma once

#include <filesystem>
#include <memory>

#include "models/model.hpp"

namespace pricecast::models {

struct XgboostConfig {
    bool random_forest = false;  // one round of num_parallel_tree trees (XGBoost's RF mode)
    int rounds = 400;            // boosting rounds at most
    int early_stopping = 25;     // rounds without a better validation log loss
    double eta = 0.05;
    int max_depth = 5;
    double subsample = 0.8;
    double colsample = 0.8;      // per tree (GBDT) or per node (RF)
    int forest_trees = 200;      // RF
    double min_child_weight = 1;
    int threads = 2;
    std::uint64_t seed = 1;
    std::size_t steps = 1;              // window length read per sample
    std::uint64_t feature_schema_hash = 0;
    nlohmann::json to_json() const;
    static XgboostConfig from_json(const nlohmann::json& j);
};

class XgboostModel final : public Model {
public:
    explicit XgboostModel(XgboostConfig cfg);
    ~XgboostModel() override;
    // Reads a directory written by save(); throws std::runtime_error naming what is wrong.
    static std::unique_ptr<XgboostModel> load(const std::filesystem::path& dir);

    std::string kind() const override { return cfg_.random_forest ? "rf" : "gbdt"; }
    std::size_t steps() const override { return cfg_.steps; }
    void fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) override;
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override;
    void save(const std::filesystem::path& dir) const override;
    std::uint64_t feature_schema_hash() const override { return cfg_.feature_schema_hash; }
    nlohmann::json describe() const override;

private:
    struct Booster;
    XgboostConfig cfg_;
    std::unique_ptr<Booster> booster_;
    int best_rounds_ = 0;  // rounds used for prediction (early stopping's best)
};

}  // namespace pricecast::models
