#include "core/progress.hpp"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <iostream>

#include <fmt/format.h>

namespace pricecast {
namespace {

std::atomic<bool> g_line_open{false};

std::string si(double v) {
    if (v >= 1e9) return fmt::format("{:.1f}G", v / 1e9);
    if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
    if (v >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
    if (v >= 10) return fmt::format("{:.0f}", v);
    return fmt::format("{:.2g}", v);  // slow work: 0.5 epochs/s, not 0
}

}  // namespace

std::string format_eta(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto s = static_cast<long long>(std::llround(seconds));
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
}

bool progress_line_open() noexcept { return g_line_open.load(std::memory_order_relaxed); }

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, std::uint64_t total, std::string unit)
    : Progress(std::move(label), total, std::move(unit), Options{}) {}

Progress::Progress(std::string label, std::uint64_t total, std::string unit, Options options)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), opt_(std::move(options)) {
    if (!opt_.out) opt_.out = &std::cerr;
    start_ = last_draw_ = opt_.now();
}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t done) {
    done_ = done;
    if (!opt_.enabled || finished_) return;
    const auto now = opt_.now();
    if (now - last_draw_ < opt_.interval) return;
    last_draw_ = now;
    draw();
}

void Progress::update(std::uint64_t done, std::string_view detail) {
    detail_ = detail;
    update(done);
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    // Work too short to have been drawn stays silent.
    if (!opt_.enabled || !drawn_) return;
    draw();
    *opt_.out << "\n" << std::flush;
    if (opt_.out == &std::cerr) g_line_open = false;
}

std::string Progress::line() const {
    const double elapsed = std::chrono::duration<double>(opt_.now() - start_).count();
    // The average rate since the start: steadier than the recent rate for
    // work whose speed varies from step to step.
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    const std::string unit = unit_.empty() ? "" : " " + unit_;
    std::string out = label_ + " " + (total_ > 0 ? fmt::format("{}/{}{}", done_, total_, unit)
                                                  : fmt::format("{}{}", done_, unit));
    if (total_ > 0) out += fmt::format(" {:.0f}%", 100.0 * static_cast<double>(done_) / static_cast<double>(total_));
    if (rate > 0) out += fmt::format(" {}{}/s", si(rate), unit);
    if (finished_) {
        out += " in " + (elapsed < 10 ? fmt::format("{:.1f}s", elapsed) : format_eta(elapsed));
    } else if (total_ > 0 && rate > 0) {
        out += " ETA " + format_eta(static_cast<double>(total_ - std::min(done_, total_)) / rate);
    }
    return detail_.empty() ? out : out + "  " + detail_;
}

void Progress::draw() {
    // \r and erase-to-end-of-line: the line is redrawn in place.
    *opt_.out << "\r" << line() << "\x1b[K" << std::flush;
    drawn_ = true;
    if (opt_.out == &std::cerr) g_line_open = true;
}

}  // namespace pricecast
