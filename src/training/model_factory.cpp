#include <stdexcept>

#include "models/baseline.hpp"
#include "models/ensemble.hpp"
#include "models/lstm.hpp"
#include "models/xgboost_model.hpp"
#include "training/trainer.hpp"

namespace pricecast::training {
namespace {

std::unique_ptr<models::Model> member(const ModelSpec& s, const std::string& kind, std::uint64_t schema_hash) {
    if (kind == "lstm") {
        models::LstmConfig net;
        net.steps = static_cast<std::size_t>(s.steps);
        net.max_epochs = s.epochs;
        net.seed = s.seed;
        if (s.threads > 0) net.threads = s.threads;
        net.feature_schema_hash = schema_hash;
        return models::make_lstm(net);
    }
    if (kind == "majority") return std::make_unique<models::MajorityModel>(schema_hash);
    if (kind == "persistence") return std::make_unique<models::PersistenceModel>(schema_hash);
    if (kind != "gbdt" && kind != "rf") throw std::invalid_argument("model: unknown kind '" + kind + "'");
    models::XgboostConfig c;
    c.random_forest = kind == "rf";
    c.rounds = s.rounds;
    c.seed = s.seed;
    if (s.threads > 0) c.threads = s.threads;
    c.steps = static_cast<std::size_t>(s.lags) + 1;
    c.feature_schema_hash = schema_hash;
    return std::make_unique<models::XgboostModel>(c);
}

}  // namespace

ModelFactory model_factory(const ModelSpec& spec, std::uint64_t feature_schema_hash) {
    return [spec, feature_schema_hash]() -> std::unique_ptr<models::Model> {
        if (spec.kind != "ensemble") return member(spec, spec.kind, feature_schema_hash);
        std::vector<std::unique_ptr<models::Model>> members;
        for (const auto& k : spec.members) members.push_back(member(spec, k, feature_schema_hash));
        return std::make_unique<models::EnsembleModel>(std::move(members), feature_schema_hash);
    };
}

}  // namespace pricecast::training
