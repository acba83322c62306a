// load_model: the one way to read any saved model back, by the "kind" its
// model.json names.
#include <fstream>
#include <stdexcept>

#include "models/baseline.hpp"
#include "models/ensemble.hpp"
#include "models/lstm.hpp"
#include "models/xgboost_model.hpp"

namespace pricecast::models {

std::unique_ptr<Model> load_model(const std::filesystem::path& dir) {
    std::ifstream f(dir / "model.json");
    if (!f) throw std::runtime_error((dir / "model.json").string() + ": cannot open (not a saved model?)");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error((dir / "model.json").string() + ": " + e.what());
    }
    const std::string kind = j.value("kind", "");
    if (kind == "gbdt" || kind == "rf") return XgboostModel::load(dir);
    if (kind == "lstm") return load_lstm(dir);
    if (kind == "majority") return MajorityModel::load(dir);
    if (kind == "persistence") return PersistenceModel::load(dir);
    if (kind == "ensemble") {
        std::vector<std::unique_ptr<Model>> members;
        for (std::size_t m = 0; m < j.at("members").size(); ++m) members.push_back(load_model(dir / ("member-" + std::to_string(m))));
        auto e = std::make_unique<EnsembleModel>(std::move(members),
                                                 std::stoull(j.at("feature_schema_hash").get<std::string>(), nullptr, 16));
        e->weights_ = j.at("weights").get<std::vector<double>>();
        if (e->weights_.size() != e->members_.size())
            throw std::runtime_error((dir / "model.json").string() + ": weights and members differ in number");
        return e;
    }
    throw std::runtime_error((dir / "model.json").string() + ": unknown model kind '" + kind + "'");
}

}  // namespace pricecast::models
