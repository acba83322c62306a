#include "indicators/indicator.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {

std::string_view to_string(Group g) {
    switch (g) {
        case Group::overlap: return "overlap";
        case Group::momentum: return "momentum";
        case Group::volatility: return "volatility";
        case Group::volume: return "volume";
        case Group::price: return "price";
        case Group::statistic: return "statistic";
        case Group::cycle: return "cycle";
        case Group::pattern: return "pattern";
    }
    return "unknown";
}

Indicator::Indicator() noexcept {
    out_.fill(std::numeric_limits<double>::quiet_NaN());
}

std::vector<double> Indicator::peek(const Bar& bar) const {
    auto copy = clone();
    copy->update(bar);
    auto v = copy->values();
    return {v.begin(), v.end()};
}

namespace {
// Bumped whenever an indicator's saved fields change meaning, so that an older
// snapshot is refused instead of restored into the wrong fields.
// 2: WMA, TRIMA and T3 keep TA-Lib's running sums.
// 3: window extremes keep blocks of values instead of a monotonic deque.
// 4: kernels that members of a set may share are saved with their bar count.
// 5: MAX, MIN, MIDPRICE and the patterns keep their windows as shared kernels.
// 6: AD and ADOSC share the A/D line (and, with it, its bar count).
// 7: the patterns' shared candle history keeps TA-Lib's totals; CCI's mirrored
//    window; STOCH and STOCHF share their %K average.
// 8: pairs: ULTOSC, AVGDEV, CORREL, BETA, MFI, the fast %K and high/low windows
//    (STOCH*, WILLR, MIDPRICE, MIDPOINT), MAX/MIN and their indices (one
//    kernel); SMA, MA(matype 0) and SUM share a window sum, BBANDS its
//    variance with VAR and STDDEV.
constexpr std::uint32_t kStateVersion = 8;
}  // namespace

void Indicator::save(StateWriter& out) const {
    out.tag(spec().name);
    out(kStateVersion, params(), values(), bars_seen_);
    save_fields(out);
}

void Indicator::restore(StateReader& in) {
    in.tag(spec().name);
    std::uint32_t version = 0;
    in(version);
    if (version != kStateVersion)
        throw StateError("snapshot of " + spec().name + " is from another indicator state version (" +
                         std::to_string(version) + ", this build reads " + std::to_string(kStateVersion) + ")");
    Params saved;
    in(saved);
    if (saved != params()) throw StateError("snapshot of " + spec().name + " has other parameters");
    // Saved as a sized list; the reader refuses a count other than the outputs'.
    std::span<double> outs(out_.data(), values().size());
    in(outs, bars_seen_);
    restore_fields(in);
}

void compute(Indicator& ind, std::span<const Bar> bars, std::vector<std::vector<double>>& result) {
    const auto outputs = ind.values().size();
    result.resize(outputs);
    for (auto& col : result) col.reserve(col.size() + bars.size());
    for (const Bar& b : bars) {
        const bool ok = ind.update(b);
        for (std::size_t k = 0; k < outputs; ++k)
            result[k].push_back(ok && ind.ready() ? ind.value(k) : std::numeric_limits<double>::quiet_NaN());
    }
}

std::vector<std::vector<double>> compute(Indicator& ind, std::span<const Bar> bars) {
    std::vector<std::vector<double>> result;
    compute(ind, bars, result);
    return result;
}

// ---- sets ------------------------------------------------------------------

namespace {

// Follows the last member of every set, so that members pass each bar on
// without testing whether another follows (two instructions each, on every
// bar, for every member). It keeps no state: all sets and threads share it.
class ChainEnd final : public Indicator {
public:
    ChainEnd() = default;
    int lookback() const override { return 0; }
    void reset() override {}
    std::unique_ptr<Indicator> clone() const override { return std::make_unique<ChainEnd>(); }

private:
    Link link() const noexcept override {
        return [](Indicator&, const Bar&) noexcept {};
    }
    void chain(const Bar&) noexcept override {}
    void step(const Bar&) noexcept override {}
    void save_fields(StateWriter&) const override {}
    void restore_fields(StateReader&) override {}
    const Identity& identity() const noexcept override {
        static const Identity none;
        return none;
    }
};

}  // namespace

Indicator& IndicatorSet::chain_end() {
    static ChainEnd end;
    return end;
}

// ---- state arenas -----------------------------------------------------------

namespace {
thread_local StateArena* current_arena = nullptr;
}  // namespace

void* StateArena::allocate(std::size_t bytes, std::size_t align) {
    auto at = reinterpret_cast<std::uintptr_t>(next_);
    std::size_t pad = (align - at % align) % align;
    if (!next_ || pad + bytes > static_cast<std::size_t>(end_ - next_)) {
        const std::size_t size = std::max(kBlock, bytes + align);
        blocks_.push_back(std::make_unique<std::byte[]>(size));
        next_ = blocks_.back().get();
        end_ = next_ + size;
        at = reinterpret_cast<std::uintptr_t>(next_);
        pad = (align - at % align) % align;
    }
    void* p = next_ + pad;
    next_ += pad + bytes;
    return p;
}

ArenaScope::ArenaScope(StateArena& arena) noexcept : outer_(current_arena) { current_arena = &arena; }
ArenaScope::~ArenaScope() { current_arena = outer_; }

// The byte after the block says whether an arena holds it: a header before
// it would cost a whole alignment (64 bytes for an indicator).
void* allocate_state(std::size_t bytes, std::size_t align) {
    StateArena* arena = current_arena;
    auto* p = static_cast<std::byte*>(arena ? arena->allocate(bytes + 1, align)
                                            : ::operator new(bytes + 1, std::align_val_t(align)));
    p[bytes] = std::byte{arena != nullptr};
    return p;
}

void free_state(void* p, std::size_t bytes, std::size_t align) noexcept {
    auto* block = static_cast<std::byte*>(p);
    if (block && block[bytes] == std::byte{0}) ::operator delete(block, bytes + 1, std::align_val_t(align));
}

void* Indicator::operator new(std::size_t bytes, std::align_val_t align) {
    return allocate_state(bytes, static_cast<std::size_t>(align));
}
void Indicator::operator delete(void* p, std::size_t bytes, std::align_val_t align) noexcept {
    free_state(p, bytes, static_cast<std::size_t>(align));
}

// ---- sets ---------------------------------------------------------------------

IndicatorSet::IndicatorSet() = default;
IndicatorSet::~IndicatorSet() = default;
IndicatorSet::IndicatorSet(IndicatorSet&&) noexcept = default;

// Not the default: that would free the arena before the members in it.
IndicatorSet& IndicatorSet::operator=(IndicatorSet&& o) noexcept {
    items_.clear();
    items_ = std::move(o.items_);
    arena_ = std::move(o.arena_);
    member_ = std::move(o.member_);
    shared_ = std::move(o.shared_);
    return *this;
}

// The arena and the kernel table are made when first needed: a new set has
// none, nor has one a move left empty.
StateArena& IndicatorSet::arena() {
    if (!arena_) arena_ = std::make_unique<StateArena>();
    return *arena_;
}

IndicatorSet::IndicatorSet(const IndicatorSet& o) : IndicatorSet() {
    ArenaScope in_arena(arena());
    for (const auto& x : o.items_) items_.push_back(x->clone());
    member_ = o.member_;
    link();
}

IndicatorSet& IndicatorSet::operator=(const IndicatorSet& o) {
    if (this != &o) *this = IndicatorSet(o);
    return *this;
}

std::size_t IndicatorSet::add(const IndicatorRef& ref) {
    for (std::size_t i = 0; i < items_.size(); ++i) {
        const Indicator& x = *items_[i];
        if (&x.spec() == ref.spec && x.params() == ref.params && x.bars_seen() == 0) {
            member_.push_back(i);
            return member_.size() - 1;
        }
    }
    member_.push_back(items_.size());
    ArenaScope in_arena(arena());
    items_.push_back(ref.make());
    attach(items_.size() - 1);
    return member_.size() - 1;
}

// Links item i's kernels and puts it after item i-1, last on the chain.
void IndicatorSet::attach(std::size_t i) {
    if (!shared_) shared_ = std::make_unique<SharedStates>();
    items_[i]->share(*shared_);
    items_[i]->next_in_set_ = &chain_end();
    items_[i]->next_link_ = chain_end().link();
    if (i > 0) {
        items_[i - 1]->next_in_set_ = items_[i].get();
        items_[i - 1]->next_link_ = items_[i]->link();
    }
}

// Clones and reset members own their kernels again and belong to no chain:
// link them afresh.
void IndicatorSet::link() {
    shared_ = std::make_unique<SharedStates>();
    for (std::size_t i = 0; i < items_.size(); ++i) attach(i);
}

void IndicatorSet::reset() {
    for (auto& x : items_) x->reset();
    link();
}

void IndicatorSet::save(StateWriter& out) const {
    for (const auto& x : items_) x->save(out);
}

// Members that share a kernel each restore it, with the same saved values.
void IndicatorSet::restore(StateReader& in) {
    for (auto& x : items_) x->restore(in);
}

// ---- registry -----------------------------------------------------------

namespace {

std::vector<IndicatorSpec> build_registry() {
    std::vector<IndicatorSpec> specs;
    register_overlap(specs);
    register_momentum(specs);
    register_directional(specs);
    register_volatility(specs);
    register_volume(specs);
    register_price(specs);
    register_statistic(specs);
    register_patterns(specs);
    std::stable_sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) {
        return std::pair(a.group, a.name) < std::pair(b.group, b.name);
    });
    return specs;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string format_param(double v) {
    return v == std::floor(v) && std::abs(v) < 1e15 ? fmt::format("{}", static_cast<long long>(v))
                                                    : fmt::format("{}", v);
}

}  // namespace

// Indicator objects keep a pointer to their spec; the registry is built once and
// never changes, so the pointers stay valid for the life of the process.
const std::vector<IndicatorSpec>& registry() {
    static const std::vector<IndicatorSpec> specs = [] {
        auto s = build_registry();
        for (auto& spec : s) {
            auto raw = std::move(spec.make);
            const IndicatorSpec* self = &spec;
            if (spec.outputs.size() > Indicator::kMaxOutputs)
                throw std::logic_error(spec.name + ": an indicator has at most 3 outputs");
            spec.make = [raw, self](const Params& p) {
                auto ind = raw(p);
                const_cast<Indicator::Identity&>(ind->identity()).spec = self;  // a Member's, not const
                return ind;
            };
        }
        return s;
    }();
    return specs;
}

const IndicatorSpec* find(std::string_view name) {
    auto key = lower(trim(name));
    for (const auto& s : registry())
        if (s.name == key) return &s;
    return nullptr;
}

std::string IndicatorRef::canonical() const {
    std::string r = spec->name;
    if (!params.empty()) {
        r += '(';
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (i) r += ',';
            r += format_param(params[i]);
        }
        r += ')';
    }
    if (output >= 0) r += "." + spec->outputs[static_cast<std::size_t>(output)];
    return r;
}

IndicatorRef parse(std::string_view text) {
    std::string_view s = trim(text);
    std::string_view name = s, args, out;
    bool has_args = false;
    if (auto open = s.find('('); open != std::string_view::npos) {
        auto close = s.find(')', open);
        if (close == std::string_view::npos) throw IndicatorError(fmt::format("'{}': missing ')'", text));
        name = s.substr(0, open);
        args = s.substr(open + 1, close - open - 1);
        has_args = true;
        auto rest = trim(s.substr(close + 1));
        if (!rest.empty()) {
            if (rest.front() != '.') throw IndicatorError(fmt::format("'{}': unexpected '{}'", text, rest));
            out = trim(rest.substr(1));
        }
    } else if (auto dot = s.find('.'); dot != std::string_view::npos) {
        name = s.substr(0, dot);
        out = trim(s.substr(dot + 1));
    }
    IndicatorRef ref;
    ref.spec = find(name);
    if (!ref.spec) throw IndicatorError(fmt::format("unknown indicator '{}' (see `pricecast indicators list`)", trim(name)));
    const auto& ps = ref.spec->params;
    for (const auto& p : ps) ref.params.push_back(p.default_value);

    if (has_args && !trim(args).empty()) {
        std::size_t i = 0;
        while (true) {
            auto comma = args.find(',');
            auto tok = trim(args.substr(0, comma));
            if (i >= ps.size())
                throw IndicatorError(fmt::format("'{}': {} takes {} parameter(s)", text, ref.spec->name, ps.size()));
            double v = 0;
            auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
            if (ec != std::errc() || ptr != tok.data() + tok.size() || !std::isfinite(v))
                throw IndicatorError(fmt::format("'{}': parameter {} ({}) is not a number: '{}'", text, i + 1,
                                                 ps[i].name, tok));
            if (ps[i].integer && v != std::floor(v))
                throw IndicatorError(fmt::format("'{}': {} must be an integer", text, ps[i].name));
            if (v < ps[i].min || v > ps[i].max)
                throw IndicatorError(fmt::format("'{}': {} must be in [{}, {}]", text, ps[i].name,
                                                 format_param(ps[i].min), format_param(ps[i].max)));
            ref.params[i++] = v;
            if (comma == std::string_view::npos) break;
            args.remove_prefix(comma + 1);
        }
    }
    if (!out.empty()) {
        auto key = lower(out);
        int found = -1;
        for (std::size_t i = 0; i < ref.spec->outputs.size(); ++i) {
            const auto& o = ref.spec->outputs[i];
            if (o == key) { found = static_cast<int>(i); break; }
            if (o.starts_with(key)) {
                if (found >= 0) throw IndicatorError(fmt::format("'{}': output '{}' is ambiguous", text, out));
                found = static_cast<int>(i);
            }
        }
        if (found < 0) throw IndicatorError(fmt::format("'{}': {} has no output '{}'", text, ref.spec->name, out));
        ref.output = found;
    }
    return ref;
}

}  // namespace pricecast::indicators
