// Streaming technical indicators and candlestick patterns with TA-Lib's
// definitions, names, parameter order, defaults and warm-up.
//
//     auto rsi = pricecast::indicators::make("rsi(14)");
//     for (const Bar& b : bars) {
//         rsi->update(b);
//         if (rsi->ready()) use(rsi->value());
//     }
//
// Every indicator is an incremental state machine: update() is O(1) amortized,
// never allocates and never throws; a batch computation is a loop of update(),
// so stream == batch by construction. The first value appears on the bar with
// zero-based index lookback(), exactly where TA-Lib's first output is.
// Objects are not thread-safe; use one per stream.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/state.hpp"
#include "core/types.hpp"

namespace pricecast::indicators {

// TA-Lib's moving-average types, as its integer `matype` parameters use them.
enum class MaType : int { sma = 0, ema = 1, wma = 2, dema = 3, tema = 4, trima = 5, kama = 6, mama = 7, t3 = 8 };

enum class Group { overlap, momentum, volatility, volume, price, statistic, cycle, pattern };
std::string_view to_string(Group g);

struct ParamSpec {
    std::string name;  // TA-Lib's name without the optIn prefix, lower case: "timeperiod"
    double default_value = 0;
    double min = 0;
    double max = 0;
    bool integer = true;
};

class Indicator;
class SharedStates;
class StateArena;
using Params = std::vector<double>;
using Factory = std::function<std::unique_ptr<Indicator>(const Params&)>;

struct IndicatorSpec {
    std::string name;        // lower case TA-Lib name: "rsi", "bbands", "cdlengulfing"
    std::string talib_name;  // "RSI", "BBANDS", "CDLENGULFING"
    std::string description;
    Group group = Group::overlap;
    // TA-Lib price inputs this indicator reads, a subset of "open", "high", "low",
    // "close", "volume"; single-series indicators read "close" (BETA and CORREL
    // read "high" and "low", as python-talib's defaults do).
    std::vector<std::string> inputs;
    std::vector<ParamSpec> params;
    std::vector<std::string> outputs;  // python-talib output names: "real", "macd", "upperband", ...
    bool integer_output = false;       // patterns and other integer outputs
    Factory make;
};

// Aligned to a cache line, whose first bytes hold all that the chain of a
// set touches on every bar besides the kernel's own state (see the fields).
class alignas(64) Indicator {
public:
    virtual ~Indicator() = default;

    // Made in their set's StateArena (impl.hpp) when a set makes them.
    static void* operator new(std::size_t bytes, std::align_val_t align);
    static void operator delete(void* p, std::size_t bytes, std::align_val_t align) noexcept;

    const IndicatorSpec& spec() const { return *identity().spec; }
    const Params& params() const { return identity().params; }
    // Bars consumed before the first value (TA-Lib's TA_X_Lookback).
    virtual int lookback() const = 0;

    // Feeds one closed bar. Returns false, with no change of state, when the bar
    // fails check_bar() (NaN, non-positive price, high < low, ...). Inline, so
    // a caller's loop pays the check and the virtual step, not a call more.
    bool update(const Bar& bar) noexcept {
        if (check_bar(bar) != BarProblem::none) return false;
        update_valid(bar);
        return true;
    }
    // The same for a bar that already passed check_bar(): a feature engine
    // checks each bar once, not once per indicator.
    void update_valid(const Bar& bar) noexcept {
        step(bar);
        ++bars_seen_;
    }
    bool ready() const noexcept { return bars_seen_ > static_cast<std::size_t>(lookback()); }
    std::size_t bars_seen() const noexcept { return bars_seen_; }
    // Current outputs in spec().outputs order; NaN until ready().
    std::span<const double> values() const noexcept { return {out_.data(), spec().outputs.size()}; }
    double value(std::size_t output = 0) const noexcept { return out_[output]; }

    // The outputs a still-forming bar would give, without changing state.
    std::vector<double> peek(const Bar& bar) const;

    virtual void reset() = 0;
    // save() writes the whole state; restore() accepts only a save() of an
    // indicator with the same name and parameters and throws StateError otherwise.
    void save(StateWriter& out) const;
    void restore(StateReader& in);
    virtual std::unique_ptr<Indicator> clone() const = 0;

protected:
    friend const std::vector<IndicatorSpec>& registry();
    friend class IndicatorSet;
    Indicator() noexcept;
    // Links the kernels this indicator computes like others of its set; most have none.
    virtual void share(SharedStates&) {}
    // A set passes each bar down its members (see IndicatorSet::update_valid):
    // chain() runs update_valid(), then the next member's Link, which does the
    // same for that member (its chain() without the vtable).
    virtual void chain(const Bar& bar) noexcept = 0;
    using Link = void (*)(Indicator&, const Bar&) noexcept;
    virtual Link link() const noexcept = 0;
    // Called for valid bars only; writes out_ when the indicator has a value.
    virtual void step(const Bar& bar) noexcept = 0;
    virtual void save_fields(StateWriter& out) const = 0;
    virtual void restore_fields(StateReader& in) = 0;

    // The most outputs any indicator has (BBANDS, MACD).
    static constexpr std::size_t kMaxOutputs = 3;

    // What a set's chain reads and writes on every bar, in the object's first
    // cache line: the full set touched 530 lines of data per bar (34 KB, above
    // a 32 KB L1 cache, so every bar reloaded them), three per member where
    // the hot fields straddled lines and the next member's vtable was read.
    Indicator* next_in_set_ = nullptr;  // the set member after this one, or the set's chain end
    Link next_link_ = nullptr;          // next_in_set_'s link()
    std::size_t bars_seen_ = 0;
    std::array<double, kMaxOutputs> out_;  // inside the object: a heap vector would be one more line

    // What the chain never reads. The most derived class (Member, impl.hpp)
    // keeps it after the indicator's own state, which thus starts in this
    // first line: a member that reads a kernel another member advances keeps
    // its pointer to it first and touches one line of its own per bar. The
    // full set touched 369 lines of data per bar with the identity held here,
    // 299 with it at the end.
    struct Identity {
        const IndicatorSpec* spec = nullptr;  // set by the registry's factory
        Params params;
    };
    virtual const Identity& identity() const noexcept = 0;
};

// Batch computation = a loop of update(): result[k][i] is output k after bar i
// (NaN before ready() and for bars update() rejected). Appends to `result`,
// so a series can be fed in chunks.
void compute(Indicator& ind, std::span<const Bar> bars, std::vector<std::vector<double>>& result);
std::vector<std::vector<double>> compute(Indicator& ind, std::span<const Bar> bars);

// ---- registry -----------------------------------------------------------

// A parsed reference such as "bbands(20,2,2).upperband": spec, full parameter list
// (defaults filled in) and the selected output (or all outputs when none named).
struct IndicatorRef {
    const IndicatorSpec* spec = nullptr;
    Params params;
    int output = -1;  // -1: all outputs
    std::string canonical() const;  // "bbands(20,2,2,0).upperband"
    std::unique_ptr<Indicator> make() const { return spec->make(params); }
};

class IndicatorError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// All registered indicators, in a stable order (group, then name).
const std::vector<IndicatorSpec>& registry();
const IndicatorSpec* find(std::string_view name);  // case-insensitive, nullptr if unknown
// Parses "name", "name(p1,p2,...)" and "name(...).output"; the output may be a
// unique prefix ("bbands.upper"). Throws IndicatorError naming the problem.
IndicatorRef parse(std::string_view text);
inline std::unique_ptr<Indicator> make(std::string_view text) { return parse(text).make(); }

// ---- sets ----------------------------------------------------------------

// Indicators fed the same bars, as a feature engine runs them. State that
// several members compute alike (Wilder's DM sums under PLUS_DM ... ADXR, the
// regression sums under LINEARREG* and TSF, a window's extremes under MAX ...
// MINMAXINDEX, the averages under APO, PPO and MACDEXT, the recent candles under
// the patterns) is kept once and advanced once per bar, so a set costs less
// than its members apart; the same indicator added twice (one output each of
// BBANDS, say) is one object. Every value is bit for bit what the member
// computes alone. Copies are deep.
class IndicatorSet {
public:
    IndicatorSet();
    ~IndicatorSet();
    IndicatorSet(const IndicatorSet& o);
    IndicatorSet& operator=(const IndicatorSet& o);
    IndicatorSet(IndicatorSet&&) noexcept;
    IndicatorSet& operator=(IndicatorSet&&) noexcept;

    // Adds a fresh member and returns its index. A member equal to one added
    // before the first bar (same name and parameters) is that one.
    std::size_t add(const IndicatorRef& ref);
    std::size_t size() const noexcept { return member_.size(); }
    const Indicator& operator[](std::size_t i) const noexcept { return *items_[member_[i]]; }

    // Indicator::update for every member: false, with no change of state,
    // when the bar fails check_bar().
    bool update(const Bar& bar) noexcept {
        if (check_bar(bar) != BarProblem::none) return false;
        update_valid(bar);
        return true;
    }
    // Each member passes the bar on to the next: every call site of the chain
    // belongs to one indicator type and always goes to the same next member,
    // so the CPU predicts it, where a loop's single call site reaching dozens
    // of types in turn is mispredicted on most calls (measured 14 ns a call).
    void update_valid(const Bar& bar) noexcept {
        if (!items_.empty()) items_.front()->chain(bar);
    }
    void reset();
    // The distinct members' save()s in order; restore() as Indicator::restore for each.
    void save(StateWriter& out) const;
    void restore(StateReader& in);

private:
    static Indicator& chain_end();
    StateArena& arena();
    void attach(std::size_t i);
    void link();
    std::unique_ptr<StateArena> arena_;               // before items_: it holds them and outlives them
    std::vector<std::unique_ptr<Indicator>> items_;  // distinct indicators, in the order they run
    std::vector<std::size_t> member_;                // index in add() order -> item
    std::unique_ptr<SharedStates> shared_;
};

}  // namespace pricecast::indicators
