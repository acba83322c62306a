#include "models/xgboost_model.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <xgboost/c_api.h>

namespace pricecast::models {
namespace {

void check(int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(fmt::format("XGBoost {}: {}", what, XGBGetLastError()));
}

// A DMatrix over a SampleSet's flattened windows; NaN is "missing".
struct Matrix {
    DMatrixHandle h = nullptr;
    Matrix(const SampleSet& s, bool with_labels) {
        const auto cols = s.steps * s.width;
        check(XGDMatrixCreateFromMat(s.values.data(), s.size(), cols, std::numeric_limits<float>::quiet_NaN(), &h),
              "DMatrix");
        if (with_labels) {
            std::vector<float> y;
            for (auto l : s.labels) y.push_back(static_cast<float>(l));
            check(XGDMatrixSetFloatInfo(h, "label", y.data(), y.size()), "labels");
        }
    }
    ~Matrix() { XGDMatrixFree(h); }
    Matrix(const Matrix&) = delete;
    Matrix& operator=(const Matrix&) = delete;
};

double parse_eval(const char* text) {
    // "[3]\tvalid-mlogloss:0.923"
    const std::string s(text);
    const auto colon = s.rfind(':');
    return colon == std::string::npos ? NAN : std::stod(s.substr(colon + 1));
}

}  // namespace

struct XgboostModel::Booster {
    BoosterHandle h = nullptr;
    ~Booster() { XGBoosterFree(h); }
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(XgboostConfig, random_forest, rounds, early_stopping, eta, max_depth,
                                                subsample, colsample, forest_trees, min_child_weight, threads, seed, steps,
                                                feature_schema_hash)

nlohmann::json XgboostConfig::to_json() const { return *this; }
XgboostConfig XgboostConfig::from_json(const nlohmann::json& j) { return j.get<XgboostConfig>(); }

XgboostModel::XgboostModel(XgboostConfig cfg) : cfg_(std::move(cfg)) {}
XgboostModel::~XgboostModel() = default;

void XgboostModel::fit(const SampleSet& train, const SampleSet& valid, const ProgressFn& progress) {
    if (train.size() == 0) throw std::invalid_argument("XGBoost: no training samples");
    Matrix dtrain(train, true);
    std::unique_ptr<Matrix> dvalid = valid.size() ? std::make_unique<Matrix>(valid, true) : nullptr;
    booster_ = std::make_unique<Booster>();
    DMatrixHandle cache[] = {dtrain.h, dvalid ? dvalid->h : dtrain.h};
    check(XGBoosterCreate(cache, dvalid ? 2 : 1, &booster_->h), "booster");
    auto set = [&](const char* k, const std::string& v) { check(XGBoosterSetParam(booster_->h, k, v.c_str()), k); };
    set("objective", "multi:softprob");
    set("num_class", "3");
    set("eval_metric", "mlogloss");
    set("tree_method", "hist");
    set("nthread", std::to_string(cfg_.threads));
    set("seed", std::to_string(cfg_.seed));
    set("max_depth", std::to_string(cfg_.max_depth));
    set("min_child_weight", fmt::format("{}", cfg_.min_child_weight));
    set("subsample", fmt::format("{}", cfg_.subsample));
    set("verbosity", "0");
    if (cfg_.random_forest) {
        set("num_parallel_tree", std::to_string(cfg_.forest_trees));
        set("colsample_bynode", fmt::format("{}", cfg_.colsample));
        set("eta", "1");
    } else {
        set("colsample_bytree", fmt::format("{}", cfg_.colsample));
        set("eta", fmt::format("{}", cfg_.eta));
    }
    const int rounds = cfg_.random_forest ? 1 : cfg_.rounds;
    double best = std::numeric_limits<double>::infinity();
    best_rounds_ = 0;
    for (int it = 0; it < rounds; ++it) {
        check(XGBoosterUpdateOneIter(booster_->h, it, dtrain.h), "update");
        TrainingProgress p{static_cast<std::size_t>(it + 1), static_cast<std::size_t>(rounds)};
        if (dvalid) {
            const char* names[] = {"valid"};
            const char* out = nullptr;
            check(XGBoosterEvalOneIter(booster_->h, it, &dvalid->h, names, 1, &out), "eval");
            p.valid_loss = parse_eval(out);
            if (p.valid_loss < best - 1e-9) best = p.valid_loss, best_rounds_ = it + 1;
        } else {
            best_rounds_ = it + 1;
        }
        if (progress) progress(p);
        if (dvalid && it + 1 - best_rounds_ >= cfg_.early_stopping) break;
    }
}

std::vector<ClassProbs> XgboostModel::predict_proba(const SampleSet& batch) const {
    if (!booster_) throw std::logic_error("XGBoost model used before fit or load");
    if (batch.size() == 0) return {};
    Matrix d(batch, false);
    const auto config = fmt::format(R"({{"type":0,"training":false,"iteration_begin":0,"iteration_end":{},"strict_shape":false}})",
                                    best_rounds_);
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    check(XGBoosterPredictFromDMatrix(booster_->h, d.h, config.c_str(), &shape, &dim, &out), "predict");
    std::vector<ClassProbs> p(batch.size());
    for (std::size_t i = 0; i < p.size(); ++i)
        for (std::size_t c = 0; c < kClasses; ++c) p[i][c] = out[i * kClasses + c];
    return p;
}

nlohmann::json XgboostModel::describe() const {
    return {{"kind", kind()}, {"config", cfg_.to_json()}, {"best_rounds", best_rounds_}};
}

void XgboostModel::save(const std::filesystem::path& dir) const {
    if (!booster_) throw std::logic_error("XGBoost model saved before fit");
    std::filesystem::create_directories(dir);
    check(XGBoosterSaveModel(booster_->h, (dir / "booster.json").c_str()), "save");
    std::ofstream(dir / "model.json") << describe().dump(2) << "\n";
}

std::unique_ptr<XgboostModel> XgboostModel::load(const std::filesystem::path& dir) {
    std::ifstream f(dir / "model.json");
    if (!f) throw std::runtime_error((dir / "model.json").string() + ": cannot open");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(f);
        auto m = std::make_unique<XgboostModel>(XgboostConfig::from_json(j.at("config")));
        m->best_rounds_ = j.at("best_rounds");
        m->booster_ = std::make_unique<Booster>();
        check(XGBoosterCreate(nullptr, 0, &m->booster_->h), "booster");
        check(XGBoosterLoadModel(m->booster_->h, (dir / "booster.json").c_str()), "load");
        // A loaded model serves predictions, mostly a few rows at a time next
        // to other busy threads: an OpenMP team there waits on descheduled
        // members (measured: 7.8 ms per call on a loaded 2-core machine
        // against 17 us with one thread).
        check(XGBoosterSetParam(m->booster_->h, "nthread", "1"), "nthread");
        return m;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error((dir / "model.json").string() + ": " + e.what());
    }
}

}  // namespace pricecast::models
