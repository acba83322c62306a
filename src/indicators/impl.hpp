// Internals shared by the indicator families (not part of the public API).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "indicators/indicator.hpp"

namespace pricecast::indicators {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// CRTP base: a concrete indicator is a value type constructed from its Params,
// with `template <class V> void fields(V& v)` listing its state once; reset
// and save/restore follow from that (clone and the set's chain: Member, below).
// Each step() is [[gnu::hot]]: GCC gathers hot functions in .text.hot, so the
// per-bar code of all indicators sits together instead of among construction,
// registry and snapshot code (the full set run bar by bar measured faster, in
// two different binaries).
template <class T>
class Member;

template <class Derived>
class IndicatorImpl : public Indicator {
public:
    // Replaces the indicator's own state; its identity stays.
    void reset() override {
        Member<Derived> fresh(params());
        self() = std::move(static_cast<Derived&>(fresh));
    }

protected:
    using Indicator::Indicator;
    void save_fields(StateWriter& out) const override { const_cast<Derived&>(self()).fields(out); }
    void restore_fields(StateReader& in) override { self().fields(in); }

private:
    Derived& self() { return static_cast<Derived&>(*this); }
    const Derived& self() const { return static_cast<const Derived&>(*this); }
};

// ---- where a set's state lives ---------------------------------------------

// Memory for one IndicatorSet's members and their buffers, handed out in
// order from large blocks and freed with the set, so that a set's state lies
// in a few pages whatever the process's heap looks like: built on a heap that
// other allocations had fragmented, the full set ran 15% slower, its windows
// scattered over pages and cache sets.
class StateArena {
public:
    void* allocate(std::size_t bytes, std::size_t align);

private:
    static constexpr std::size_t kBlock = std::size_t{64} << 10;
    std::vector<std::unique_ptr<std::byte[]>> blocks_;
    std::byte* next_ = nullptr;
    std::byte* end_ = nullptr;
};

// While one is alive, this thread's indicator objects and state buffers come
// from `arena` (IndicatorSet::add and its copies make their members in one).
class ArenaScope {
public:
    explicit ArenaScope(StateArena& arena) noexcept;
    ~ArenaScope();
    ArenaScope(const ArenaScope&) = delete;
    ArenaScope& operator=(const ArenaScope&) = delete;

private:
    StateArena* outer_;
};

// Memory for indicator state: from the thread's arena when there is one,
// else the heap. free_state() returns heap blocks and leaves arena ones to
// their arena (a byte after the block says which).
void* allocate_state(std::size_t bytes, std::size_t align);
void free_state(void* p, std::size_t bytes, std::size_t align) noexcept;

template <class T>
struct StateAllocator {
    using value_type = T;
    StateAllocator() = default;
    template <class U>
    StateAllocator(const StateAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(allocate_state(n * sizeof(T), alignof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { free_state(p, n * sizeof(T), alignof(T)); }
    friend bool operator==(StateAllocator, StateAllocator) noexcept { return true; }
};

// The buffers of windows and other kernels.
template <class T>
using StateVector = std::vector<T, StateAllocator<T>>;

// ---- state shared within an IndicatorSet ----------------------------------

template <class K>
class Shared;

// The shared kernels of one IndicatorSet, by kernel type and key. The set's
// members own them, and live as long as the set.
class SharedStates {
public:
    // Makes `s` read the kernel already here under `key`, when there is one
    // at the same bar; otherwise puts `s`'s kernel here for the next ones.
    // Returns whether `s` kept its own (so a kernel holding shared parts of
    // its own links them next).
    template <class K>
    bool link(Shared<K>& s, const std::string& key) {
        void*& slot = slots_[{std::type_index(typeid(K)), key}];
        if (slot) {
            auto* theirs = static_cast<typename Shared<K>::Slot*>(slot);
            if (theirs->seen == s.active_->seen) {
                s.active_ = theirs;
                return false;
            }
        }
        slot = s.active_;
        return true;
    }

private:
    std::map<std::pair<std::type_index, std::string>, void*> slots_;
};

// The key of a kernel that differs by period alone.
inline std::string period_key(int period) { return std::to_string(period); }

// A kernel (a moving average, Wilder's DM sums, a window's extremes) that
// several indicators of one set compute alike. Each indicator holds its own
// copy inline; IndicatorSet points the indicators with equal kernels at the
// first one's copy, which the first of them to see a bar advances and the
// others read. A copy (clone, peek) is deep: it copies the state it reads and
// shares nothing with the original. An indicator declares its Shared first:
// a reader's pointer to the kernel then sits in the object's first line,
// beside what the chain reads, and the reader touches no other line of its
// own (see Indicator::Identity).
template <class K>
class Shared {
public:
    Shared() = default;
    explicit Shared(K kernel) : own_{std::move(kernel)} {}
    Shared(const Shared& o) : own_(*o.active_) {}
    Shared& operator=(const Shared& o) {
        if (this != &o) own_ = *o.active_, active_ = &own_;
        return *this;
    }
    // Copies too when `o` reads another's kernel, which must not be moved from.
    Shared(Shared&& o) : own_(o.linked() ? *o.active_ : std::move(o.own_)) {}
    Shared& operator=(Shared&& o) {
        if (this != &o) own_ = o.linked() ? *o.active_ : std::move(o.own_), active_ = &own_;
        return *this;
    }

    // Feeds the kernel the caller's input number `seen` (zero-based) unless a
    // sharer already did; returns what the kernel's update returned (true for
    // kernels whose update returns nothing). A kernel that holds shared parts
    // of its own takes update(x, seen) and advances them the same way.
    template <class X>
    [[gnu::always_inline]] bool advance(const X& x, std::size_t seen) noexcept {
        Slot& s = *active_;
        if constexpr (requires { s.kernel.update(x, seen); }) {  // holds shared parts of its own
            if (s.seen == seen) s.ready = s.kernel.update(x, seen), ++s.seen;
        } else if constexpr (std::is_void_v<decltype(s.kernel.update(x))>) {
            if (s.seen == seen) s.kernel.update(x), ++s.seen;
            return true;
        } else {
            if (s.seen == seen) s.ready = s.kernel.update(x), ++s.seen;
        }
        return s.ready;
    }
    const K& operator*() const noexcept { return active_->kernel; }
    const K* operator->() const noexcept { return &active_->kernel; }
    K& mutable_kernel() noexcept { return active_->kernel; }

    template <class V>
    void fields(V& v) { v(active_->kernel, active_->seen, active_->ready); }

private:
    friend class SharedStates;
    struct Slot {
        K kernel{};
        std::size_t seen = 0;
        bool ready = false;
    };
    bool linked() const noexcept { return active_ != &own_; }
    // active_ first: a member that reads another's kernel touches this line, not own_'s.
    Slot* active_ = &own_;  // own_, or the slot of the set member this one shares with
    Slot own_;
};

inline int iparam(const Params& p, std::size_t i) { return static_cast<int>(p.at(i)); }

// What a factory makes: the indicator T, then its identity, last (see Indicator::Identity).
// The set's chain (Indicator::chain) runs here: Member is final, so GCC calls
// T's step() directly and inlines it. From IndicatorImpl<T> it read the
// vtable to test the target first, for T outside an anonymous namespace
// (CloseKernel<EmaState>, ...): a line per member per bar.
template <class T>
class Member final : public T {
public:
    explicit Member(const Params& p) : T(p), id_{nullptr, p} {}
    std::unique_ptr<Indicator> clone() const override {
        auto copy = std::make_unique<Member>(*this);
        copy->next_in_set_ = nullptr;  // a copy belongs to no set
        return copy;
    }

private:
    Indicator::Link link() const noexcept override { return &link_to; }
    [[gnu::hot]] void chain(const Bar& bar) noexcept override {
        this->update_valid(bar);
        this->next_link_(*this->next_in_set_, bar);  // after the set's last member: its chain end
    }
    // A tail call from this type's own site, to the one member after it.
    static void link_to(Indicator& member, const Bar& bar) noexcept {
        static_cast<Member&>(member).Member::chain(bar);
    }
    const Indicator::Identity& identity() const noexcept override { return id_; }
    Indicator::Identity id_;
};

template <class T>
Factory factory() {
    return [](const Params& p) -> std::unique_ptr<Indicator> { return std::make_unique<Member<T>>(p); };
}

// A spec whose TA-Lib name is the upper-cased name.
inline IndicatorSpec spec(std::string name, std::string description, Group group, std::vector<std::string> inputs,
                          std::vector<ParamSpec> params, std::vector<std::string> outputs, Factory make,
                          bool integer_output = false) {
    std::string upper = name;
    for (auto& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    return {std::move(name), std::move(upper), std::move(description), group, std::move(inputs), std::move(params),
            std::move(outputs), integer_output, std::move(make)};
}

inline ParamSpec period_param(double def, double min = 2, const char* name = "timeperiod") {
    return {name, def, min, 100000, true};
}

// Wilder's true range of a bar against the previous close (TA-Lib's TRUE_RANGE).
inline double true_range(double high, double low, double prev_close) noexcept {
    double r = high - low;
    if (std::abs(high - prev_close) > r) r = std::abs(high - prev_close);
    if (std::abs(low - prev_close) > r) r = std::abs(low - prev_close);
    return r;
}

// a when c holds, else b, by masking bits: for conditions that are coin tosses
// on real prices (a bar up or down, a new high), where a branch would be
// mispredicted about every other bar. GCC turns a plain ?: on doubles back
// into a branch; it leaves this alone.
inline double select(bool c, double a, double b) noexcept {
    const std::uint64_t mask = std::uint64_t{0} - static_cast<std::uint64_t>(c);
    return std::bit_cast<double>((std::bit_cast<std::uint64_t>(a) & mask) | (std::bit_cast<std::uint64_t>(b) & ~mask));
}
// The same for an index.
inline std::size_t select(bool c, std::size_t a, std::size_t b) noexcept {
    const std::size_t mask = std::size_t{0} - static_cast<std::size_t>(c);
    return (a & mask) | (b & ~mask);
}

// TA-Lib's TA_IS_ZERO / TA_IS_ZERO_OR_NEG.
inline bool is_zero(double v) noexcept { return -0.00000000000001 < v && v < 0.00000000000001; }
inline bool is_zero_or_neg(double v) noexcept { return v < 0.00000000000001; }

// Two doubles in one SSE2 register (GCC's vector extension), for kernels that
// run two series side by side (high and low, a value and its negation, two
// flows): lane by lane each operation rounds as its scalar twin, so each
// series keeps the bits it had alone, in half the instructions. Loads and
// stores go through memcpy, as the pairs sit unaligned in double arrays.
using Pair = double __attribute__((vector_size(16)));
using Bits = std::uint64_t __attribute__((vector_size(16)));
inline Pair load(const double* p) noexcept {
    Pair x;
    std::memcpy(&x, p, sizeof x);
    return x;
}
inline void store(double* p, Pair x) noexcept { std::memcpy(p, &x, sizeof x); }
inline Bits load(const std::uint64_t* p) noexcept {
    Bits x;
    std::memcpy(&x, p, sizeof x);
    return x;
}
inline void store(std::uint64_t* p, Bits x) noexcept { std::memcpy(p, &x, sizeof x); }
inline constexpr Bits kAbs = {~0ULL >> 1, ~0ULL >> 1};  // clears the sign bits
// Written as x86's MAXPD defines it, so GCC emits just that (MAXSD lane by lane).
inline Pair pair_max(Pair a, Pair b) noexcept { return a > b ? a : b; }
// a where the lane's mask is set, else b: select() for pairs.
template <class Mask>
inline Bits blend(Mask m, Bits a, Bits b) noexcept {
    const auto mask = std::bit_cast<Bits>(m);
    return (a & mask) | (b & ~mask);
}

// An indicator that applies one scalar kernel to the close.
template <class Kernel>
class CloseKernel : public IndicatorImpl<CloseKernel<Kernel>> {
public:
    explicit CloseKernel(const Params& p) : k_(iparam(p, 0)) {}
    int lookback() const override { return k_.lookback(); }
    template <class V>
    void fields(V& v) { v(k_); }

private:
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        if (k_.update(b.close)) this->out_[0] = k_.value();
    }
    Kernel k_;
};

// Fixed-capacity window of the most recent values; never allocates after construction.
template <class T = double>
class Window {
public:
    Window() = default;
    explicit Window(std::size_t capacity) : buf_(capacity ? capacity : 1), cap_(buf_.size()) {}
    // Adds a value, dropping the oldest when full.
    void push(T v) noexcept {
        buf_[head_] = v;
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        size_ += size_ < cap_;
    }
    // ago(0) is the newest value, ago(size()-1) the oldest.
    const T& ago(std::size_t k) const noexcept {
        std::size_t i = head_ + cap_ - 1 - k;
        return buf_[i >= cap_ ? i - cap_ : i];
    }
    // Once full, the oldest value sits where the next push writes.
    const T& oldest() const noexcept { return full() ? buf_[head_] : ago(size_ - 1); }
    // Calls f(value) from the oldest value to the newest: the same order as
    // ago(size()-1) ... ago(0), as two contiguous runs instead of a wrap test
    // per value, for the indicators that loop over their whole window.
    template <class F>
    void for_each(F&& f) const noexcept {
        const std::size_t start = head_ >= size_ ? head_ - size_ : head_ + cap_ - size_;
        const std::size_t first_run = std::min(size_, cap_ - start);
        for (std::size_t i = 0; i < first_run; ++i) f(buf_[start + i]);
        for (std::size_t i = 0; i < size_ - first_run; ++i) f(buf_[i]);
    }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    bool full() const noexcept { return size_ == cap_; }
    void clear() noexcept { size_ = head_ = 0; }

    // cap_ is the buffer's length kept beside it (update() reads it on every
    // bar); it is refreshed here because a restore may resize the buffer.
    template <class V>
    void fields(V& v) {
        v(buf_, head_, size_);
        cap_ = buf_.size();
    }

private:
    StateVector<T> buf_ = StateVector<T>(1);
    std::size_t cap_ = 1;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

// Sum of the last `period` values. By default an exact recompute every
// `period * 64` updates keeps floating-point error from add/subtract from
// drifting on long streams. Statistics where TA-Lib's own rounding dominates
// (variances as E[x^2] - E[x]^2 on a small spread) pass `drift_fix = false` to
// reproduce TA-Lib's running sum operation for operation.
class WindowSum {
public:
    WindowSum() = default;
    explicit WindowSum(std::size_t period, bool drift_fix = true) : win_(period), drift_fix_(drift_fix) {}
    // The sum goes through a local: win_.push() stores a double, which the
    // compiler must otherwise assume may be sum_ and reload it. Always inlined:
    // GCC left it a call inside MovingAverage's dispatch, SMA's whole work.
    [[gnu::always_inline]] void push(double v) noexcept {
        double s = sum_;
        if (win_.full()) s -= win_.oldest();
        win_.push(v);
        sum_ = s + v;
        if (drift_fix_ && ++since_exact_ >= win_.capacity() * 64) resum();
    }
    double sum() const noexcept { return sum_; }
    bool full() const noexcept { return win_.full(); }
    const Window<double>& window() const noexcept { return win_; }

    template <class V>
    void fields(V& v) { v(win_, sum_, since_exact_); }

private:
    // Out of line and cold so that push() inlines into every caller.
    [[gnu::cold, gnu::noinline]] void resum() noexcept {
        since_exact_ = 0;
        double s = 0;
        win_.for_each([&s](double x) { s += x; });
        sum_ = s;
    }
    Window<double> win_;
    bool drift_fix_ = true;
    double sum_ = 0;
    std::size_t since_exact_ = 0;
};

// Max (or min) over the last `period` values in O(1) amortized (van Herk /
// Gil-Werman): the stream is cut into blocks of `period` values; the window is
// the tail of the previous block, whose suffix extremes are computed once when
// it completes, plus the head of the current block, whose extreme runs along.
// A push is a store and a comparison, where a monotonic deque runs a pop loop
// a data-dependent number of times (a mispredicted exit most pushes).
// On ties the newest occurrence wins, or with EarliestTie the oldest one still
// in the window (what TA-Lib's rescans pick in MAXINDEX/MININDEX/MINMAXINDEX).
template <bool IsMax, bool EarliestTie = false>
class WindowExtreme {
public:
    WindowExtreme() = default;
    explicit WindowExtreme(std::size_t period)
        : block_(period ? period : 1), suffix_(block_.size() + 1, kWorst), suffix_index_(block_.size() + 1) {}
    void push(double v) noexcept {
        const std::size_t today = count_++;
        block_[pos_] = v;
        const bool moves = newer_wins(v, head_);
        head_index_ = select(moves, today, head_index_);
        head_ = extreme(v, head_);
        if (++pos_ == block_.size()) [[unlikely]] close_block();  // once per block, out of line
    }
    // The window is the current block's head plus the previous block's tail
    // from pos_ on; suffix_[period] is a sentinel every value beats, for a
    // window that is the current block alone (and before the first block
    // completes). Combined when read, as MINMAXINDEX reads it only when its
    // pick leaves the window.
    double value() const noexcept { return extreme(head_, suffix_[pos_]); }
    // Zero-based index (in pushes) of the extreme's kept occurrence.
    std::size_t index() const noexcept {
        return select(newer_wins(head_, suffix_[pos_]), head_index_, suffix_index_[pos_]);
    }
    std::size_t count() const noexcept { return count_; }

    template <class V>
    void fields(V& v) {
        v(block_, suffix_, suffix_index_, pos_, head_, head_index_, count_);
        // A restored state indexes these by pos_: a damaged snapshot must not reach push().
        if (block_.empty() || suffix_.size() != block_.size() + 1 || suffix_index_.size() != block_.size() + 1 ||
            pos_ >= block_.size())
            throw StateError("snapshot: inconsistent window extreme state");
    }

    // Below (above) every value: the empty block's extreme.
    static constexpr double kWorst = IsMax ? -std::numeric_limits<double>::infinity()
                                           : std::numeric_limits<double>::infinity();
    // Written as x86's MAXSD / MINSD define it, so GCC emits just that. All
    // occurrences of an extreme are equal, so the value needs no tie rule.
    static double extreme(double a, double b) noexcept {
        if constexpr (IsMax) return a > b ? a : b;
        return a < b ? a : b;
    }

private:
    // Whether a value replaces an older one as the extreme.
    static bool newer_wins(double newer, double older) noexcept {
        if constexpr (EarliestTie) return IsMax ? newer > older : newer < older;
        return IsMax ? newer >= older : newer <= older;
    }
    // Suffix extremes of the completed block, newest first: the values as one
    // max (min) chain, then the indices, whose tests no longer wait on each
    // other, so each entry keeps the occurrence the tie rule picks.
    void close_block() noexcept {
        const std::size_t n = block_.size(), start = count_ - n;
        for (std::size_t j = n; j-- > 0;) suffix_[j] = extreme(block_[j], suffix_[j + 1]);
        for (std::size_t j = n; j-- > 0;)
            suffix_index_[j] = select(newer_wins(suffix_[j + 1], block_[j]), suffix_index_[j + 1], start + j);
        pos_ = 0;
        head_ = kWorst;  // the next value starts the new block's head
    }

    StateVector<double> block_ = StateVector<double>(1);
    StateVector<double> suffix_ = StateVector<double>(2, kWorst);
    StateVector<std::size_t> suffix_index_ = StateVector<std::size_t>(2);
    std::size_t pos_ = 0;
    double head_ = kWorst;
    std::size_t head_index_ = 0;
    std::size_t count_ = 0;
};

// VAR, STDDEV and BBANDS: population variance E[x^2] - E[x]^2 over the
// period, with TA-Lib's running sums in its order (add the new close,
// evaluate, then drop the oldest), so rounding follows TA-Lib on
// near-constant series.
class VarianceState {
public:
    VarianceState() = default;
    explicit VarianceState(int period) : period_(period), win_(static_cast<std::size_t>(period)) {}
    bool update(double x) noexcept {
        win_.push(x);
        sum_ += x;
        sum2_ += x * x;
        if (!win_.full()) return false;
        const double mean = sum_ / period_, mean2 = sum2_ / period_;
        const double old = win_.oldest();
        sum_ -= old;
        sum2_ -= old * old;
        var_ = mean2 - mean * mean;
        return true;
    }
    double value() const noexcept { return var_; }
    template <class V>
    void fields(V& v) { v(win_, sum_, sum2_, var_); }

private:
    int period_ = 1;
    Window<double> win_;
    double sum_ = 0, sum2_ = 0, var_ = 0;
};

// The highest a and the lowest b of the last `period` (a, b) pairs: WILLR and
// MIDPRICE (high, low), MIDPOINT (close, close), fast %K. WindowExtreme's
// blocks for the value alone, for both bounds at once: b is kept negated, so
// both bounds are one running max, a MAXPD a step with no branch, over one
// block of pairs. With no occurrence to pick, the max alone is the value; and
// negation is exact and max(-x, -y) = -min(x, y), so the bounds are a max and
// a min chain's, bit for bit.
class HighLowWindow {
public:
    HighLowWindow() = default;
    explicit HighLowWindow(int period)
        : period_(period > 0 ? static_cast<std::size_t>(period) : 1),
          block_(2 * period_),
          suffix_(2 * (period_ + 1), kWorst) {}
    void update(const Bar& b) noexcept { push(b.high, b.low); }
    // pos_ goes through a local: the pair stores are memcpys, which the
    // compiler must otherwise assume may overwrite it, and reload it.
    void push(double a, double b) noexcept {
        const std::size_t pos = pos_;
        const Pair v = {a, -b}, head = pair_max(v, load(head_.data()));
        store(block_.data() + 2 * pos, v);
        store(head_.data(), head);
        store(best_.data(), pair_max(head, load(suffix_.data() + 2 * (pos + 1))));  // suffix_ ends in the worst pair
        pos_ = pos + 1;
        if (pos + 1 == period_) [[unlikely]] close_block();  // once per block, out of line
    }
    std::size_t period() const noexcept { return period_; }
    double highest() const noexcept { return best_[0]; }
    double lowest() const noexcept { return -best_[1]; }
    template <class V>
    void fields(V& v) {
        v(block_, suffix_, pos_, head_, best_);
        // A restored state indexes these by pos_: a damaged snapshot must not reach push().
        if (block_.size() != 2 * period_ || suffix_.size() != 2 * (period_ + 1) || pos_ >= period_)
            throw StateError("snapshot: inconsistent high/low window");
    }

private:
    static constexpr double kWorst = -std::numeric_limits<double>::infinity();
    // Suffix bounds of the completed block, newest first, the running bound
    // kept in a register (through local pointers: a store could be the
    // vectors' own as far as the compiler knows).
    void close_block() noexcept {
        const double* block = block_.data();
        double* suffix = suffix_.data();
        Pair bound = load(suffix + 2 * period_);
        for (std::size_t j = period_; j-- > 0;) store(suffix + 2 * j, bound = pair_max(load(block + 2 * j), bound));
        pos_ = 0;
        head_ = {kWorst, kWorst};  // the next pair starts the new block's head
    }
    std::size_t period_ = 1;
    StateVector<double> block_ = StateVector<double>(2);
    StateVector<double> suffix_ = StateVector<double>(4, kWorst);
    std::size_t pos_ = 0;
    std::array<double, 2> head_{kWorst, kWorst}, best_{kWorst, kWorst};
};

// WILLR and MIDPRICE: Out::value(window, bar) of the highest high and lowest
// low of the last `period` bars, the window shared in a set by period.
template <class Out>
class HighLowIndicator : public IndicatorImpl<HighLowIndicator<Out>> {
public:
    explicit HighLowIndicator(const Params& p)
        : hl_(HighLowWindow(iparam(p, 0))) {}
    int lookback() const override { return static_cast<int>(hl_->period()) - 1; }
    template <class V>
    void fields(V& v) { v(hl_); }

private:
    void share(SharedStates& pool) override { pool.link(hl_, period_key(static_cast<int>(hl_->period()))); }
    [[gnu::hot]] void step(const Bar& b) noexcept override {
        hl_.advance(b, this->bars_seen_);
        if (this->bars_seen_ + 1 >= hl_->period()) this->out_[0] = Out::value(*hl_, b);
    }
    Shared<HighLowWindow> hl_;
};

// The last `period` values for kernels that loop over all of them (CCI,
// AVGDEV). Each is stored twice (at i and i + period), so the window always
// lies contiguous, oldest first: the loops run a fixed count with no wrap (two
// runs of lengths that changed every bar mispredicted their exits). They go by
// SSE2 pairs into two accumulators, four add chains of period / 4 where one
// had period; a window of odd length starts one value early, that lane masked
// out. The sums are thus in another order than TA-Lib's, off by a rounding of
// the sum. It also counts the values in a row equal to the one before, to tell
// a constant window, where that rounding is the whole deviation: there mean()
// and deviation() follow TA-Lib's add chains instead. Its owner counts the
// values pushed.
class PairWindow {
public:
    PairWindow() = default;
    explicit PairWindow(std::size_t period)
        : period_(period), pairs_((period + 1) / 2), lead_{period % 2 ? 0 : ~0ULL, ~0ULL}, buf_(2 * period + 1) {}
    void push(double v) noexcept {
        equal_ = v == newest() ? equal_ + 1 : 0;
        buf_[1 + head_] = buf_[1 + head_ + period_] = v;
        head_ = head_ + 1 == period_ ? 0 : head_ + 1;
    }
    double mean() const noexcept {
        const double n = static_cast<double>(period_);
        if (!constant()) [[likely]]
            return total([](Pair x) { return x; }) / n;
        double sum = 0;
        for (std::size_t i = 0; i < period_; ++i) sum += newest();
        return sum / n;
    }
    // The sum of |x - mean| over the window.
    double deviation(double mean) const noexcept {
        if (!constant()) [[likely]] {
            const Pair m = {mean, mean};
            return total([m](Pair x) { return std::bit_cast<Pair>(std::bit_cast<Bits>(x - m) & kAbs); });
        }
        double dev = 0;
        for (std::size_t i = 0; i < period_; ++i) dev += std::abs(newest() - mean);
        return dev;
    }
    template <class V>
    void fields(V& v) {
        v(buf_, head_, equal_);
        // The loops read the buffer from head_: a damaged snapshot must not reach them.
        if (buf_.size() != 2 * period_ + 1 || head_ >= period_)
            throw StateError("snapshot: inconsistent window state");
    }

private:
    bool constant() const noexcept { return equal_ + 1 >= period_; }
    double newest() const noexcept { return buf_[head_ == 0 ? period_ : head_]; }
    template <class F>
    [[gnu::always_inline]] double total(F f) const noexcept {
        const double* p = buf_.data() + 1 + head_ - (period_ & 1);
        Pair a = std::bit_cast<Pair>(std::bit_cast<Bits>(f(load(p))) & lead_), b = {0, 0};
        for (const double* const end = p + 4 * ((pairs_ - 1) / 2); p != end; p += 4)
            a += f(load(p + 2)), b += f(load(p + 4));
        if (pairs_ % 2 == 0) a += f(load(p + 2));
        a += b;
        return a[0] + a[1];
    }
    std::size_t period_ = 1, pairs_ = 1;
    Bits lead_ = {~0ULL, ~0ULL};  // all ones, but the lane before the window
    StateVector<double> buf_ = StateVector<double>(3);  // buf_[0] is that lane when head_ is 0
    std::size_t head_ = 0, equal_ = 0;
};

}  // namespace pricecast::indicators
