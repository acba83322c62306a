// Progress of long work (simulations, feature builds, training) with an ETA,
// redrawn in place on stderr when stderr is a terminal and silent otherwise,
// so that logs and pipes never see it (DESIGN.md, "Conventions a user relies on").
//
//     Progress p("simulate", bars, "bars");
//     for (long t = 0; t < bars; ++t) { ...; p.update(t + 1); }
//     p.finish();
//
// update() is cheap enough for every iteration of a loop: it reads a clock and
// returns unless `interval` has passed since the last redraw. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace pricecast {

class Progress {
public:
    using Clock = std::chrono::steady_clock;

    struct Options {
        bool enabled = stderr_is_terminal();
        std::ostream* out = nullptr;  // nullptr: std::cerr
        std::chrono::milliseconds interval{200};
        std::function<Clock::time_point()> now = Clock::now;  // tests inject a clock
    };

    // `total` units of work (0: unknown, shown without percent and ETA).
    Progress(std::string label, std::uint64_t total, std::string unit = "");
    Progress(std::string label, std::uint64_t total, std::string unit, Options options);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // `done` units finished so far.
    void update(std::uint64_t done);
    // The same, with a short note drawn after the ETA ("valid loss 0.4123").
    void update(std::uint64_t done, std::string_view detail);
    // Draws the final state and ends the line; later calls do nothing.
    void finish();

    // The line as drawn: "simulate 5000/10000 bars 50% 1.2k bars/s ETA 4s".
    std::string line() const;

    static bool stderr_is_terminal();

private:
    void draw();

    std::string label_, unit_, detail_;
    std::uint64_t total_, done_ = 0;
    Options opt_;
    Clock::time_point start_, last_draw_;
    bool drawn_ = false, finished_ = false;
};

// True while a progress line is drawn on stderr and not finished. The logger
// clears such a line before writing, so a log line never runs into it.
bool progress_line_open() noexcept;

// "42s", "3m05s", "2h07m": durations as a person reads them.
std::string format_eta(double seconds);

}  // namespace pricecast
