// Every registered indicator and candlestick pattern against TA-Lib itself
// (compiled in-process from the npm talib 2.0.5 C sources), over whole series:
// same lookback, no value before it, values equal after it (relative error
// <= 1e-9, exact for integer outputs). Cases: every indicator with its defaults
// plus the extra parameter sets in tests/data/indicator_cases/*.txt. The
// metadata tests hold each spec to TA-Lib's abstract-API tables (names, order,
// defaults, integer-ness, ranges).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

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

// Output column against TA-Lib's: nothing before TA-Lib's first value, then
// relative error <= 1e-9 of the larger of |value| and the column's mean |value|
// (exact for integer outputs). Reports at most 5 mismatches; returns their count.
int compare_column(const std::string& what, bool integer, const std::vector<double>& got,
                   const std::vector<double>& want) {
    double mean_abs = 0;
    int n = 0;
    for (double v : want)
        if (!std::isnan(v)) mean_abs += std::abs(v), ++n;
    mean_abs = n ? mean_abs / n : 0;
    int mismatches = 0;
    for (std::size_t i = 0; i < got.size() && mismatches < 5; ++i) {
        const double a = got[i], b = want[i];
        if (std::isnan(b)) {
            if (!std::isnan(a)) ++mismatches, ADD_FAILURE() << "bar " << i << ": value " << a << " before TA-Lib's first output";
            continue;
        }
        const bool ok = integer ? a == b : std::abs(a - b) <= 1e-9 * std::max(std::abs(b), mean_abs);
        if (!ok) ++mismatches, ADD_FAILURE() << what << " bar " << i << ": got " << a << " want " << b;
    }
    return mismatches;
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
            EXPECT_EQ(compare_column(ref.canonical(), spec.integer_output, got[k], want.outputs[k]), 0);
        }
    }
}

// MACD and MACDFIX with signalperiod 1 (allowed by TA-Lib's table) are where
// TA-Lib errs: its EMA lookback of period 1 is -1 (out of EMA's range), so it
// reports lookback 24 and copies its MACD line from one element before its own
// buffer. Ours is what TA-Lib's MACDEXT gives for a signal MA of period 1: the
// signal is the line itself, from bar 25.
TEST(ParityQuirks, MacdSignalPeriodOneIsTheLineItself) {
    if (!test::have_talib()) GTEST_SKIP() << "TA-Lib sources were not built";
    for (const auto& ds : test::indicator_datasets()) {
        SCOPED_TRACE(ds.name);
        const test::OhlcvColumns cols(ds.bars);
        const auto ext = test::talib_run("MACDEXT", {12, 1, 26, 1, 1, 1}, cols);
        auto macd = make("macd(12,26,1)");
        EXPECT_EQ(macd->lookback(), ext.lookback);
        const auto got = compute(*macd, ds.bars);
        for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(compare_column("macd(12,26,1)", false, got[k], ext.outputs[k]), 0);

        const auto fix9 = test::talib_run("MACDFIX", {9}, cols);
        auto fix = make("macdfix(1)");
        EXPECT_EQ(fix->lookback(), 25);
        const auto line = compute(*fix, ds.bars);
        std::vector<double> from_fix9 = line[0];
        for (std::size_t i = 0; i < from_fix9.size() && i < static_cast<std::size_t>(fix9.lookback); ++i)
            from_fix9[i] = std::numeric_limits<double>::quiet_NaN();
        EXPECT_EQ(compare_column("macdfix(1).macd", false, from_fix9, fix9.outputs[0]), 0);
        for (std::size_t i = 25; i < line[0].size(); ++i) {
            ASSERT_EQ(line[1][i], line[0][i]) << "bar " << i;
            ASSERT_EQ(line[2][i], 0.0) << "bar " << i;
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

// Our parameter tables are TA-Lib's optional-input tables: count, order,
// names, defaults, integer-ness and the allowed range (an MA type list's range
// is its lowest to highest value).
TEST(ParityMetadata, ParameterRangesAreTalibs) {
    if (!test::have_talib()) GTEST_SKIP() << "TA-Lib sources were not built";
    for (const auto& spec : registry()) {
        SCOPED_TRACE(spec.name);
        const auto info = test::talib_info(spec.talib_name);
        ASSERT_EQ(spec.params.size(), info.params.size());
        for (std::size_t i = 0; i < info.params.size(); ++i) {
            const ParamSpec& ours = spec.params[i];
            const auto& theirs = info.params[i];
            SCOPED_TRACE(ours.name);
            EXPECT_EQ(ours.name, theirs.name);
            EXPECT_EQ(ours.default_value, theirs.default_value);
            EXPECT_EQ(ours.integer, theirs.integer);
            EXPECT_EQ(ours.min, theirs.min);
            EXPECT_EQ(ours.max, theirs.max);
        }
    }
}

// TA-Lib's MACD with a signal period of 1, and its TRIX of period 1, read one
// element before their buffers (the EMA lookback of period 1 is -1), which the
// sanitizer build stops on; ParityQuirks covers what that period means.
bool talib_reads_before_its_buffer(const IndicatorSpec& spec, const Params& p) {
    if (spec.talib_name == "MACD") return p.at(2) == 1;
    if (spec.talib_name == "MACDFIX" || spec.talib_name == "TRIX") return p.at(0) == 1;
    return false;
}

// TA-Lib accepts our defaults and both ends of every range (its own range
// check returns TA_BAD_PARAM otherwise, which talib_run turns into a throw).
TEST(ParityMetadata, TalibAcceptsOurDefaultsAndRangeEnds) {
    if (!test::have_talib()) GTEST_SKIP() << "TA-Lib sources were not built";
    const auto bars = test::indicator_datasets().front().bars;
    const test::OhlcvColumns cols(std::vector<Bar>(bars.begin(), bars.begin() + 40));
    for (const auto& spec : registry()) {
        SCOPED_TRACE(spec.name);
        Params defaults;
        for (const auto& p : spec.params) defaults.push_back(p.default_value);
        EXPECT_NO_THROW(test::talib_run(spec.talib_name, defaults, cols));
        for (std::size_t i = 0; i < spec.params.size(); ++i) {
            for (double end : {spec.params[i].min, spec.params[i].max}) {
                Params p = defaults;
                p[i] = end;
                if (talib_reads_before_its_buffer(spec, p)) continue;
                EXPECT_NO_THROW(test::talib_run(spec.talib_name, p, cols)) << spec.params[i].name << " = " << end;
            }
        }
    }
}

}  // namespace
}  // namespace pricecast::indicators
