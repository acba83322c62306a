// How the inference service batches a bar close: the symbols that closed
// together reach the model in one call, even when their vectors trickle in.
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "models/baseline.hpp"
#include "registry/registry.hpp"
#include "serving/live.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::serving {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint64_t kSchema = 78;
const std::string kModel = "batching";

// The rows of every call the served model gets.
class Counted final : public models::Model {
public:
    Counted(std::unique_ptr<models::Model> inner, std::mutex& mutex, std::vector<std::size_t>& calls)
        : inner_(std::move(inner)), mutex_(mutex), calls_(calls) {}
    std::string kind() const override { return inner_->kind(); }
    std::size_t steps() const override { return inner_->steps(); }
    void fit(const models::SampleSet& t, const models::SampleSet& v, const models::ProgressFn& p) override {
        inner_->fit(t, v, p);
    }
    std::vector<models::ClassProbs> predict_proba(const models::SampleSet& batch) const override {
        std::lock_guard lock(mutex_);
        calls_.push_back(batch.size());
        return inner_->predict_proba(batch);
    }
    void save(const fs::path& dir) const override { inner_->save(dir); }
    std::uint64_t feature_schema_hash() const override { return inner_->feature_schema_hash(); }
    nlohmann::json describe() const override { return inner_->describe(); }

private:
    std::unique_ptr<models::Model> inner_;
    std::mutex& mutex_;
    std::vector<std::size_t>& calls_;
};

class Batching : public ::testing::Test {
protected:
    void SetUp() override {
        registry::Registry reg(dir_.path());
        models::MajorityModel m(kSchema);
        models::SampleSet train;
        train.width = 1;
        train.values = {0.f};
        train.labels = {models::Trend::up};
        m.fit(train, {}, {});
        reg.promote(kModel, registry::register_model(reg, kModel, m, {}).version, "champion", {.force = true}, "test");
    }
    void publish(bus::Bus& bus, int symbol, Timestamp close) {
        const auto name = fmt::format("S{:02d}", symbol);
        features::FeatureVector v{.schema_hash = kSchema, .symbol = name, .close_time = close, .close = 10,
                                  .values = {1.0}, .complete = true};
        bus.publish(bus::topics::features, name, bus::encode(v));
    }

    std::vector<std::size_t> calls() {
        std::lock_guard lock(mutex_);
        return calls_;
    }

    test::TempDir dir_{"batching"};
    std::mutex mutex_;
    std::vector<std::size_t> calls_;
};

// The second close comes in over longer than batch_wait, each vector well
// within it of the one before: one call still, not a partial batch cut off
// batch_wait after the first vector.
TEST_F(Batching, ACloseTricklingInWithinBatchWaitOfEachVectorIsOneCall) {
    constexpr int kSymbols = 8;
    auto bus = bus::make_in_process_bus();
    ModelManager models(dir_.path(), [&](const fs::path& d) {
        return std::make_unique<Counted>(models::load_model(d), mutex_, calls_);
    });
    models.watch(kModel, kSchema);
    models.refresh();
    InferenceService service(*bus, models, {.model = kModel, .batch_wait = 1500ms});
    auto out = bus->subscribe("test", {bus::topics::predictions});
    // The first close is queued whole before the service starts: one call.
    for (int s = 0; s < kSymbols; ++s) publish(*bus, s, kMinute);
    std::jthread worker([&](std::stop_token stop) { service.run(stop); });
    const auto wait_for = [&](std::uint64_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (service.published() < n && std::chrono::steady_clock::now() < deadline) out->poll(50ms);
        return service.published();
    };
    ASSERT_EQ(wait_for(kSymbols), kSymbols);
    // The spacing is the input under test, not synchronisation: 8 x 300 ms
    // spans 2.4 s, past batch_wait, with 300 ms between vectors.
    for (int s = 0; s < kSymbols; ++s) {
        std::this_thread::sleep_for(300ms);
        publish(*bus, s, 2 * kMinute);
    }
    ASSERT_EQ(wait_for(2 * kSymbols), 2 * kSymbols);
    const auto got = calls();
    ASSERT_EQ(got.size(), 2u) << "the trickling close was split";
    EXPECT_EQ(got[1], static_cast<std::size_t>(kSymbols));
}

// A close that stops short (a symbol's bar never comes) goes to the model
// batch_wait after its last vector, without the missing one.
TEST_F(Batching, ACloseMissingASymbolIsPredictedAfterBatchWait) {
    auto bus = bus::make_in_process_bus();
    ModelManager models(dir_.path(), [&](const fs::path& d) {
        return std::make_unique<Counted>(models::load_model(d), mutex_, calls_);
    });
    models.watch(kModel, kSchema);
    models.refresh();
    InferenceService service(*bus, models, {.model = kModel, .batch_wait = 200ms});
    for (int s = 0; s < 4; ++s) publish(*bus, s, kMinute);
    for (int s = 0; s < 3; ++s) publish(*bus, s, 2 * kMinute);
    std::jthread worker([&](std::stop_token stop) { service.run(stop); });
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (service.published() < 7 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(service.published(), 7u);
    const auto got = calls();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back(), 3u);
}

}  // namespace
}  // namespace pricecast::serving
