// The dashboard in headless Chromium: runs tests/dashboard/dashboard_test.js
// (playwright-core driving Debian's chromium) against the real API server fed
// with live bars and predictions, and against a mock that sends malformed messages
// and serves no bars (an older server: the page falls back to a line); checks
// the script's verdict and the screenshot it leaves in the working directory.
// ./run installs the browser, the npm packages and the chart library; without
// them the tests skip, naming what is missing.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/api_env.hpp"
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

void expect_screenshot(const fs::path& shot) {
    ASSERT_TRUE(is_png(shot)) << shot;
    EXPECT_GT(fs::file_size(shot), 10'000u) << "a screenshot of a drawn page, not a blank one";
}

// A version of the served model registered with the label rule of training
// (fixed one-bar thresholds), so the page scores accuracy exactly as trained.
int register_labelled_version(pricecast::test::ApiEnv& env) {
    using namespace pricecast;
    registry::Registry reg(env.data_dir);
    test::ConstantModel m({0.1f, 0.2f, 0.7f}, test::kSteps, env.schema.size(), env.schema.hash());
    registry::NewVersion meta;
    meta.params = {{"horizon", 1}, {"mode", "fixed"}, {"threshold", 0.01}, {"vol_k", 0.5},
                   {"vol_window", 20}, {"quantile", 1.0 / 3.0}, {"down", -0.01}, {"up", 0.01}};
    meta.metrics = {{"macro_f1", 0.4}};
    meta.eval_window = "w1";
    return registry::register_model(reg, test::kModel, m, meta).version;
}

// Bar closes of seeded random walks with random class probabilities, added to
// the stores as the API's feed would (the bar, then its prediction): `history`
// bars at once, then one bar every `period` until stopped (at most 3,000 bars,
// so it ends by itself).
class Feeder {
public:
    Feeder(pricecast::serving::BarStore& bars, pricecast::serving::PredictionStore& store, int version, int history,
           std::vector<std::string> symbols, std::chrono::milliseconds period = std::chrono::milliseconds(100))
        : bars_(bars), store_(store), version_(version), symbols_(std::move(symbols)), closes_(symbols_.size()) {
        for (std::size_t s = 0; s < closes_.size(); ++s) closes_[s] = 40.0 + 10.0 * static_cast<double>(s % 20);
        for (int i = 0; i < history; ++i) step();
        thread_ = std::thread([this, period] {
            for (int i = 0; i < 3000 && !stop_; ++i) {
                std::this_thread::sleep_for(period);  // the market's pace, not a synchronization
                step();
            }
        });
    }
    ~Feeder() {
        stop_ = true;
        thread_.join();
    }

private:
    void step() {
        using namespace pricecast;
        const Timestamp t = *parse_iso8601("2026-01-05T00:00:00Z") + bar_++ * 60'000'000'000LL;
        for (std::size_t s = 0; s < closes_.size(); ++s) {
            const double open = closes_[s];
            closes_[s] *= 1 + std::uniform_real_distribution<double>(-0.02, 0.02)(random_);
            auto bar = test::make_bar(symbols_[s], t, closes_[s]);
            bar.open = open;
            bar.high = std::max(open, closes_[s]) * (1 + std::uniform_real_distribution<double>(0, 0.01)(random_));
            bar.low = std::min(open, closes_[s]) * (1 - std::uniform_real_distribution<double>(0, 0.01)(random_));
            bars_.add(bar);
            std::array<float, 3> probs{};
            for (auto& x : probs) x = std::uniform_real_distribution<float>(0.05f, 1)(random_);
            const float sum = probs[0] + probs[1] + probs[2];
            for (auto& x : probs) x /= sum;
            auto p = test::make_prediction(symbols_[s], t);
            p.version = version_;
            p.probs = probs;
            p.cls = static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
            p.confidence = probs[static_cast<std::size_t>(p.cls)];
            p.close = closes_[s];
            store_.add(p);
        }
    }

    pricecast::serving::BarStore& bars_;
    pricecast::serving::PredictionStore& store_;
    int version_;
    std::vector<std::string> symbols_;
    std::vector<double> closes_;
    std::mt19937 random_{7};
    std::int64_t bar_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

std::string slurp(const fs::path& file) {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `pricecast demo` in a child process (stdout and stderr to files in `dir`);
// stopped with SIGTERM, as Ctrl-C would, and reaped when the test ends.
class Demo {
public:
    Demo(const fs::path& dir, std::vector<std::string> args) : dir_(dir) {
        args.insert(args.begin(), {pricecast::test::pricecast_binary().string(), "demo", "--ws-port", "-1"});
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t io;
        posix_spawn_file_actions_init(&io);
        posix_spawn_file_actions_addopen(&io, 1, (dir / "out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&io, 2, (dir / "err.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (posix_spawn(&pid_, argv[0], &io, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&io);
    }
    ~Demo() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        // A graceful stop drains the services; past the bound it is killed.
        for (int i = 0; i < 300 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (kill(pid_, 0) == 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    bool started() const { return pid_ > 0; }

    // The dashboard URL the demo prints once every role runs; empty if it
    // exits or `timeout` passes first.
    std::string wait_for_url(std::chrono::seconds timeout) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        const std::string marker = "dashboard: ";
        while (std::chrono::steady_clock::now() < deadline) {
            const auto out = slurp(dir_ / "out.txt");
            if (const auto at = out.find(marker); at != std::string::npos) {
                const auto end = out.find_first_of(" \n", at + marker.size());
                if (end != std::string::npos) return out.substr(at + marker.size(), end - at - marker.size());
            }
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) return {};
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return {};
    }
    std::string output() const { return slurp(dir_ / "out.txt").substr(0, 4000) + slurp(dir_ / "err.txt"); }

private:
    fs::path dir_;
    pid_t pid_ = -1;
};

}  // namespace

// The real system end to end: the demo trains and serves, the page shows its predictions.
TEST(Dashboard, ShowsTheDemosLivePredictions) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    const auto dir = fs::temp_directory_path() / fmt::format("pricecast-dashboard-demo-{}", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string url;
    {
        Demo demo(dir, {"--port", "0", "--symbols", "AAA,BBB", "--speed", "120x", "--steps", "100000", "--data-dir",
                        (dir / "data").string()});
        ASSERT_TRUE(demo.started());
        url = demo.wait_for_url(std::chrono::seconds(600));
        ASSERT_FALSE(url.empty()) << demo.output();
        const fs::path shot = fs::absolute("dashboard-demo.png");
        fs::remove(shot);
        const auto r = run_script(
            fmt::format("--url '{}' --screenshot '{}' --min-markers 100 --candles yes", url, shot.string()));
        EXPECT_EQ(r.status, 0) << r.output << "\ndemo:\n" << demo.output();
        for (const char* check : {"markers grow live", "candles with markers", "is a candle's close_time",
                                  "model name is filled (trend)", "holds every prediction", "matches a recount"})
            EXPECT_NE(r.output.find(check), std::string::npos) << check << " in\n" << r.output;
        expect_screenshot(shot);
    }
    fs::remove_all(dir);
}

TEST(Dashboard, DrawsTheApisLivePredictionsInHeadlessChromium) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    pricecast::api::ServerOptions options;
    options.web_root = project_root() / "web";
    options.keys = {{pricecast::test::kReadKey, pricecast::api::Role::read}};
    pricecast::test::ApiEnv env(options);
    Feeder feeder(env.bars, env.predictions, register_labelled_version(env), 30, {"ACME", "BOLT", "CRUX"});

    const fs::path shot = fs::absolute("dashboard.png");
    fs::remove(shot);
    // The key rides in the page URL, as a browser user passes it; the page forwards it.
    const auto r = run_script(
        fmt::format("--url 'http://127.0.0.1:{}/?api_key={}' --screenshot '{}' --min-markers 20 --candles yes",
                    env.port(), pricecast::test::kReadKey, shot.string()));
    ASSERT_EQ(r.status, 0) << r.output;
    for (const char* check : {"the chart canvas exists", "markers grow live", "candles with markers",
                              "is a candle's close_time", "the WebSocket is open",
                              "model name is filled (m)", "the three probabilities add up to 100%",
                              "holds every prediction", "matches a recount", "no uncaught script errors"})
        EXPECT_NE(r.output.find(check), std::string::npos) << check << " in\n" << r.output;
    expect_screenshot(shot);
}

// Many symbols: a drop-down instead of tabs, every symbol's history loaded, and
// the chart still follows live bars.
TEST(Dashboard, ListsManySymbols) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    pricecast::api::ServerOptions options;
    options.web_root = project_root() / "web";
    // Above twice the symbol count: one bar close queues a bar and a prediction
    // per symbol for a "*" subscriber, and past the bound the server drops the client.
    options.ws_queue_limit = 1024;
    pricecast::test::ApiEnv env(options);
    std::vector<std::string> symbols;
    for (int i = 0; i < 300; ++i) symbols.push_back(fmt::format("S{:03}", i));
    Feeder feeder(env.bars, env.predictions, register_labelled_version(env), 25, symbols,
                  std::chrono::milliseconds(300));
    const fs::path shot = fs::absolute("dashboard-many.png");
    const auto r = run_script(fmt::format("--url 'http://127.0.0.1:{}/' --screenshot '{}' --min-markers 20 --min-symbols 300",
                                          env.port(), shot.string()));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("symbols listed in a drop-down (300)"), std::string::npos) << r.output;
    expect_screenshot(shot);
}

TEST(Dashboard, SaysWhenTheApiKeyIsMissingOrRejected) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    pricecast::api::ServerOptions options;
    options.web_root = project_root() / "web";
    options.keys = {{pricecast::test::kReadKey, pricecast::api::Role::read}};
    pricecast::test::ApiEnv env(options);
    const std::pair<const char*, const char*> cases[] = {
        {"", "the server needs an API key"},
        {"?api_key=wrong-key", "the API key in the page URL was not accepted"},
    };
    for (const auto& [query, message] : cases) {
        const auto r = run_script(fmt::format("--url 'http://127.0.0.1:{}/{}' --screenshot '{}' --expect-error '{}'",
                                              env.port(), query, fs::absolute("dashboard-no-key.png").string(), message));
        EXPECT_EQ(r.status, 0) << query << ": " << r.output;
    }
}

TEST(Dashboard, CountsAndSkipsMalformedMessagesAndRefillsSkippedBars) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    const fs::path shot = fs::absolute("dashboard-mock.png");
    fs::remove(shot);
    // The mock sends a frame that is not JSON and a prediction with an unknown
    // class, and leaves every 3rd bar off the socket: the page must refill
    // those from REST to hold every prediction the server has.
    // It serves no /v1/bars, as a server older than the candles: the page draws the line.
    const auto r = run_script(fmt::format("--mock '{}' --screenshot '{}' --min-markers 20 --expect-ignored 2 --candles no",
                                          (project_root() / "web").string(), shot.string()));
    ASSERT_EQ(r.status, 0) << r.output;
    for (const char* check : {"malformed messages counted and skipped (2)", "markers grow live", "no bars served",
                              "holds every prediction", "matches a recount", "no uncaught script errors"})
        EXPECT_NE(r.output.find(check), std::string::npos) << check << " in\n" << r.output;
    expect_screenshot(shot);
}

TEST(Dashboard, ScriptRejectsBadUsage) {
    if (const auto missing = missing_prerequisite(); !missing.empty())
        GTEST_SKIP() << "missing " << missing << "; ./run build installs it";
    for (const char* args : {"", "--url http://127.0.0.1:1/ --mock web", "--min-markers many --url x", "--bogus 1",
                             "--url x --candles maybe"}) {
        const auto r = run_script(args);
        EXPECT_EQ(r.status, 1) << args;
        EXPECT_NE(r.output.find("usage:"), std::string::npos) << args << ": " << r.output;
    }
}

TEST(Dashboard, ResolvesPredictionsAsTrainingLabelledThem) {
    if (std::system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "missing node (Debian package nodejs)";
    const auto cmd = fmt::format("timeout 120 node '{}' 2>&1", (project_root() / "tests/dashboard/accuracy_test.js").string());
    std::string output;
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    while (const auto n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
    const int status = pclose(p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
    EXPECT_NE(output.find("# fail 0"), std::string::npos) << output;
}
