// Progress: silent unless enabled (a terminal), redrawn at most once per
// interval, ETA from the average rate. The clock is injected: no timing here.
#include <iostream>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

#include "core/progress.hpp"

namespace pricecast {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
    Progress::Clock::time_point t{};
    Progress::Options options(std::ostream& out, bool enabled = true) {
        Progress::Options o;
        o.enabled = enabled;
        o.out = &out;
        o.interval = 200ms;
        o.now = [this] { return t; };
        return o;
    }
};

// The lines drawn so far, one per redraw.
std::vector<std::string> frames(const std::string& out) {
    std::vector<std::string> v;
    std::size_t pos = 0;
    while ((pos = out.find('\r', pos)) != std::string::npos) {
        const auto end = out.find("\x1b[K", pos);
        v.push_back(out.substr(pos + 1, end - pos - 1));
        pos = end;
    }
    return v;
}

TEST(Progress, DisabledWritesNothing) {
    std::ostringstream out;
    FakeClock clock;
    {
        Progress p("build", 100, "rows", clock.options(out, false));
        for (int i = 1; i <= 100; ++i) {
            clock.t += 1s;
            p.update(static_cast<std::uint64_t>(i));
        }
    }
    EXPECT_EQ(out.str(), "");
}

TEST(Progress, EtaFromTheAverageRate) {
    std::ostringstream out;
    FakeClock clock;
    Progress p("simulate", 1000, "bars", clock.options(out));
    clock.t += 10s;
    p.update(100);  // 10 bars/s, 900 to go
    const auto f = frames(out.str());
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0], "simulate 100/1000 bars 10% 10 bars/s ETA 1m30s");
}

TEST(Progress, RedrawsAtMostOncePerInterval) {
    std::ostringstream out;
    FakeClock clock;
    Progress p("train", 0, "", clock.options(out));
    for (int i = 1; i <= 100; ++i) {  // 10 ms apart: 1 s in all, 5 redraws of 200 ms
        clock.t += 10ms;
        p.update(static_cast<std::uint64_t>(i));
    }
    const auto f = frames(out.str());
    ASSERT_EQ(f.size(), 5u);
    EXPECT_EQ(f.back(), "train 100 100/s") << "unknown total: no percent, no ETA";
}

TEST(Progress, FinishDrawsTheTotalTimeAndEndsTheLine) {
    std::ostringstream out;
    FakeClock clock;
    Progress p("features", 50'000, "rows", clock.options(out));
    clock.t += 1s;
    p.update(20'000);
    clock.t += 1500ms;
    p.update(50'000);
    p.finish();
    p.finish();
    const auto f = frames(out.str());
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[1], "features 50000/50000 rows 100% 20.0k rows/s ETA 0s");
    EXPECT_EQ(f[2], "features 50000/50000 rows 100% 20.0k rows/s in 2.5s");
    EXPECT_EQ(out.str().back(), '\n');
}

TEST(Progress, WorkFinishedBeforeTheFirstRedrawStaysSilent) {
    std::ostringstream out;
    FakeClock clock;
    {
        Progress p("quick", 10, "", clock.options(out));
        clock.t += 50ms;
        p.update(10);
    }
    EXPECT_EQ(out.str(), "");
}

TEST(Progress, ALineOnStderrIsOpenUntilFinished) {
    testing::internal::CaptureStderr();
    FakeClock clock;
    auto o = clock.options(std::cerr);
    {
        Progress p("load", 10, "", o);
        EXPECT_FALSE(progress_line_open()) << "nothing drawn yet";
        clock.t += 1s;
        p.update(5);
        EXPECT_TRUE(progress_line_open()) << "the logger must clear it before writing";
        p.finish();
        EXPECT_FALSE(progress_line_open());
    }
    std::ostringstream elsewhere;
    Progress q("other", 10, "", clock.options(elsewhere));
    clock.t += 1s;
    q.update(5);
    EXPECT_FALSE(progress_line_open()) << "a line on another stream is not stderr's";
    const auto err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("load 5/10"), std::string::npos) << err;
}

TEST(Progress, ADetailFollowsTheEta) {
    std::ostringstream out;
    FakeClock clock;
    Progress p("train", 20, "epochs", clock.options(out));
    clock.t += 4s;
    p.update(2, "valid loss 0.4123");
    const auto f = frames(out.str());
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0], "train 2/20 epochs 10% 0.5 epochs/s ETA 36s  valid loss 0.4123");
}

TEST(Progress, EtaFormat) {
    EXPECT_EQ(format_eta(0), "0s");
    EXPECT_EQ(format_eta(59.4), "59s");
    EXPECT_EQ(format_eta(61), "1m01s");
    EXPECT_EQ(format_eta(3600 + 7 * 60 + 30), "1h07m");
    EXPECT_EQ(format_eta(-1), "?");
    EXPECT_EQ(format_eta(std::numeric_limits<double>::infinity()), "?");
}

}  // namespace
}  // namespace pricecast
