// A/B traffic in the inference service: which symbols a split sends to the
// challenger (a stable hash, the same after a restart, about `share` of
// them), what is served and what is only logged in each mode.
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "models/baseline.hpp"
#include "registry/registry.hpp"
#include "serving/live.hpp"

namespace pricecast::serving {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(AbArm, PointIsFnv1aMixedByFmix64) {
    // FNV-1a 64 of "" is cbf29ce484222325 and of "a" af63dc4c8601ec8c (the
    // published test vectors); fmix64 of those, computed in Python, are:
    EXPECT_EQ(ab_point(""), std::ldexp(static_cast<double>(0xefd01f60ba992926ull >> 11), -53));
    EXPECT_EQ(ab_point("a"), std::ldexp(static_cast<double>(0x82a2a958a9bece5bull >> 11), -53));
    EXPECT_EQ(ab_point("BTCUSDT"), std::ldexp(static_cast<double>(0x094e13c8beca0692ull >> 11), -53));
}

TEST(AbArm, ShareOfManySymbolsIsAboutTheConfiguredShare) {
    for (const double share : {0.1, 0.3, 0.5}) {
        std::size_t challenger = 0;
        constexpr std::size_t n = 20'000;
        for (std::size_t i = 0; i < n; ++i)
            challenger += ab_arm(fmt::format("SYM{:05d}", i), share) == Slot::challenger;
        // Binomial sd at n = 20000 is at most 0.0036: 0.015 is over 4 sd.
        EXPECT_NEAR(static_cast<double>(challenger) / n, share, 0.015) << "share " << share;
    }
    EXPECT_EQ(ab_arm("BTCUSDT", 0.0), Slot::champion);
    EXPECT_EQ(ab_arm("BTCUSDT", 1.0), Slot::challenger);
}

TEST(AbArm, ModeNamesAndBadShare) {
    EXPECT_EQ(parse_ab_mode("shadow"), AbMode::shadow);
    EXPECT_EQ(parse_ab_mode("split"), AbMode::split);
    EXPECT_FALSE(parse_ab_mode("Split"));
    EXPECT_EQ(to_string(AbMode::split), "split");
    auto bus = bus::make_in_process_bus();
    ModelManager models(fs::temp_directory_path(), models::load_model);
    for (const double bad : {-0.1, 1.5, std::nan("")}) {
        try {
            InferenceService s(*bus, models, {.model = "m", .ab_mode = AbMode::split, .ab_share = bad});
            ADD_FAILURE() << "accepted ab_share " << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("ab_share"), std::string::npos) << e.what();
        }
    }
}

TEST(AbArm, SplitFlagCrossesTheBusAndDefaultsToUnservedWhenAbsent) {
    Prediction p;
    p.slot = "challenger";
    p.ab_split = true;
    EXPECT_TRUE(bus::decode_prediction(bus::encode(p)).ab_split);
    auto j = nlohmann::json::parse(bus::encode(p));
    j.erase("ab_split");  // a message from before A/B splits
    EXPECT_FALSE(bus::decode_prediction(j.dump()).ab_split);
    j["ab_split"] = "yes";
    EXPECT_THROW(bus::decode_prediction(j.dump()), bus::MessageError);
}

constexpr std::uint64_t kSchema = 77;
const std::string kModel = "ab";

// Two majority models told apart by their answer: the champion always says
// DOWN, the challenger UP.
int register_constant(registry::Registry& reg, models::Trend answer) {
    models::MajorityModel m(kSchema);
    models::SampleSet train;
    train.width = 1;
    train.values = {0.f};
    train.labels = {answer};
    m.fit(train, {}, {});
    return registry::register_model(reg, kModel, m, {}).version;
}

class AbTraffic : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("pricecast-ab-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        registry::Registry reg(dir_);
        reg.promote(kModel, register_constant(reg, models::Trend::down), "champion", {.force = true}, "test");
        reg.promote(kModel, register_constant(reg, models::Trend::up), "challenger");
        for (int i = 0; i < 60; ++i) symbols_.push_back(fmt::format("S{:02d}", i));
    }
    void TearDown() override { fs::remove_all(dir_); }

    // One bar of every symbol through a fresh service (as after a restart);
    // returns the predictions it published, by (symbol, slot).
    std::map<std::pair<std::string, std::string>, Prediction> run(AbMode mode, double share) {
        auto bus = bus::make_in_process_bus();
        ModelManager models(dir_, models::load_model);
        models.watch(kModel, kSchema);
        models.refresh();
        InferenceService service(*bus, models, {.model = kModel, .ab_mode = mode, .ab_share = share});
        auto out = bus->subscribe("test", {bus::topics::predictions});
        for (const auto& s : symbols_) {
            features::FeatureVector v{.schema_hash = kSchema, .symbol = s, .close_time = kMinute, .close = 10,
                                      .values = {1.0}, .complete = true};
            bus->publish(bus::topics::features, s, bus::encode(v));
        }
        std::jthread worker([&](std::stop_token stop) { service.run(stop); });
        const std::size_t expected = mode == AbMode::shadow ? 2 * symbols_.size() : symbols_.size();
        std::map<std::pair<std::string, std::string>, Prediction> got;
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (got.size() < expected && std::chrono::steady_clock::now() < deadline)
            if (auto m = out->poll(100ms)) {
                auto p = bus::decode_prediction(m->value);
                got[{p.symbol, p.slot}] = p;
            }
        return got;
    }

    fs::path dir_;
    std::vector<std::string> symbols_;
};

TEST_F(AbTraffic, SplitServesTheChallengerForItsSymbolsTheSameAfterARestart) {
    const auto first = run(AbMode::split, 0.3);
    ASSERT_EQ(first.size(), symbols_.size());
    PredictionStore store;
    std::size_t to_challenger = 0;
    for (const auto& s : symbols_) {
        const bool challenger = ab_arm(s, 0.3) == Slot::challenger;
        to_challenger += challenger;
        const auto it = first.find({s, challenger ? "challenger" : "champion"});
        ASSERT_NE(it, first.end()) << s;
        EXPECT_EQ(it->second.cls, challenger ? 2 : 0) << s;
        EXPECT_EQ(it->second.ab_split, challenger) << s;
        EXPECT_TRUE(store.add(it->second));
        ASSERT_TRUE(store.latest(s)) << s << " is not served";
        EXPECT_EQ(store.latest(s)->slot, it->second.slot);
    }
    EXPECT_GT(to_challenger, 0u);
    EXPECT_LT(to_challenger, symbols_.size());
    const auto again = run(AbMode::split, 0.3);
    ASSERT_EQ(again.size(), first.size());
    for (const auto& [key, p] : first) EXPECT_TRUE(again.contains(key)) << key.first << " changed arm";
}

TEST_F(AbTraffic, ShadowPredictsBothOnEverySymbolAndServesTheChampion) {
    const auto got = run(AbMode::shadow, 0.3);
    ASSERT_EQ(got.size(), 2 * symbols_.size());
    PredictionStore store;
    for (const auto& s : symbols_) {
        const auto& champion = got.at({s, "champion"});
        const auto& challenger = got.at({s, "challenger"});
        EXPECT_EQ(champion.cls, 0);
        EXPECT_EQ(challenger.cls, 2);
        EXPECT_FALSE(challenger.ab_split);
        store.add(challenger);
        EXPECT_FALSE(store.latest(s)) << "a shadow prediction was served";
        store.add(champion);
        EXPECT_EQ(store.latest(s)->slot, "champion");
    }
}

}  // namespace
}  // namespace pricecast::serving
