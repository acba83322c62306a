// A running API server over real parts for the API tests: a registry with a
// tiny saved model, a ModelManager, the stores and an in-process bus.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/api.hpp"
#include "bus/bus.hpp"
#include "monitor/monitor.hpp"
#include "registry/registry.hpp"
#include "serving/model_manager.hpp"
#include "serving/stores.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::test {

// Answers fixed probabilities; reads samples of `steps` x the width it was saved with.
class ConstantModel : public models::Model {
public:
    ConstantModel(models::ClassProbs probs, std::size_t steps, std::size_t width, std::uint64_t schema)
        : probs_(probs), steps_(steps), width_(width), schema_(schema) {}

    static std::unique_ptr<models::Model> load(const std::filesystem::path& dir) {
        std::ifstream in(dir / "constant.json");
        const auto j = nlohmann::json::parse(in);
        return std::make_unique<ConstantModel>(j.at("probs").get<models::ClassProbs>(),
                                               j.at("steps").get<std::size_t>(), j.at("width").get<std::size_t>(),
                                               std::stoull(j.at("schema").get<std::string>(), nullptr, 16));
    }
    std::string kind() const override { return "constant"; }
    std::size_t steps() const override { return steps_; }
    void fit(const models::SampleSet&, const models::SampleSet&, const models::ProgressFn&) override {}
    std::vector<models::ClassProbs> predict_proba(const models::SampleSet& b) const override {
        if (b.steps != steps_ || b.width != width_) throw std::invalid_argument("ConstantModel: wrong sample shape");
        std::lock_guard lock(seen_mutex());
        last_values() = b.values;
        return std::vector<models::ClassProbs>(b.size(), probs_);
    }
    // The values of the last sample any ConstantModel was asked about, in the
    // order it read them: what the API handed the model.
    static std::vector<float> last_seen() {
        std::lock_guard lock(seen_mutex());
        return last_values();
    }
    void save(const std::filesystem::path& dir) const override {
        std::ofstream(dir / "constant.json") << nlohmann::json{
            {"probs", probs_},
            {"steps", steps_},
            {"width", width_},
            {"schema",
             registry::schema_hash_hex(schema_)}}.dump();
    }
    std::uint64_t feature_schema_hash() const override { return schema_; }
    nlohmann::json describe() const override { return {{"kind", kind()}, {"probs", probs_}}; }

private:
    static std::mutex& seen_mutex() {
        static std::mutex m;
        return m;
    }
    static std::vector<float>& last_values() {
        static std::vector<float> v;
        return v;
    }
    models::ClassProbs probs_;
    std::size_t steps_, width_;
    std::uint64_t schema_;
};

inline features::FeatureSchema test_schema() {
    std::vector<features::FeatureColumn> cols;
    // Not in alphabetical order, as a real schema is not: a JSON object's keys come sorted.
    for (const char* n : {"1m:d", "1m:b", "1m:c", "1m:a"}) cols.push_back({n, features::ColumnKind::derived, "1m", n});
    return features::FeatureSchema(cols);
}

inline constexpr std::size_t kSteps = 3;
inline const std::string kModel = "m";
inline const std::string kReadKey = "read-key-1234", kAdminKey = "admin-key-5678";

struct ApiEnv {
    TempDir root{"api-test"};  // declared first: goes after everything that writes into it
    std::filesystem::path data_dir;
    features::FeatureSchema schema = test_schema();
    serving::PredictionStore predictions;
    serving::FeatureStore features;
    serving::BarStore bars;
    std::unique_ptr<bus::Bus> bus = bus::make_in_process_bus();
    std::unique_ptr<serving::ModelManager> models;
    std::unique_ptr<monitor::PredictionLog> log;
    std::unique_ptr<api::Server> server;

    // `symbols`: those the news route accepts (empty: any).
    explicit ApiEnv(api::ServerOptions options = {}, bool with_model = true, std::vector<std::string> symbols = {}) {
        data_dir = root / "data";
        models = std::make_unique<serving::ModelManager>(data_dir, ConstantModel::load);
        models->watch(kModel, schema.hash());
        if (with_model) {
            const int v = register_version(0.4, {0.1f, 0.2f, 0.7f});
            registry::Registry reg(data_dir);
            reg.promote(kModel, v);
            models->refresh();
        }
        api::Services s;
        s.predictions = &predictions;
        s.features = &features;
        s.bars = &bars;
        s.models = models.get();
        s.model_name = kModel;
        s.schema = &schema;
        s.data_dir = data_dir;
        s.bus = bus.get();
        log = std::make_unique<monitor::PredictionLog>(monitor::PredictionLog::default_path(data_dir));
        s.prediction_log = log.get();
        s.symbols = std::move(symbols);
        options.port = 0;
        server = std::make_unique<api::Server>(s, options);
        server->start();
    }
    ~ApiEnv() {
        server.reset();
        models.reset();
    }

    int register_version(double f1, models::ClassProbs probs) {
        registry::Registry reg(data_dir);
        ConstantModel m(probs, kSteps, schema.size(), schema.hash());
        registry::NewVersion meta;
        meta.metrics = {{"macro_f1", f1}};
        meta.eval_window = "w1";
        return registry::register_model(reg, kModel, m, meta).version;
    }

    int port() const { return server->port(); }
};

inline Prediction make_prediction(const std::string& symbol, Timestamp bar_time, int cls = 2) {
    Prediction p;
    p.symbol = symbol;
    p.bar_time = bar_time;
    p.feature_time = bar_time;
    p.model = kModel;
    p.version = 1;
    p.cls = cls;
    p.probs = {0.1f, 0.2f, 0.7f};
    p.confidence = 0.7;
    p.close = 100.5;
    p.latency = 1'500'000;
    p.published_at = bar_time + 2'000'000;
    return p;
}

// A one-minute bar closing at `close_time`.
inline Bar make_bar(const std::string& symbol, Timestamp close_time, double close = 100.5) {
    Bar b;
    b.symbol = symbol;
    b.interval = 60'000'000'000;
    b.open_time = close_time - b.interval;
    b.close_time = close_time;
    b.open = 100;
    b.high = 101;
    b.low = 99.5;
    b.close = close;
    b.volume = 12.5;
    b.trade_count = 7;
    return b;
}

}  // namespace pricecast::test
