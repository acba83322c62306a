#include "models/lstm.hpp"

#include "models/lstm_kernel.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

namespace pricecast::models {
namespace {

struct NetworkImpl : torch::nn::Module {
    explicit NetworkImpl(const LstmConfig& c)
        : lstm(torch::nn::LSTMOptions(static_cast<std::int64_t>(c.width), static_cast<std::int64_t>(c.hidden))
                   .num_layers(static_cast<std::int64_t>(c.layers))
                   .dropout(c.dropout)
                   .batch_first(true)),
          attn(torch::nn::MultiheadAttentionOptions(static_cast<std::int64_t>(c.hidden), static_cast<std::int64_t>(c.heads))),
          fc1(static_cast<std::int64_t>(c.hidden), static_cast<std::int64_t>(c.head_hidden)),
          drop(c.head_dropout),
          fc2(static_cast<std::int64_t>(c.head_hidden), 3) {
        register_module("lstm", lstm);
        register_module("attn", attn);
        register_module("fc1", fc1);
        register_module("drop", drop);
        register_module("fc2", fc2);
    }
    // x: [batch, steps, width] -> logits [batch, 3]
    torch::Tensor forward(const torch::Tensor& x) {
        auto out = std::get<0>(lstm->forward(x));     // [B, L, H]
        auto seq = out.transpose(0, 1);               // the C++ attention has no batch_first: [L, B, H]
        // Only the last position's attention output is used, and each query
        // position attends independently: query with the last step alone.
        auto query = seq.slice(0, seq.size(0) - 1);   // [1, B, H]
        auto attended = std::get<0>(attn->forward(query, seq, seq, {}, /*need_weights=*/false));
        auto last = attended[0];                      // [B, H]
        return fc2(drop(torch::relu(fc1(last))));
    }
    torch::nn::LSTM lstm;
    torch::nn::MultiheadAttention attn;
    torch::nn::Linear fc1;
    torch::nn::Dropout drop;
    torch::nn::Linear fc2;
};
TORCH_MODULE(Network);

torch::Tensor to_tensor(const SampleSet& s) {
    return torch::from_blob(const_cast<float*>(s.values.data()),
                            {static_cast<std::int64_t>(s.size()), static_cast<std::int64_t>(s.steps), static_cast<std::int64_t>(s.width)},
                            torch::kFloat32)
        .clone();
}

torch::Tensor labels_of(const SampleSet& s) {
    std::vector<std::int64_t> y;
    for (auto l : s.labels) y.push_back(static_cast<std::int64_t>(l));
    return torch::tensor(y, torch::kInt64);
}

}  // namespace

struct LstmAttentionModel::Net {
    Network module;
    std::unique_ptr<LstmAttentionKernel> kernel;
};

void LstmAttentionModel::weights_changed() {
    NamedParameters params;
    std::vector<torch::Tensor> keep;  // contiguous float32 copies where a parameter is not one already
    for (const auto& item : net_->module->named_parameters()) {
        keep.push_back(item.value().detach().to(torch::kFloat32).contiguous());
        params.emplace(item.key(), std::span<const float>(keep.back().data_ptr<float>(), static_cast<std::size_t>(keep.back().numel())));
    }
    const LstmShape shape{cfg_.width, cfg_.steps, cfg_.hidden, cfg_.layers, cfg_.heads, cfg_.head_hidden};
    net_->kernel = std::make_unique<LstmAttentionKernel>(shape, params);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LstmConfig, width, steps, hidden, layers, heads, head_hidden, dropout,
                                                head_dropout, learning_rate, weight_decay, batch_size, max_epochs,
                                                early_stopping, lr_patience, lr_factor, grad_clip, class_weights, seed,
                                                threads, feature_schema_hash)

nlohmann::json LstmConfig::to_json() const { return *this; }
LstmConfig LstmConfig::from_json(const nlohmann::json& j) { return j.get<LstmConfig>(); }

LstmAttentionModel::LstmAttentionModel(LstmConfig cfg) : cfg_(std::move(cfg)) {
    if (cfg_.width > 0) {
        torch::manual_seed(cfg_.seed);
        net_ = std::make_unique<Net>(Net{Network(cfg_), nullptr});
        weights_changed();
    }
}
LstmAttentionModel::~LstmAttentionModel() = default;

void LstmAttentionModel::fit(const SampleSet& train_raw, const SampleSet& valid_raw, const ProgressFn& progress) {
    if (train_raw.size() == 0) throw std::invalid_argument("LSTM: no training samples");
    if (train_raw.steps != cfg_.steps) throw std::invalid_argument(fmt::format("LSTM: samples have {} steps, the model {}", train_raw.steps, cfg_.steps));
    torch::set_num_threads(cfg_.threads);
    cfg_.width = train_raw.width;
    torch::manual_seed(cfg_.seed);
    net_ = std::make_unique<Net>(Net{Network(cfg_), nullptr});
    auto& net = net_->module;

    scaler_.fit(train_raw);
    SampleSet train = train_raw, valid = valid_raw;
    scaler_.transform(train);
    if (valid.size()) scaler_.transform(valid);
    const auto x = torch::nan_to_num(to_tensor(train)), y = labels_of(train);
    const auto vx = valid.size() ? torch::nan_to_num(to_tensor(valid)) : torch::Tensor(), vy = valid.size() ? labels_of(valid) : torch::Tensor();

    auto loss_options = torch::nn::CrossEntropyLossOptions();
    if (cfg_.class_weights) {
        auto counts = torch::bincount(y, {}, 3).to(torch::kFloat32).clamp_min(1);
        loss_options.weight(counts.sum() / (3 * counts));
    }
    torch::nn::CrossEntropyLoss loss_fn(loss_options);
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(cfg_.learning_rate).weight_decay(cfg_.weight_decay));

    double best = std::numeric_limits<double>::infinity(), lr = cfg_.learning_rate;
    int since_best = 0, since_lr = 0, epoch = 0;
    std::vector<torch::Tensor> best_state;
    const auto n = x.size(0);
    for (epoch = 1; epoch <= cfg_.max_epochs; ++epoch) {
        net->train();
        const auto order = torch::randperm(n, torch::kInt64);
        double train_loss = 0;
        for (std::int64_t from = 0; from < n; from += cfg_.batch_size) {
            const auto idx = order.slice(0, from, std::min<std::int64_t>(from + cfg_.batch_size, n));
            opt.zero_grad();
            auto loss = loss_fn(net->forward(x.index_select(0, idx)), y.index_select(0, idx));
            loss.backward();
            torch::nn::utils::clip_grad_norm_(net->parameters(), cfg_.grad_clip);
            opt.step();
            train_loss += loss.item<double>() * static_cast<double>(idx.size(0));
        }
        TrainingProgress p{static_cast<std::size_t>(epoch), static_cast<std::size_t>(cfg_.max_epochs), train_loss / static_cast<double>(n)};
        p.learning_rate = lr;
        double monitored = p.train_loss;
        if (vx.defined()) {
            torch::NoGradGuard no_grad;
            net->eval();
            const auto logits = net->forward(vx);
            p.valid_loss = loss_fn(logits, vy).item<double>();
            p.valid_accuracy = logits.argmax(1).eq(vy).to(torch::kFloat64).mean().item<double>();
            monitored = p.valid_loss;
        }
        if (progress) progress(p);
        if (monitored < best - 1e-6) {
            best = monitored;
            since_best = since_lr = 0;
            best_state.clear();
            for (const auto& t : net->parameters()) best_state.push_back(t.detach().clone());
        } else {
            if (++since_lr >= cfg_.lr_patience) {  // ReduceLROnPlateau
                lr *= cfg_.lr_factor;
                for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
                since_lr = 0;
            }
            if (++since_best >= cfg_.early_stopping) break;
        }
    }
    {
        torch::NoGradGuard no_grad;
        auto params = net->parameters();
        for (std::size_t i = 0; i < params.size() && i < best_state.size(); ++i) params[i].copy_(best_state[i]);
    }
    weights_changed();
    summary_ = {{"epochs", std::min(epoch, cfg_.max_epochs)}, {"best_loss", best}, {"final_lr", lr}};
}

std::vector<ClassProbs> LstmAttentionModel::forward_raw(const std::vector<float>& input, std::size_t n,
                                                        LstmEngine engine) const {
    if (!net_) throw std::logic_error("LSTM used before fit or load");
    if (engine == LstmEngine::kernel) return net_->kernel->forward(input, n, static_cast<std::size_t>(std::max(cfg_.threads, 1)));
    // Inference mode skips autograd bookkeeping (version counters, views)
    // that no_grad still keeps: the tensors here never meet training.
    c10::InferenceMode inference;
    if (torch::get_num_threads() != cfg_.threads) torch::set_num_threads(cfg_.threads);
    auto& net = net_->module;
    net->eval();
    const auto x = torch::from_blob(const_cast<float*>(input.data()),
                                    {static_cast<std::int64_t>(n), static_cast<std::int64_t>(cfg_.steps), static_cast<std::int64_t>(cfg_.width)},
                                    torch::kFloat32);
    const auto p = torch::softmax(net->forward(x), 1).contiguous();
    std::vector<ClassProbs> out(n);
    const float* d = p.data_ptr<float>();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < kClasses; ++c) out[i][c] = d[i * kClasses + c];
    return out;
}

std::vector<ClassProbs> LstmAttentionModel::predict_proba(const SampleSet& batch) const {
    if (batch.size() == 0) return {};
    if (batch.steps != cfg_.steps || batch.width != cfg_.width)
        throw std::invalid_argument(fmt::format("LSTM: samples are {}x{}, the model reads {}x{}", batch.steps, batch.width,
                                                cfg_.steps, cfg_.width));
    SampleSet scaled = batch;
    scaler_.transform(scaled);
    for (auto& v : scaled.values)
        if (!std::isfinite(v)) v = 0;  // a missing feature sits at the training mean
    return forward_raw(scaled.values, scaled.size());
}

nlohmann::json LstmAttentionModel::describe() const {
    return {{"kind", "lstm"}, {"config", cfg_.to_json()}, {"scaler", scaler_.to_json()}, {"training", summary_}};
}

void LstmAttentionModel::save(const std::filesystem::path& dir) const {
    if (!net_) throw std::logic_error("LSTM saved before fit");
    std::filesystem::create_directories(dir);
    torch::save(net_->module, (dir / "weights.pt").string());
    std::ofstream(dir / "model.json") << describe().dump(2) << "\n";
}

void LstmAttentionModel::export_parameters(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    std::ofstream bin(dir / "weights.bin", std::ios::binary);
    nlohmann::json index = nlohmann::json::array();
    std::size_t offset = 0;
    for (const auto& item : net_->module->named_parameters()) {
        const auto t = item.value().detach().contiguous().to(torch::kFloat32);
        bin.write(reinterpret_cast<const char*>(t.data_ptr<float>()), static_cast<std::streamsize>(t.numel() * sizeof(float)));
        index.push_back({{"name", item.key()}, {"shape", t.sizes().vec()}, {"offset", offset}});
        offset += static_cast<std::size_t>(t.numel());
    }
    std::ofstream(dir / "index.json") << nlohmann::json{{"config", cfg_.to_json()}, {"parameters", index}}.dump(1);
}

std::unique_ptr<LstmAttentionModel> LstmAttentionModel::load(const std::filesystem::path& dir) {
    std::ifstream f(dir / "model.json");
    if (!f) throw std::runtime_error((dir / "model.json").string() + ": cannot open");
    try {
        const auto j = nlohmann::json::parse(f);
        if (j.at("kind") != "lstm") throw std::runtime_error((dir / "model.json").string() + ": not an LSTM model");
        auto m = std::make_unique<LstmAttentionModel>(LstmConfig::from_json(j.at("config")));
        torch::load(m->net_->module, (dir / "weights.pt").string());
        m->weights_changed();
        m->scaler_ = StandardScaler::from_json(j.at("scaler"));
        m->summary_ = j.value("training", nlohmann::json::object());
        return m;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error((dir / "model.json").string() + ": " + e.what());
    } catch (const c10::Error& e) {
        throw std::runtime_error((dir / "weights.pt").string() + ": " + e.what_without_backtrace());
    }
}

}  // namespace pricecast::models
