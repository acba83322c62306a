#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <tuple>

#include "core/text.hpp"
#include "features/bar_features.hpp"
#include "features/features.hpp"
#include "features/news_window.hpp"

namespace pricecast::features {
namespace {

Duration duration_or_throw(const std::string& text, const char* what) {
    auto d = parse_duration(text);
    if (!d || *d <= 0) throw std::invalid_argument(std::string(what) + ": '" + text + "' is not a duration (1m, 5m, 1h)");
    return *d;
}

std::vector<TimeframePlan> plan_timeframes(const FeatureConfig& cfg) {
    if (cfg.timeframes.empty()) throw std::invalid_argument("timeframes: give at least one (e.g. 1m)");
    std::vector<TimeframePlan> plans;
    for (const auto& tf : cfg.timeframes) {
        const Duration d = duration_or_throw(tf, "timeframes");
        if (!plans.empty() && (d <= plans.back().interval || d % plans.front().interval != 0))
            throw std::invalid_argument("timeframes: '" + tf + "' must be longer than '" + plans.back().name +
                                        "' and a multiple of the base timeframe '" + plans.front().name + "'");
        plans.push_back({tf, d, {}});
    }
    for (const auto& text : cfg.indicators) {
        std::string_view ref = text;
        std::string only;
        if (auto colon = ref.find(':'); colon != std::string_view::npos) {
            only = std::string(ref.substr(0, colon));
            ref.remove_prefix(colon + 1);
        }
        indicators::IndicatorRef parsed;
        try {
            parsed = indicators::parse(ref);
        } catch (const std::exception& e) {
            throw std::invalid_argument("indicators: '" + text + "': " + e.what());
        }
        bool placed = false;
        for (auto& p : plans)
            if (only.empty() || p.name == only) {
                p.refs.push_back(parsed);
                placed = true;
            }
        if (!placed)
            throw std::invalid_argument("indicators: '" + text + "' names timeframe '" + only +
                                        "', which is not among the configured timeframes");
    }
    return plans;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ULL) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

// Empty or invalid UTF-8 text gets a reason; valid text none.
std::optional<Rejection> text_problem(const NewsItem& n) {
    if (is_blank(n.headline) && is_blank(n.body)) return Rejection::empty_text;
    if (invalid_utf8_at(n.headline) || invalid_utf8_at(n.body)) return Rejection::invalid_utf8;
    return std::nullopt;
}

void save_bar(StateWriter& w, const Bar& b) {
    w(b.symbol, b.interval, b.open_time, b.close_time, b.open, b.high, b.low, b.close, b.volume, b.trade_count);
}
void restore_bar(StateReader& r, Bar& b) {
    r(b.symbol, b.interval, b.open_time, b.close_time, b.open, b.high, b.low, b.close, b.volume, b.trade_count);
}

constexpr Timestamp kNever = std::numeric_limits<Timestamp>::min() / 2;

}  // namespace

std::vector<std::string> FeatureConfig::default_indicators() {
    return {
        // overlap studies
        "sma(5)", "sma(20)", "ema(12)", "ema(26)", "wma(10)", "dema(10)", "tema(10)", "kama(10)", "t3(5)",
        "trima(10)", "midpoint(14)", "midprice(14)", "sar", "bbands(20,2,2)",
        // momentum
        "rsi(14)", "macd(12,26,9)", "adx(14)", "adxr(14)", "plus_di(14)", "minus_di(14)", "apo", "ppo",
        "aroon(14)", "aroonosc(14)", "bop", "cci(14)", "cmo(14)", "mom(10)", "roc(10)", "stoch", "stochf",
        "stochrsi", "trix(15)", "ultosc", "willr(14)", "mfi(14)",
        // volatility, volume, statistics
        "atr(14)", "natr(14)", "trange", "obv", "ad", "adosc", "stddev(20)", "linearreg_slope(14)", "tsf(14)",
        "correl(30)", "beta(5)",
        // candlestick patterns
        "cdldoji", "cdlhammer", "cdlengulfing", "cdlharami", "cdlshootingstar", "cdlhangingman",
        "cdlinvertedhammer", "cdlmorningstar", "cdleveningstar", "cdl3whitesoldiers", "cdl3blackcrows",
        "cdlmarubozu", "cdlspinningtop", "cdldragonflydoji", "cdlgravestonedoji"};
}

std::string_view to_string(Rejection r) {
    switch (r) {
        case Rejection::late: return "late (event time behind the watermark)";
        case Rejection::missing_time: return "missing event time";
        case Rejection::empty_text: return "empty text";
        case Rejection::invalid_utf8: return "invalid UTF-8";
        case Rejection::unknown_symbol: return "unknown symbol";
        case Rejection::unscored: return "no sentiment score in [-1, 1]";
        case Rejection::bad_bar: return "invalid bar values";
        case Rejection::wrong_interval: return "not a bar of the base timeframe";
        case Rejection::out_of_order: return "bar not after the previous bar of its symbol";
        case Rejection::duplicate: return "duplicate news item";
    }
    return "?";
}

std::uint64_t PipelineStats::rejected_total() const {
    std::uint64_t n = 0;
    for (auto r : rejected) n += r;
    return n;
}

// ---- schema ------------------------------------------------------------------------

FeatureSchema::FeatureSchema(std::vector<FeatureColumn> columns) : columns_(std::move(columns)) {
    hash_ = fnv1a("pricecast-features-v1\n");
    for (const auto& c : columns_) {
        hash_ = fnv1a(c.name + '\t' + std::to_string(static_cast<int>(c.kind)) + '\t' + c.timeframe + '\t' + c.source +
                          '\t' + (c.integer ? "int" : "real") + '\n',
                      hash_);
    }
}

std::string FeatureSchema::hash_hex() const {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i) s[static_cast<std::size_t>(15 - i)] = digits[(hash_ >> (4 * i)) & 0xF];
    return s;
}

std::size_t FeatureSchema::index(std::string_view name) const {
    for (std::size_t i = 0; i < columns_.size(); ++i)
        if (columns_[i].name == name) return i;
    throw std::out_of_range("no feature column '" + std::string(name) + "'");
}

// ---- pipeline --------------------------------------------------------------------------

struct SymbolState {
    std::vector<TimeframeFeatures> timeframes;
    NewsWindow news;
    Timestamp last_close = kNever;  // last accepted bar (held or processed)
};

struct Pipeline::Impl {
    FeatureConfig cfg;
    std::vector<TimeframePlan> plans;
    std::vector<Duration> windows;
    Duration lateness = 0;
    FeatureSchema schema;
    std::size_t sentiment_offset = 0;  // first sentiment column
    std::size_t pct_change_col = 0, volume_ratio_col = 0;

    std::map<std::string, SymbolState, std::less<>> symbols;
    NewsWindow market;
    std::map<std::pair<Timestamp, std::string>, Bar> held;  // by (close time, symbol)
    Timestamp max_bar_time = kNever;
    PipelineStats stats;

    // Market-wide statistics are the same for every symbol closing at one time.
    Timestamp market_cache_time = kNever;
    std::vector<double> market_cache;

    explicit Impl(FeatureConfig c) : cfg(std::move(c)), plans(plan_timeframes(cfg)) {
        lateness = cfg.lateness.empty() ? 0 : duration_or_throw(cfg.lateness, "lateness");
        for (const auto& w : cfg.sentiment_windows) windows.push_back(duration_or_throw(w, "sentiment_windows"));
        schema = FeatureSchema(columns());
        pct_change_col = derived_offset(plans.front(), "pct_change(1)");
        volume_ratio_col = derived_offset(plans.front(), "volume_ratio(20)");
    }

    std::vector<FeatureColumn> columns() {
        std::vector<FeatureColumn> cols;
        for (const auto& p : plans) append_columns(p, cols);
        sentiment_offset = cols.size();
        for (const char* scope : {"sent", "market"})
            for (std::size_t w = 0; w < windows.size(); ++w)
                for (const char* stat : kWindowStats)
                    cols.push_back({std::string(scope) + ":" + cfg.sentiment_windows[w] + ":" + stat,
                                    ColumnKind::sentiment, cfg.sentiment_windows[w], stat,
                                    std::string_view(stat) == "count"});
        if (!windows.empty()) {
            const std::string w = cfg.sentiment_windows.front();
            const std::string base = plans.front().name;
            cols.push_back({"x:" + base + ":pct_change(1)*sent:" + w + ":mean", ColumnKind::interaction, base,
                            "pct_change(1)*mean", false});
            cols.push_back({"x:" + base + ":volume_ratio(20)*sent:" + w + ":count", ColumnKind::interaction, base,
                            "volume_ratio(20)*count", false});
        }
        return cols;
    }

    Timestamp watermark() const { return max_bar_time == kNever ? kNever : max_bar_time - lateness; }

    bool known(std::string_view symbol) const {
        return cfg.symbols.empty() || std::find(cfg.symbols.begin(), cfg.symbols.end(), symbol) != cfg.symbols.end();
    }

    SymbolState& state_of(const std::string& symbol) {
        auto it = symbols.find(symbol);
        if (it != symbols.end()) return it->second;
        SymbolState s;
        for (const auto& p : plans) s.timeframes.emplace_back(p);
        return symbols.emplace(symbol, std::move(s)).first->second;
    }

    std::optional<Rejection> reject(Rejection r) {
        ++stats.rejected[static_cast<std::size_t>(r)];
        return r;
    }

    std::optional<Rejection> push_bar(const Bar& b, const VectorSink& sink) {
        ++stats.bars_in;
        if (check_bar(b) != BarProblem::none) return reject(Rejection::bad_bar);
        if (b.close_time - b.open_time != plans.front().interval) return reject(Rejection::wrong_interval);
        if (!known(b.symbol)) return reject(Rejection::unknown_symbol);
        if (b.close_time < watermark()) return reject(Rejection::late);
        SymbolState& s = state_of(b.symbol);
        if (b.close_time <= s.last_close) return reject(Rejection::out_of_order);
        s.last_close = b.close_time;
        held.emplace(std::pair{b.close_time, b.symbol}, b);
        max_bar_time = std::max(max_bar_time, b.close_time);
        emit_ready(sink);
        return std::nullopt;
    }

    std::optional<Rejection> push_news(const NewsItem& n, const VectorSink& sink) {
        ++stats.news_in;
        (void)sink;
        if (n.event_time == 0) return reject(Rejection::missing_time);
        if (auto p = text_problem(n)) return reject(*p);
        if (!std::isfinite(n.sentiment) || std::abs(n.sentiment) > 1) return reject(Rejection::unscored);
        std::vector<const std::string*> tagged;
        for (const auto& s : n.symbols)
            if (known(s)) tagged.push_back(&s);
        if (!n.symbols.empty() && tagged.empty()) return reject(Rejection::unknown_symbol);
        if (n.event_time < watermark()) return reject(Rejection::late);
        const ScoredNews item{n.event_time, fnv1a(n.id + '\n' + n.headline + '\n' + n.body), n.sentiment};
        if (market.contains(item)) return reject(Rejection::duplicate);
        for (const std::string* s : tagged) state_of(*s).news.add(item);
        market.add(item);
        return std::nullopt;
    }

    void emit_ready(const VectorSink& sink) {
        const Timestamp w = watermark();
        while (!held.empty() && held.begin()->first.first < w) emit_first(sink);
        prune(w);
    }

    void emit_first(const VectorSink& sink) {
        auto node = held.extract(held.begin());
        const Bar& bar = node.mapped();
        SymbolState& s = state_of(bar.symbol);
        FeatureVector v;
        v.schema_hash = schema.hash();
        v.symbol = bar.symbol;
        v.close_time = bar.close_time;
        v.close = bar.close;
        v.values.reserve(schema.size());
        for (auto& tf : s.timeframes) {
            tf.on_base_bar(bar);
            v.values.insert(v.values.end(), tf.values().begin(), tf.values().end());
        }
        append_sentiment(s, bar.close_time, v.values);
        v.complete = std::all_of(v.values.begin(), v.values.end(), [](double x) { return std::isfinite(x); });
        ++stats.vectors_out;
        sink(v);
    }

    void append_sentiment(const SymbolState& s, Timestamp t, std::vector<double>& values) {
        const std::size_t block = windows.size() * kWindowStatCount;
        const std::size_t own = values.size();
        values.resize(own + 2 * block);
        for (std::size_t w = 0; w < windows.size(); ++w)
            s.news.stats(t, windows[w], std::span(values).subspan(own + w * kWindowStatCount, kWindowStatCount));
        if (market_cache_time != t) {
            market_cache.assign(block, 0.0);
            for (std::size_t w = 0; w < windows.size(); ++w)
                market.stats(t, windows[w], std::span(market_cache).subspan(w * kWindowStatCount, kWindowStatCount));
            market_cache_time = t;
        }
        std::copy(market_cache.begin(), market_cache.end(), values.begin() + static_cast<std::ptrdiff_t>(own + block));
        if (!windows.empty()) {
            values.push_back(values[pct_change_col] * values[own + 0]);
            values.push_back(values[volume_ratio_col] * values[own + 3]);
        }
    }

    // Drops news no held or future bar can see: every such bar closes at or
    // after the watermark, and its longest window reaches back less than that.
    void prune(Timestamp w) {
        if (windows.empty() || w == kNever) return;
        const Timestamp horizon = w - *std::max_element(windows.begin(), windows.end());
        market.prune(horizon);
        for (auto& [_, s] : symbols) s.news.prune(horizon);
    }

    void finish(const VectorSink& sink) {
        while (!held.empty()) emit_first(sink);
        // Everything up to the last bar is final now: later news for it is late.
        if (max_bar_time != kNever) max_bar_time += lateness + 1;
        prune(watermark());
    }

    std::string snapshot() const {
        StateWriter w;
        w.tag("pricecast.features");
        w(schema.hash(), max_bar_time, stats.bars_in, stats.news_in, stats.vectors_out, stats.rejected);
        w(static_cast<std::uint64_t>(held.size()));
        for (const auto& [_, bar] : held) save_bar(w, bar);
        w(static_cast<std::uint64_t>(symbols.size()));
        for (const auto& [name, s] : symbols) {
            w(name, s.last_close);
            for (const auto& tf : s.timeframes) tf.save(w);
            const_cast<NewsWindow&>(s.news).fields(w);
        }
        const_cast<NewsWindow&>(market).fields(w);
        return w.take();
    }

    void restore(std::string_view bytes) {
        StateReader r(bytes);
        r.tag("pricecast.features");
        std::uint64_t hash = 0, n = 0;
        r(hash);
        if (hash != schema.hash()) throw StateError("snapshot is for another feature schema");
        r(max_bar_time, stats.bars_in, stats.news_in, stats.vectors_out, stats.rejected);
        held.clear();
        r(n);
        for (std::uint64_t i = 0; i < n; ++i) {
            Bar b;
            restore_bar(r, b);
            held.emplace(std::pair{b.close_time, b.symbol}, b);
        }
        symbols.clear();
        r(n);
        for (std::uint64_t i = 0; i < n; ++i) {
            std::string name;
            r(name);
            SymbolState& s = state_of(name);
            r(s.last_close);
            for (auto& tf : s.timeframes) tf.restore(r);
            s.news.fields(r);
        }
        market.fields(r);
        market_cache_time = kNever;
        if (!r.done()) throw StateError("snapshot has trailing bytes");
    }
};

Pipeline::Pipeline(FeatureConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

const FeatureSchema& Pipeline::schema() const { return impl_->schema; }
const FeatureConfig& Pipeline::config() const { return impl_->cfg; }
const PipelineStats& Pipeline::stats() const { return impl_->stats; }
Timestamp Pipeline::watermark() const { return impl_->watermark(); }

std::optional<Rejection> Pipeline::push(const Bar& bar, const VectorSink& sink) { return impl_->push_bar(bar, sink); }
std::optional<Rejection> Pipeline::push(const NewsItem& news, const VectorSink& sink) {
    return impl_->push_news(news, sink);
}

void Pipeline::advance(Timestamp time, const VectorSink& sink) {
    impl_->max_bar_time = std::max(impl_->max_bar_time, time);
    impl_->emit_ready(sink);
}

void Pipeline::finish(const VectorSink& sink) { impl_->finish(sink); }
std::string Pipeline::snapshot() const { return impl_->snapshot(); }
void Pipeline::restore(std::string_view bytes) { impl_->restore(bytes); }

PipelineStats build(const FeatureConfig& config, std::span<const Bar> bars, std::span<const NewsItem> news,
                    const VectorSink& sink, const BuildProgress& progress) {
    // Event-time order; news at a bar's close time goes first (it is visible to it).
    std::vector<std::tuple<Timestamp, int, std::size_t>> order;
    order.reserve(bars.size() + news.size());
    for (std::size_t i = 0; i < bars.size(); ++i) order.emplace_back(bars[i].close_time, 1, i);
    for (std::size_t i = 0; i < news.size(); ++i) order.emplace_back(news[i].event_time, 0, i);
    std::stable_sort(order.begin(), order.end());

    Pipeline p(config);
    std::size_t done = 0;
    for (const auto& [t, kind, i] : order) {
        if (kind == 1) p.push(bars[i], sink);
        else p.push(news[i], sink);
        if (progress && (++done % 4096 == 0 || done == order.size())) progress(done, order.size());
    }
    p.finish(sink);
    return p.stats();
}

std::vector<FeatureVector> build(const FeatureConfig& config, std::span<const Bar> bars,
                                 std::span<const NewsItem> news, PipelineStats* stats,
                                 const BuildProgress& progress) {
    std::vector<FeatureVector> out;
    const auto counted = build(config, bars, news, [&](const FeatureVector& v) { out.push_back(v); }, progress);
    if (stats) *stats = counted;
    return out;
}

}  // namespace pricecast::features
