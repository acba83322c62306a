// make_lstm and load_lstm for programs that link libtorch themselves: the
// tests and benchmarks (see lstm_loader.cpp for the pricecast binary).
#include "models/lstm.hpp"

namespace pricecast::models {

std::unique_ptr<Model> make_lstm(const LstmConfig& cfg) { return std::make_unique<LstmAttentionModel>(cfg); }

std::unique_ptr<Model> load_lstm(const std::filesystem::path& dir) { return LstmAttentionModel::load(dir); }

}  // namespace pricecast::models
