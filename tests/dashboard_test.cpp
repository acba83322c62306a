// The dashboard in headless Chromium: runs tests/dashboard/dashboard_test.js
// (playwright-core driving Debian's chromium) and checks its verdict and the
// screenshot it leaves in the working directory. ./run installs the browser, the
// npm packages and the chart library; without them the test skips, naming what
// is missing.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "support/paths.hpp"

namespace fs = std::filesystem;

namespace {

fs::path project_root() { return pricecast::test::test_data().parent_path().parent_path(); }

std::string chromium() {
    const char* env = std::getenv("PRICECAST_CHROMIUM");
    return env && *env ? env : "/usr/bin/chromium";
}

// What the browser run needs that ./run installs; empty when all is there.
std::string missing_prerequisite() {
    const auto root = project_root();
    if (std::system("command -v node >/dev/null 2>&1") != 0) return "node (Debian package nodejs)";
    if (!fs::exists(chromium())) return chromium() + " (Debian package chromium)";
    if (!fs::exists(root / ".deps/dashboard/node_modules/playwright-core")) return ".deps/dashboard/node_modules (npm)";
    if (!fs::exists(root / "web/vendor/lightweight-charts.js")) return "web/vendor/lightweight-charts.js (npm)";
    return {};
}

struct Run {
    int status = -1;
    std::string output;
};

// Runs the browser script; `args` are appended as they are (already quoted).
Run run_script(const std::string& args) {
    const auto root = project_root();
    // `timeout` bounds a hung browser; the script's own waits are shorter.
    const auto cmd = fmt::format("NODE_PATH='{}' timeout 300 node '{}' {} 2>&1",
                                 (root / ".deps/dashboard/node_modules").string(),
                                 (root / "tests/dashboard/dashboard_test.js").string(), args);
    Run r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    while (const auto n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    const int status = pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

bool is_png(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::string magic(8, '\0');
    in.read(magic.data(), 8);
    return in && magic == "\x89PNG\r\n\x1a\n";
}

}  // namespace

TEST(Dashboard, DrawsLivePredictionsInHeadlessChromium) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    const fs::path shot = fs::absolute("dashboard.png");
    fs::remove(shot);
    const auto r = run_script(fmt::format("--mock '{}' --screenshot '{}' --min-markers 20 --expect-ignored 2",
                                          (project_root() / "web").string(), shot.string()));
    ASSERT_EQ(r.status, 0) << r.output;
    for (const char* check : {"the chart canvas exists", "markers grow live", "model name is filled",
                              "the three probabilities add up to 100%", "matches a recount",
                              "malformed messages counted and skipped"})
        EXPECT_NE(r.output.find(check), std::string::npos) << check << " in\n" << r.output;
    EXPECT_TRUE(is_png(shot)) << shot;
    EXPECT_GT(fs::file_size(shot), 10'000u) << "a screenshot of a drawn page, not a blank one";
}

TEST(Dashboard, ScriptRejectsBadUsage) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    for (const char* args : {"", "--url http://127.0.0.1:1/ --mock web", "--min-markers many --url x", "--bogus 1"}) {
        const auto r = run_script(args);
        EXPECT_EQ(r.status, 1) << args;
        EXPECT_NE(r.output.find("usage:"), std::string::npos) << args << ": " << r.output;
    }
}
