// Model manager: loads the registry's champion/challenger, refuses bad versions
// while serving the old one, and swaps under concurrent prediction load.
#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "registry/registry.hpp"
#include "serving/live.hpp"
#include "serving/model_manager.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace pricecast;
using namespace pricecast::serving;

namespace {

constexpr std::uint64_t kSchema = 0x0123456789abcdefULL;

// A real (if tiny) model: predicts the class frequencies it was fit on, and
// keeps them in its artifact file, so every version answers recognisably.
class FrequencyModel : public models::Model {
public:
    FrequencyModel(models::ClassProbs probs, std::uint64_t schema) : probs_(probs), schema_(schema) {}

    static std::unique_ptr<models::Model> load(const fs::path& dir) {
        std::ifstream in(dir / "frequencies.json");
        if (!in) throw std::runtime_error("frequencies.json missing in " + dir.string());
        const auto j = nlohmann::json::parse(in);  // throws on a malformed file
        return std::make_unique<FrequencyModel>(j.at("probs").get<models::ClassProbs>(),
                                                std::stoull(j.at("schema").get<std::string>(), nullptr, 16));
    }

    std::string kind() const override { return "frequency"; }
    std::size_t steps() const override { return 1; }
    void fit(const models::SampleSet& train, const models::SampleSet&, const models::ProgressFn&) override {
        models::ClassProbs counts{};
        for (const auto l : train.labels) counts[static_cast<std::size_t>(l)] += 1;
        for (auto& c : counts) c /= static_cast<float>(train.labels.size());
        probs_ = counts;
    }
    std::vector<models::ClassProbs> predict_proba(const models::SampleSet& batch) const override {
        if (batch.steps != 1 || batch.width == 0) throw std::invalid_argument("FrequencyModel reads 1-step samples");
        return std::vector<models::ClassProbs>(batch.size(), probs_);
    }
    void save(const fs::path& dir) const override {
        std::ofstream(dir / "frequencies.json")
            << nlohmann::json{{"probs", probs_}, {"schema", registry::schema_hash_hex(schema_)}}.dump();
    }
    std::uint64_t feature_schema_hash() const override { return schema_; }
    nlohmann::json describe() const override { return {{"kind", kind()}, {"probs", probs_}}; }

private:
    models::ClassProbs probs_;
    std::uint64_t schema_;
};

std::unique_ptr<models::Model> load_frequency(const fs::path& dir) { return FrequencyModel::load(dir); }

models::SampleSet batch_of(std::size_t n) {
    models::SampleSet s;
    s.width = 4;
    s.values.assign(n * s.width, 0.5f);
    return s;
}

// Polls `done` until true; gives up after a minute (a hang guard, not a timing check).
template <class F>
bool eventually(F done) {
    for (int i = 0; i < 60'000; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

class ManagerTest : public ::testing::Test {
protected:
    test::TempDir root{"serving-test"};
    fs::path data_dir = root / "data";
    std::unique_ptr<registry::Registry> reg;  // closed before its folder goes
    std::map<int, models::ClassProbs> expected;  // version -> what it predicts
    int saved = 0;

    void SetUp() override { reg = std::make_unique<registry::Registry>(data_dir); }

    // Trains a FrequencyModel whose probabilities identify it and registers it.
    int register_model(double f1, std::uint64_t registered_schema = kSchema, std::uint64_t model_schema = kSchema) {
        const int downs = saved + 1;
        models::SampleSet train;
        for (int i = 0; i < 20; ++i) train.labels.push_back(i < downs ? models::Trend::down : models::Trend::stable);
        FrequencyModel m({}, model_schema);
        m.fit(train, {}, {});
        ++saved;
        registry::NewVersion meta;
        meta.metrics = {{"macro_f1", f1}};
        meta.eval_window = "w1";
        registry::ModelVersion v;
        if (registered_schema == model_schema) {
            v = registry::register_model(*reg, "m", m, meta);
            EXPECT_EQ(v.kind, "frequency");
            EXPECT_EQ(v.feature_schema_hash, model_schema);
            EXPECT_EQ(v.params, m.describe());
        } else {  // a registry row that disagrees with its model
            meta.artifact_dir = root / ("saved-" + std::to_string(saved));
            fs::create_directories(meta.artifact_dir);
            m.save(meta.artifact_dir);
            meta.feature_schema_hash = registered_schema;
            v = reg->register_version("m", meta);
        }
        expected[v.version] = m.predict_proba(batch_of(1))[0];
        return v.version;
    }

    static void flip_byte(const fs::path& file) {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        char c;
        f.seekg(2);
        f.get(c);
        f.seekp(2);
        f.put(static_cast<char>(c ^ 0x20));
    }
};

TEST_F(ManagerTest, LoadsChampionAndChallengerAndPredicts) {
    const int v1 = register_model(0.4), v2 = register_model(0.5);
    for (const auto& e : fs::directory_iterator(reg->root() / "artifacts" / "m"))  // register_model's scratch is gone
        EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();
    reg->promote("m", v1);
    reg->promote("m", v2, "challenger");
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    EXPECT_EQ(mm.refresh(), 2u);
    EXPECT_EQ(mm.refresh(), 0u);  // nothing changed

    const auto p = mm.predict("m", batch_of(3));
    EXPECT_EQ(p.version, v1);
    ASSERT_EQ(p.probs.size(), 3u);
    for (const auto& row : p.probs) EXPECT_EQ(row, expected[v1]);
    EXPECT_NE(expected[v1], expected[v2]);
    EXPECT_EQ(mm.predict("m", batch_of(1), Slot::challenger).version, v2);
    EXPECT_EQ(mm.current("m", Slot::challenger)->version.kind, "frequency");

    reg->remove_alias("m", "challenger");
    EXPECT_EQ(mm.refresh(), 1u);
    EXPECT_EQ(mm.current("m", Slot::challenger), nullptr);
    EXPECT_FALSE(mm.last_error("m"));
    const auto s = mm.stats();
    EXPECT_EQ(s.loads, 2u);
    EXPECT_EQ(s.swaps, 3u);
    EXPECT_EQ(s.predictions, 2u);
    EXPECT_EQ(s.load_failures, 0u);
}

TEST_F(ManagerTest, NothingToServeIsAClearError) {
    register_model(0.4);
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    mm.refresh();
    try {
        mm.predict("m", batch_of(1));
        FAIL();
    } catch (const ServingError& e) {
        EXPECT_STREQ(e.what(), "no champion loaded for model 'm'");
    }
    EXPECT_THROW(mm.predict("unwatched", batch_of(1)), ServingError);
    EXPECT_EQ(mm.stats().prediction_failures, 2u);
}

TEST_F(ManagerTest, InFlightPredictionsKeepTheOldModel) {
    const int v1 = register_model(0.4), v2 = register_model(0.5);
    reg->promote("m", v1);
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    mm.refresh();
    const auto held = mm.current("m");  // what a prediction in progress holds
    reg->promote("m", v2);
    EXPECT_EQ(mm.refresh(), 1u);
    EXPECT_EQ(mm.current("m")->version.version, v2);
    EXPECT_EQ(held->version.version, v1);
    EXPECT_EQ(held->model->predict_proba(batch_of(2))[1], expected[v1]);
}

TEST_F(ManagerTest, CorruptedArtifactKeepsServingTheOldModel) {
    const int v1 = register_model(0.4), v2 = register_model(0.5);
    reg->promote("m", v1);
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    mm.refresh();

    const fs::path file = reg->get("m", v2).artifact_dir / "frequencies.json";
    std::string original;
    {
        std::ifstream in(file, std::ios::binary);
        original.assign(std::istreambuf_iterator<char>(in), {});
    }
    flip_byte(file);
    reg->promote("m", v2);
    EXPECT_EQ(mm.refresh(), 0u);
    EXPECT_EQ(mm.predict("m", batch_of(1)).version, v1);
    const auto err = mm.last_error("m");
    ASSERT_TRUE(err);
    EXPECT_NE(err->find("champion version 2 of 'm' not loaded: model 'm' version 2: artifact file "
                        "'frequencies.json' is corrupted or was modified after registration: sha256 expected"),
              std::string::npos)
        << *err;
    EXPECT_NE(err->find("still serving version 1"), std::string::npos) << *err;
    EXPECT_EQ(mm.stats().load_failures, 1u);

    // Repaired, the next refresh takes it and the error clears.
    std::ofstream(file, std::ios::binary | std::ios::trunc) << original;
    EXPECT_EQ(mm.refresh(), 1u);
    EXPECT_EQ(mm.predict("m", batch_of(1)).version, v2);
    EXPECT_FALSE(mm.last_error("m"));
}

// The challenger promoted to champion, then a new challenger that fails to
// load: the old challenger is not kept in the challenger slot, where the
// champion would be A/B tested against itself.
TEST_F(ManagerTest, AFailedChallengerDoesNotLeaveTheChampionInTheChallengerSlot) {
    const int v1 = register_model(0.4), v2 = register_model(0.5), v3 = register_model(0.6);
    reg->promote("m", v1);
    reg->promote("m", v2, "challenger");
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    ASSERT_EQ(mm.refresh(), 2u);

    flip_byte(reg->get("m", v3).artifact_dir / "frequencies.json");
    reg->promote("m", v2);  // the experiment won
    reg->promote("m", v3, "challenger");
    EXPECT_EQ(mm.refresh(), 2u);  // champion v2 in, stale challenger out
    EXPECT_EQ(mm.current("m")->version.version, v2);
    EXPECT_FALSE(mm.current("m", Slot::challenger));
    ASSERT_TRUE(mm.last_error("m"));
    EXPECT_NE(mm.last_error("m")->find("challenger version 3 of 'm' not loaded"), std::string::npos)
        << *mm.last_error("m");
    EXPECT_NE(mm.last_error("m")->find("no challenger served (version 2 is the champion)"), std::string::npos)
        << *mm.last_error("m");
}

TEST_F(ManagerTest, SchemaMismatchKeepsServingTheOldModel) {
    const int v1 = register_model(0.4);
    const int other_schema = register_model(0.5, 0xdeadbeefULL, 0xdeadbeefULL);
    const int lying = register_model(0.6, kSchema, 0xdeadbeefULL);  // registry row says kSchema, the model disagrees
    reg->promote("m", v1);
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    mm.refresh();

    reg->promote("m", other_schema);
    mm.refresh();
    EXPECT_EQ(mm.predict("m", batch_of(1)).version, v1);
    EXPECT_NE(mm.last_error("m")->find("feature schema mismatch: the model was trained on schema 00000000deadbeef, "
                                       "the pipeline produces 0123456789abcdef"),
              std::string::npos)
        << *mm.last_error("m");

    reg->promote("m", lying);
    mm.refresh();
    EXPECT_EQ(mm.predict("m", batch_of(1)).version, v1);
    EXPECT_NE(mm.last_error("m")->find("the loaded model reports feature schema 00000000deadbeef"), std::string::npos)
        << *mm.last_error("m");
    EXPECT_EQ(mm.stats().load_failures, 2u);
}

TEST_F(ManagerTest, LoaderFailureKeepsServingTheOldModel) {
    const int v1 = register_model(0.4);
    const fs::path bad = root / "bad-artifact";
    fs::create_directories(bad);
    std::ofstream(bad / "frequencies.json") << "{\"probs\": [0.1, ";  // truncated
    registry::NewVersion v;
    v.artifact_dir = bad;
    v.feature_schema_hash = kSchema;
    v.metrics = {{"macro_f1", 0.9}};
    v.eval_window = "w1";
    const int v2 = reg->register_version("m", v).version;
    reg->promote("m", v1);
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    mm.refresh();
    reg->promote("m", v2);
    mm.refresh();
    EXPECT_EQ(mm.predict("m", batch_of(1)).version, v1);
    EXPECT_NE(mm.last_error("m")->find("champion version 2 of 'm' not loaded: [json.exception.parse_error"),
              std::string::npos)
        << *mm.last_error("m");
}

TEST_F(ManagerTest, BackgroundRefreshPicksUpPromotionsAndStopsPromptly) {
    const int v1 = register_model(0.4), v2 = register_model(0.5);
    reg->promote("m", v1);
    {
        ModelManager idle(data_dir, load_frequency);  // default 1h interval: stop must not wait it out
        idle.start();
        idle.stop();
    }
    ModelManager mm(data_dir, load_frequency, {.interval = std::chrono::milliseconds(5)});
    mm.watch("m", kSchema);
    mm.start();
    ASSERT_TRUE(eventually([&] { return mm.current("m") != nullptr; }));
    EXPECT_EQ(mm.current("m")->version.version, v1);
    reg->promote("m", v2);
    ASSERT_TRUE(eventually([&] { return mm.current("m")->version.version == v2; }));
    mm.stop();
    EXPECT_GE(mm.stats().refreshes, 2u);
}

TEST_F(ManagerTest, HotSwapUnderConcurrentPredictionLoad) {
    constexpr int kThreads = 4;
    constexpr std::uint64_t kPerPhase = 200;  // predictions every phase must see before the next swap
    std::vector<int> versions;
    for (int i = 0; i < 6; ++i) versions.push_back(register_model(0.40 + 0.01 * i));
    reg->promote("m", versions[0]);
    ModelManager mm(data_dir, load_frequency);
    mm.watch("m", kSchema);
    ASSERT_EQ(mm.refresh(), 1u);

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> done{0}, failed{0}, mixed{0};
    std::vector<std::set<int>> seen(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const auto batch = batch_of(16 + static_cast<std::size_t>(t));
            while (!stop.load()) {
                try {
                    const auto p = mm.predict("m", batch);
                    const auto want = expected.find(p.version);
                    if (want == expected.end() || p.probs.size() != batch.size()) ++mixed;
                    for (const auto& row : p.probs)
                        if (want != expected.end() && row != want->second) ++mixed;
                    seen[static_cast<std::size_t>(t)].insert(p.version);
                } catch (...) {
                    ++failed;
                }
                ++done;
            }
        });
    }
    const auto wait_for_load = [&] {
        const auto target = done.load() + kPerPhase;
        while (done.load() < target) std::this_thread::yield();
    };
    wait_for_load();
    for (std::size_t i = 1; i < versions.size(); ++i) {
        reg->promote("m", versions[i]);
        ASSERT_EQ(mm.refresh(), 1u);
        EXPECT_EQ(mm.current("m")->version.version, versions[i]);
        wait_for_load();
    }
    for (int back = 0; back < 2; ++back) {
        const int restored = reg->rollback("m", "hot swap test").to;
        ASSERT_EQ(mm.refresh(), 1u);
        EXPECT_EQ(mm.current("m")->version.version, restored);
        wait_for_load();
    }
    stop = true;
    for (auto& th : threads) th.join();

    EXPECT_EQ(failed.load(), 0u);
    EXPECT_EQ(mixed.load(), 0u);
    std::set<int> all;
    for (const auto& s : seen) all.insert(s.begin(), s.end());
    EXPECT_EQ(all, std::set<int>(versions.begin(), versions.end()));
    EXPECT_EQ(mm.stats().predictions, done.load());
    EXPECT_EQ(mm.stats().swaps, versions.size() + 2);  // initial load, 5 promotions, 2 rollbacks
}

// A model that reads windows of `steps` vectors (kept in its artifact) and
// refuses any other shape, as the LSTM does. `on_steps`, when set, runs once
// inside the next steps() call: the test's way to swap models at that point.
class WindowModel : public models::Model {
public:
    explicit WindowModel(std::size_t steps) : steps_(steps) {}
    static std::unique_ptr<models::Model> load(const fs::path& dir) {
        std::ifstream in(dir / "window.json");
        return std::make_unique<WindowModel>(nlohmann::json::parse(in).at("steps").get<std::size_t>());
    }
    static inline std::function<void()> on_steps;

    std::string kind() const override { return "window"; }
    std::size_t steps() const override {
        if (auto hook = std::exchange(on_steps, nullptr)) hook();
        return steps_;
    }
    void fit(const models::SampleSet&, const models::SampleSet&, const models::ProgressFn&) override {}
    std::vector<models::ClassProbs> predict_proba(const models::SampleSet& batch) const override {
        if (batch.steps != steps_)
            throw std::invalid_argument(fmt::format("samples have {} steps, the model reads {}", batch.steps, steps_));
        return std::vector<models::ClassProbs>(batch.size(), models::ClassProbs{0.2f, 0.3f, 0.5f});
    }
    void save(const fs::path& dir) const override {
        std::ofstream(dir / "window.json") << nlohmann::json{{"steps", steps_}}.dump();
    }
    std::uint64_t feature_schema_hash() const override { return kSchema; }
    nlohmann::json describe() const override { return {{"steps", steps_}}; }

private:
    std::size_t steps_;
};

// A promotion landing while the inference service shapes a batch (after it
// asked the champion for its window length, before the model call) must not
// hand that batch to the new champion, which reads another window length: the
// batch goes to the model it was shaped for, and the bar is predicted.
TEST_F(ManagerTest, ABatchGoesToTheModelItWasShapedForWhenASwapLandsMeanwhile) {
    const int v1 = registry::register_model(*reg, "w", WindowModel(1), {}).version;
    const int v2 = registry::register_model(*reg, "w", WindowModel(2), {}).version;
    reg->promote("w", v1);
    ModelManager mm(data_dir, WindowModel::load);
    mm.watch("w", kSchema);
    ASSERT_EQ(mm.refresh(), 1u);
    reg->promote("w", v2, "champion", {.force = true}, "a longer window");  // registry only: mm still serves v1

    auto bus = bus::make_in_process_bus();
    InferenceService service(*bus, mm, {.model = "w"});
    auto out = bus->subscribe("test", {bus::topics::predictions});
    WindowModel::on_steps = [&] { EXPECT_EQ(mm.refresh(), 1u); };  // swaps v2 in after v1 gave its steps
    features::FeatureVector fv{.schema_hash = kSchema, .symbol = "S", .close_time = kMinute, .close = 10,
                               .values = {1.0, 2.0}, .complete = true};
    bus->publish(bus::topics::features, "S", bus::encode(fv));
    std::jthread worker([&](std::stop_token stop) { service.run(stop); });
    ASSERT_TRUE(eventually([&] { return service.published() > 0 || mm.stats().prediction_failures > 0; }));
    worker.request_stop();
    worker.join();

    EXPECT_EQ(mm.current("w")->version.version, v2);  // the swap did land
    EXPECT_EQ(mm.stats().prediction_failures, 0u);
    ASSERT_EQ(service.published(), 1u);
    const auto m = out->poll(std::chrono::seconds(60));
    ASSERT_TRUE(m);
    const auto p = bus::decode_prediction(m->value);
    EXPECT_EQ(p.version, v1);
    EXPECT_EQ(p.bar_time, kMinute);
}

// An A/B test ending (the challenger alias removed, the manager refreshed)
// while a split bar is predicted, after the champion's arm and before the
// challenger's: the challenger's symbols still get that bar's prediction
// (from the challenger the bar started with), not none at all.
TEST_F(ManagerTest, AnABTestEndingMidBarLeavesNoSymbolWithoutAPrediction) {
    const int v1 = registry::register_model(*reg, "w", WindowModel(1), {}).version;
    const int v2 = registry::register_model(*reg, "w", WindowModel(1), {}).version;
    reg->promote("w", v1);
    reg->promote("w", v2, "challenger");
    ModelManager mm(data_dir, WindowModel::load);
    mm.watch("w", kSchema);
    ASSERT_EQ(mm.refresh(), 2u);
    reg->remove_alias("w", "challenger", "experiment over");  // registry only: mm still has v2

    auto bus = bus::make_in_process_bus();
    // ab_share 1: every symbol is in the challenger's arm.
    InferenceService service(*bus, mm, {.model = "w", .ab_mode = AbMode::split, .ab_share = 1.0});
    auto out = bus->subscribe("test", {bus::topics::predictions});
    const auto publish = [&](Timestamp close) {
        features::FeatureVector fv{.schema_hash = kSchema, .symbol = "S", .close_time = close, .close = 10,
                                   .values = {1.0}, .complete = true};
        bus->publish(bus::topics::features, "S", bus::encode(fv));
    };
    // The champion's (empty) arm asks its steps first: the experiment ends
    // there, and the next bar is sent.
    WindowModel::on_steps = [&] {
        EXPECT_EQ(mm.refresh(), 1u);
        publish(2 * kMinute);
    };
    publish(kMinute);
    std::jthread worker([&](std::stop_token stop) { service.run(stop); });
    std::map<Timestamp, Prediction> got;
    for (int i = 0; i < 600 && !got.contains(2 * kMinute); ++i)
        if (const auto m = out->poll(std::chrono::milliseconds(100))) {
            const auto p = bus::decode_prediction(m->value);
            got[p.bar_time] = p;
        }
    worker.request_stop();
    worker.join();

    EXPECT_FALSE(mm.current("w", Slot::challenger));  // the experiment did end
    ASSERT_TRUE(got.contains(kMinute)) << "the challenger's arm got no prediction for the bar";
    EXPECT_EQ(got[kMinute].version, v2);
    EXPECT_EQ(got[kMinute].slot, "challenger");
    ASSERT_TRUE(got.contains(2 * kMinute));
    EXPECT_EQ(got[2 * kMinute].version, v1);
    EXPECT_EQ(got[2 * kMinute].slot, "champion");
}

}  // namespace
