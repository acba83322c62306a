// LSTM with multi-head self-attention (libtorch), the original design's
// architecture: 2-layer LSTM (hidden 128, dropout 0.2, batch first), 8-head
// self-attention over its outputs, the last step -> Linear 64 -> ReLU ->
// Dropout 0.3 -> Linear 3. It outputs logits and trains with cross-entropy on
// them (the original applied softmax before CrossEntropyLoss, a bug); softmax
// only in predict_proba. Torch stays inside lstm.cpp.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/dataset.hpp"
#include "models/model.hpp"

namespace pricecast::models {

struct LstmConfig {
    std::size_t width = 0;  // features per step (set from the data at fit when 0)
    std::size_t steps = 60;
    std::size_t hidden = 128, layers = 2, heads = 8, head_hidden = 64;
    double dropout = 0.2, head_dropout = 0.3;
    double learning_rate = 1e-3, weight_decay = 0.01;  // AdamW
    int batch_size = 64, max_epochs = 200;
    int early_stopping = 20;                            // epochs without a better validation loss
    int lr_patience = 10;                               // ReduceLROnPlateau
    double lr_factor = 0.5, grad_clip = 1.0;
    bool class_weights = false;                         // inverse class frequency in the loss
    std::uint64_t seed = 1;
    int threads = 1;  // CPU threads of training (libtorch) and of inference on a batch (the kernel)
    std::uint64_t feature_schema_hash = 0;
    nlohmann::json to_json() const;
    static LstmConfig from_json(const nlohmann::json& j);
};

// Who runs inference: our fused kernel (models/lstm_kernel.hpp, the default and
// what every service uses) or libtorch's modules (the training graph; kept for
// checking the kernel and for the benchmark's comparison).
enum class LstmEngine { kernel, libtorch };

class LstmAttentionModel final : public Model {
public:
    explicit LstmAttentionModel(LstmConfig cfg);
    ~LstmAttentionModel() override;

    std::string kind() const override { return "lstm"; }
    std::size_t steps() const override { return cfg_.steps; }
    void fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) override;
    std::vector<ClassProbs> predict_proba(const SampleSet& batch) const override;
    void save(const std::filesystem::path& dir) const override;
    std::uint64_t feature_schema_hash() const override { return cfg_.feature_schema_hash; }
    nlohmann::json describe() const override;

    // Parameters by PyTorch's names (lstm.weight_ih_l0, attn.in_proj_weight, fc1.weight, ...)
    // into a raw float32 file plus a JSON index, for checking against python3-torch.
    void export_parameters(const std::filesystem::path& dir) const;
    // Probabilities on an unscaled input [n, steps, width] without the scaler
    // (the architecture alone, as the parity check runs it).
    std::vector<ClassProbs> forward_raw(const std::vector<float>& input, std::size_t n,
                                        LstmEngine engine = LstmEngine::kernel) const;

    // Reads a directory written by save().
    static std::unique_ptr<LstmAttentionModel> load(const std::filesystem::path& dir);

private:
    struct Net;
    void weights_changed();  // rebuilds the inference kernel from the module's parameters
    LstmConfig cfg_;
    std::unique_ptr<Net> net_;
    StandardScaler scaler_;
    nlohmann::json summary_;  // training summary (epochs, best validation loss)
};

// The two ways the rest of the code gets an LSTM: a fresh one to train, and a
// saved one (load_model dispatches here). Linked into the tests and benchmarks
// (lstm_linked.cpp); the pricecast binary instead loads the LSTM and libtorch
// on first use (lstm_loader.cpp), because libtorch costs every process that
// links it about 0.8 s and 2.5 billion instructions of start-up, which only
// the commands that train or serve an LSTM need.
// Both throw LstmModuleError when the binary cannot load the module: an
// installation problem, not the caller's input.
std::unique_ptr<Model> make_lstm(const LstmConfig& cfg);
std::unique_ptr<Model> load_lstm(const std::filesystem::path& dir);

class LstmModuleError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace pricecast::models
