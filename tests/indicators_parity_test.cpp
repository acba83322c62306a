// Every registered indicator and candlestick pattern against TA-Lib itself
// (compiled in-process from the npm talib 2.0.5 C sources), over whole series:
// same lookback, no value before it, values equal after it (relative error
// <= 1e-9, exact for integer outputs). Cases: every indicator with its defaults
// plus the extra parameter sets in tests/data/indicator_cases/*.txt.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "indicators/indicator.hpp"
#include "support/datasets.hpp"
#include "support/paths.hpp"
#include "support/talib_oracle.hpp"

namespace pricecast::indicators {
namespace {

std::vector<std::string> parity_cases() {
    std::vector<std::string> cases;
    for (const auto& spec : registry()) cases.push_back(spec.name);
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(test::test_data() / "indicator_cases"))
        if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f);
        for (std::string line; std::getline(in, line);) {
            if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
            while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
            while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.erase(0, 1);
            if (!line.empty()) cases.push_back(line);
        }
    }
    return cases;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
    std::string n;
    for (char c : info.param) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return n + "_" + std::to_string(info.index);
}

class Parity : public testing::TestWithParam<std::string> {};

TEST_P(Parity, MatchesTalib) {
    if (!test::have_talib()) GTEST_SKIP() << "TA-Lib sources were not built";
    const IndicatorRef ref = parse(GetParam());
    const IndicatorSpec& spec = *ref.spec;
    for (const auto& ds : test::indicator_datasets()) {
        SCOPED_TRACE(ds.name);
        const test::OhlcvColumns cols(ds.bars);
        const test::TalibResult want = test::talib_run(spec.talib_name, ref.params, cols);
        auto ind = ref.make();
        ASSERT_EQ(ind->lookback(), want.lookback) << ref.canonical();
        const auto got = compute(*ind, ds.bars);
        ASSERT_EQ(got.size(), want.outputs.size());
        for (std::size_t k = 0; k < got.size(); ++k) {
            SCOPED_TRACE(spec.outputs[k]);
            double mean_abs = 0;
            int n = 0;
            for (double v : want.outputs[k])
                if (!std::isnan(v)) mean_abs += std::abs(v), ++n;
            mean_abs = n ? mean_abs / n : 0;
            int mismatches = 0;
            for (std::size_t i = 0; i < got[k].size() && mismatches < 5; ++i) {
                const double a = got[k][i], b = want.outputs[k][i];
                if (std::isnan(b)) {
                    if (!std::isnan(a)) ++mismatches, ADD_FAILURE() << "bar " << i << ": value " << a << " before TA-Lib's first output";
                    continue;
                }
                const bool ok = spec.integer_output ? a == b : std::abs(a - b) <= 1e-9 * std::max(std::abs(b), mean_abs);
                if (!ok) ++mismatches, ADD_FAILURE() << ref.canonical() << " bar " << i << ": got " << a << " want " << b;
            }
            EXPECT_EQ(mismatches, 0);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(All, Parity, testing::ValuesIn(parity_cases()), test_name);

// Names, parameter order and defaults, inputs and outputs are TA-Lib's.
TEST(ParityMetadata, SpecsDescribeTalibFunctions) {
    if (!test::have_talib()) GTEST_SKIP() << "TA-Lib sources were not built";
    for (const auto& spec : registry()) {
        SCOPED_TRACE(spec.name);
        const auto info = test::talib_info(spec.talib_name);
        std::string upper = spec.name;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        EXPECT_EQ(upper, spec.talib_name);
        ASSERT_EQ(spec.params.size(), info.params.size());
        for (std::size_t i = 0; i < info.params.size(); ++i) {
            EXPECT_EQ(spec.params[i].name, info.params[i].name);
            EXPECT_EQ(spec.params[i].default_value, info.params[i].default_value) << spec.params[i].name;
            EXPECT_EQ(spec.params[i].integer, info.params[i].integer) << spec.params[i].name;
        }
        EXPECT_EQ(spec.outputs, info.outputs);
        EXPECT_EQ(spec.integer_output, info.integer_output);
        EXPECT_EQ(spec.inputs, info.inputs);
    }
}

}  // namespace
}  // namespace pricecast::indicators
