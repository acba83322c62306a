// The baselines behind the Model interface: what they predict, that they save
// and load like any model, and that the trainer's baseline columns are theirs.
#include <filesystem>

#include <gtest/gtest.h>

#include "models/baseline.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::models {
namespace {

SampleSet samples(std::vector<Trend> labels, std::vector<Trend> last) {
    SampleSet s;
    s.steps = 1;
    s.width = 2;
    s.values.assign(labels.size() * 2, 0.5f);
    s.labels = std::move(labels);
    s.last_realized = std::move(last);
    return s;
}

TEST(Baselines, MajorityPredictsTrainingShares) {
    using enum Trend;
    MajorityModel m(42);
    m.fit(samples({up, up, stable, down, up}, {}), {}, {});
    const auto p = m.predict_proba(samples({down, down}, {}));
    ASSERT_EQ(p.size(), 2u);
    EXPECT_FLOAT_EQ(p[1][0], 0.2f);
    EXPECT_FLOAT_EQ(p[1][1], 0.2f);
    EXPECT_FLOAT_EQ(p[1][2], 0.6f);

    const test::TempDir tmp("baseline-majority");
    const auto dir = tmp / "model";  // save creates it
    m.save(dir);
    const auto loaded = load_model(dir);
    EXPECT_EQ(loaded->kind(), "majority");
    EXPECT_EQ(loaded->feature_schema_hash(), 42u);
    EXPECT_EQ(loaded->predict_proba(samples({down}, {}))[0], p[0]);
}

TEST(Baselines, PersistenceRepeatsTheLastRealizedClass) {
    using enum Trend;
    PersistenceModel m(7);
    const auto p = m.predict_proba(samples({up, up, up}, {down, stable, up}));
    for (std::size_t i = 0; i < 3; ++i) {
        const auto best = std::max_element(p[i].begin(), p[i].end()) - p[i].begin();
        EXPECT_EQ(best, static_cast<long>(i));
        EXPECT_FLOAT_EQ(p[i][0] + p[i][1] + p[i][2], 1.0f);
    }
    const test::TempDir tmp("baseline-persistence");
    const auto dir = tmp / "model";
    m.save(dir);
    EXPECT_EQ(load_model(dir)->predict_proba(samples({up}, {down}))[0], p[0]);
}

TEST(Baselines, PersistenceWithoutRealizedClassesIsAClearError) {
    PersistenceModel m;
    try {
        m.predict_proba(samples({Trend::up}, {}));
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("last_realized"), std::string::npos);
    }
}

TEST(Baselines, MajorityWithoutLabelsIsAClearError) {
    MajorityModel m;
    EXPECT_THROW(m.fit(samples({}, {}), {}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace pricecast::models
