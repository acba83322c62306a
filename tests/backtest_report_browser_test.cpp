// Must-show 5: a backtest report.html opens in headless Chromium. Runs
// tests/dashboard/backtest_report_test.js (playwright-core driving Debian's
// chromium, network refused) on a report of the walk-forward engine with a
// seeded random model; the script checks the SVG charts and leaves
// backtest_report.png in the working directory (the build's tests folder under
// ctest). Without node, chromium or playwright-core (./run installs them) the
// test skips, naming what is missing.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "backtest/engine.hpp"
#include "backtest/report.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace pricecast::backtest {
namespace {

fs::path project_root() { return test::test_data().parent_path().parent_path(); }

std::string chromium() {
    const char* env = std::getenv("PRICECAST_CHROMIUM");
    return env && *env ? env : "/usr/bin/chromium";
}

std::string missing_prerequisite() {
    if (std::system("command -v node >/dev/null 2>&1") != 0) return "node (Debian package nodejs)";
    if (!fs::exists(chromium())) return chromium() + " (Debian package chromium)";
    if (!fs::exists(project_root() / ".deps/dashboard/node_modules/playwright-core")) return ".deps/dashboard/node_modules (npm)";
    return {};
}

// A random walk and a model that is right 45% of the time, so every chart has a shape.
Result sample_result() {
    std::mt19937 rng(17);
    std::vector<Bar> bars;
    double price = 100;
    for (int t = 0; t < 600; ++t) {
        Bar b;
        b.symbol = "SIM";
        b.interval = kMinute;
        b.open_time = t * kMinute;
        b.close_time = b.open_time + kMinute;
        b.open = price;
        price *= 1 + std::normal_distribution<>(0, 0.002)(rng);
        b.close = price;
        b.high = std::max(b.open, b.close);
        b.low = std::min(b.open, b.close);
        bars.push_back(b);
    }
    EngineConfig cfg;
    cfg.min_train = 100;
    cfg.retrain_every = 60;
    cfg.trading.fee_bps = 1;
    return run(bars, cfg, [&](const BlockRows& rows) {
        BlockOutput out;
        for (std::size_t i = 0; i < rows.predict.size(); ++i) {
            const int actual = static_cast<int>(rng() % 3);
            const int cls = std::uniform_real_distribution<>(0, 1)(rng) < 0.45 ? actual : static_cast<int>(rng() % 3);
            Probs p{};
            const float top = std::uniform_real_distribution<float>(0.34f, 0.9f)(rng);
            for (std::size_t c = 0; c < 3; ++c) p[c] = static_cast<int>(c) == cls ? top : (1 - top) / 2;
            out.probs.push_back(p);
            out.actual.push_back(actual);
            out.majority.push_back(1);
            out.persistence.push_back(static_cast<int>(rng() % 3));
        }
        return out;
    });
}

TEST(BacktestReportBrowser, OpensInHeadlessChromiumWithItsCharts) {
    if (const auto missing = missing_prerequisite(); !missing.empty()) GTEST_SKIP() << "missing " << missing;
    const test::TempDir dir("backtest-browser");
    write_report(dir.path(), sample_result());
    const auto shot = fs::current_path() / "backtest_report.png";
    fs::remove(shot);
    const auto cmd = fmt::format("NODE_PATH='{}' timeout 300 node '{}' --report '{}' --screenshot '{}' 2>&1",
                                 (project_root() / ".deps/dashboard/node_modules").string(),
                                 (project_root() / "tests/dashboard/backtest_report_test.js").string(),
                                 (dir / "report.html").string(), shot.string());
    std::string output;
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    while (const auto n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
    const int status = pclose(p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
    std::ifstream png(shot, std::ios::binary);
    std::string magic(8, '\0');
    png.read(magic.data(), 8);
    EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n") << shot;
    EXPECT_GT(fs::file_size(shot), 20'000u) << "a screenshot of a drawn page, not a blank one";
    std::printf("%s", output.c_str());
}

}  // namespace
}  // namespace pricecast::backtest
