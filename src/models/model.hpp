// The one Model interface every predictor implements (LSTM + attention,
// gradient-boosted trees, random forest, ensemble, baselines), and the sample
// layout they all read. Torch and XGBoost headers stay out of here: they live in
// the implementing .cpp files only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.hpp"

namespace pricecast::models {

// Class order is the column order of every probability row.
enum class Trend : std::uint8_t { down = 0, stable = 1, up = 2 };
inline constexpr std::size_t kClasses = 3;
using ClassProbs = std::array<float, kClasses>;
std::string_view to_string(Trend t);  // "DOWN", "STABLE", "UP"

// n samples, each a window of `steps` feature vectors of `width` values,
// oldest first, row-major: values[(i * steps + s) * width + f].
// Sequence models read the window as a sequence; tree models read it flattened
// (the last vector plus lags). Values are raw (unscaled) features: each model
// owns the StandardScaler it fit on its training split.
struct SampleSet {
    std::size_t steps = 1;
    std::size_t width = 0;
    std::vector<float> values;
    std::vector<Trend> labels;         // per sample; empty at inference
    std::vector<Trend> last_realized;  // class realized at sample time (persistence baseline)
    std::vector<Timestamp> times;      // close time of the sample's last bar

    std::size_t size() const { return (steps * width) == 0 ? 0 : values.size() / (steps * width); }
    std::span<const float> sample(std::size_t i) const {
        return {values.data() + i * steps * width, steps * width};
    }
};

// One line of training progress (epoch for the LSTM, boosting round for trees).
struct TrainingProgress {
    std::size_t step = 0, total_steps = 0;
    double train_loss = 0, valid_loss = 0, valid_accuracy = 0, learning_rate = 0;
};
using ProgressFn = std::function<void(const TrainingProgress&)>;

class Model {
public:
    virtual ~Model() = default;

    // "lstm", "gbdt", "rf", "ensemble", "majority", "persistence".
    virtual std::string kind() const = 0;
    // Window length the model reads per sample (SampleSet::steps it expects).
    virtual std::size_t steps() const = 0;
    // Fits on `train`; `valid` is the validation tail used for early stopping
    // (and for ensemble weights). Never sees the test split.
    virtual void fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) = 0;
    // One probability row per sample, columns in Trend order, each row sums to 1.
    virtual std::vector<ClassProbs> predict_proba(const SampleSet& batch) const = 0;
    // Writes the model (weights, scaler, params) into an empty directory.
    virtual void save(const std::filesystem::path& dir) const = 0;
    virtual std::uint64_t feature_schema_hash() const = 0;
    virtual nlohmann::json describe() const = 0;
};

// Reads any model saved by Model::save, by the kind in its model.json; throws
// std::runtime_error naming the file and the problem.
std::unique_ptr<Model> load_model(const std::filesystem::path& dir);

}  // namespace pricecast::models
