#include "models/baseline.hpp"

#include <fstream>
#include <stdexcept>

namespace pricecast::models {
namespace {

void write_model_json(const std::filesystem::path& dir, const nlohmann::json& j) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "model.json") << j.dump(2) << "\n";
}

nlohmann::json read_model_json(const std::filesystem::path& dir) {
    std::ifstream f(dir / "model.json");
    if (!f) throw std::runtime_error((dir / "model.json").string() + ": cannot open");
    try {
        return nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error((dir / "model.json").string() + ": " + e.what());
    }
}

}  // namespace

void MajorityModel::fit(const SampleSet& train, const SampleSet&, const ProgressFn&) {
    if (train.labels.empty()) throw std::invalid_argument("majority baseline: no training labels");
    ClassProbs counts{};
    for (Trend t : train.labels) ++counts[static_cast<std::size_t>(t)];
    for (std::size_t c = 0; c < kClasses; ++c) shares_[c] = counts[c] / static_cast<float>(train.labels.size());
}

std::vector<ClassProbs> MajorityModel::predict_proba(const SampleSet& batch) const {
    return std::vector<ClassProbs>(batch.size(), shares_);
}

nlohmann::json MajorityModel::describe() const {
    return {{"kind", kind()}, {"feature_schema_hash", schema_hash_}, {"shares", shares_}};
}

void MajorityModel::save(const std::filesystem::path& dir) const { write_model_json(dir, describe()); }

std::unique_ptr<MajorityModel> MajorityModel::load(const std::filesystem::path& dir) {
    const auto j = read_model_json(dir);
    try {
        auto m = std::make_unique<MajorityModel>(j.at("feature_schema_hash").get<std::uint64_t>());
        m->shares_ = j.at("shares").get<ClassProbs>();
        return m;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error((dir / "model.json").string() + ": " + e.what());
    }
}

std::vector<ClassProbs> PersistenceModel::predict_proba(const SampleSet& batch) const {
    if (batch.last_realized.size() != batch.size())
        throw std::invalid_argument("persistence baseline: the batch carries no realized classes (last_realized)");
    std::vector<ClassProbs> out;
    out.reserve(batch.size());
    for (Trend t : batch.last_realized) {
        ClassProbs p{kOther, kOther, kOther};
        p[static_cast<std::size_t>(t)] = 1 - 2 * kOther;
        out.push_back(p);
    }
    return out;
}

nlohmann::json PersistenceModel::describe() const {
    return {{"kind", kind()}, {"feature_schema_hash", schema_hash_}};
}

void PersistenceModel::save(const std::filesystem::path& dir) const { write_model_json(dir, describe()); }

std::unique_ptr<PersistenceModel> PersistenceModel::load(const std::filesystem::path& dir) {
    const auto j = read_model_json(dir);
    try {
        return std::make_unique<PersistenceModel>(j.at("feature_schema_hash").get<std::uint64_t>());
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error((dir / "model.json").string() + ": " + e.what());
    }
}

}  // namespace pricecast::models
