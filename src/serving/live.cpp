#include "serving/live.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bus/messages.hpp"
#include "core/metrics.hpp"
#include "data/news.hpp"
#include "data/ohlcv.hpp"

namespace pricecast::serving {
namespace {

using namespace std::chrono_literals;
constexpr auto kPoll = 100ms;

metrics::Counter& consumed(const char* role) {
    return metrics::registry().counter("pricecast_messages_consumed_total", "Messages a service consumed",
                                       {{"role", role}});
}
metrics::Counter& bad_messages(const char* role) {
    return metrics::registry().counter("pricecast_messages_rejected_total",
                                       "Messages a service could not use (bad or late)", {{"role", role}});
}

// Writes through a temporary file so a crash never leaves half a snapshot.
void write_atomically(const std::filesystem::path& path, const std::string& bytes) {
    std::filesystem::create_directories(path.parent_path());
    const auto tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out.flush()) throw std::runtime_error("cannot write snapshot " + tmp);
    }
    std::filesystem::rename(tmp, path);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

Timestamp wall_now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---- price ----------------------------------------------------------------------------

PriceService::PriceService(bus::Bus& bus, PriceSourceOptions options) : bus_(bus), options_(std::move(options)) {
    if (!options_.simulator && options_.price_files.empty())
        throw std::invalid_argument("price service: no source (simulator or price files)");
}

void PriceService::pace(Timestamp event_time) {
    if (options_.speed <= 0) return;
    if (first_event_ < 0) {
        first_event_ = event_time;
        first_wall_ = std::chrono::steady_clock::now();
        return;
    }
    const auto due = first_wall_ + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                       static_cast<double>(event_time - first_event_) / options_.speed));
    std::this_thread::sleep_until(due);
}

void PriceService::publish(const Bar& bar) {
    bus_.publish(bus::topics::prices, bar.symbol, bus::encode(bar));
    ++bars_;
}

// Raw news carry no score: the sentiment service gives every item one, the
// same way in training and live.
void PriceService::publish(NewsItem news) {
    news.sentiment = std::nan("");
    bus_.publish(bus::topics::news, bus::kNewsKey, bus::encode(news));
    ++news_;
}

void PriceService::publish_clock(Timestamp time, std::vector<std::string> symbols) {
    bus_.publish(bus::topics::news, bus::kNewsKey, bus::encode(bus::NewsClock{time, std::move(symbols)}));
}

void PriceService::run(std::stop_token stop) {
    if (options_.simulator) run_simulator(stop);
    else run_files(stop);
    bus_.flush(10s);
}

void PriceService::run_simulator(std::stop_token stop) {
    data::MarketSimulator sim(*options_.simulator);
    for (long i = 0; (options_.max_steps < 0 || i < options_.max_steps) && !stop.stop_requested(); ++i) {
        data::SimStep s = sim.step();
        if (!s.bars.empty() && i >= options_.fast_steps) pace(s.bars.front().close_time);
        for (auto& n : s.news) publish(std::move(n));
        for (const auto& b : s.bars) publish(b);
        std::vector<std::string> symbols;
        for (const auto& b : s.bars) symbols.push_back(b.symbol);
        if (!s.bars.empty()) publish_clock(s.bars.front().close_time, std::move(symbols));
    }
}

// Bars of all files and the news, merged in event time (a bar at its close).
void PriceService::run_files(std::stop_token stop) {
    std::vector<Bar> bars;
    for (const auto& f : options_.price_files) {
        auto file = data::read_bar_file(f);
        bars.insert(bars.end(), file.bars.begin(), file.bars.end());
    }
    std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) { return a.close_time < b.close_time; });
    std::vector<NewsItem> news;
    if (!options_.news_file.empty()) news = data::read_news(options_.news_file);
    std::stable_sort(news.begin(), news.end(),
                     [](const NewsItem& a, const NewsItem& b) { return a.event_time < b.event_time; });
    std::size_t n = 0;
    std::vector<std::string> closed;  // symbols with a bar at the current close time
    for (std::size_t i = 0; i < bars.size() && !stop.stop_requested(); ++i) {
        const Bar& b = bars[i];
        for (; n < news.size() && news[n].event_time <= b.close_time; ++n) publish(news[n]);
        pace(b.close_time);
        publish(b);
        closed.push_back(b.symbol);
        if (i + 1 == bars.size() || bars[i + 1].close_time != b.close_time) publish_clock(b.close_time, std::exchange(closed, {}));
    }
    for (; n < news.size() && !stop.stop_requested(); ++n) publish(news[n]);
}

// ---- sentiment ------------------------------------------------------------------------

SentimentService::SentimentService(bus::Bus& bus, const sentiment::SentimentScorer& scorer)
    : bus_(bus), scorer_(scorer) {}

void SentimentService::run(std::stop_token stop) {
    auto in = bus_.subscribe("sentiment", {bus::topics::news});
    auto& count = consumed("sentiment");
    auto& bad = bad_messages("sentiment");
    while (!stop.stop_requested()) {
        auto m = in->poll(kPoll);
        if (!m) continue;
        count.inc();
        try {
            if (bus::decode_clock(m->value)) {
                bus_.publish(bus::topics::sentiment, bus::kNewsKey, m->value);
                in->commit(*m);
                continue;
            }
            NewsItem n = bus::decode_news(m->value);
            if (std::isnan(n.sentiment)) n.sentiment = scorer_.score(n).score;
            bus_.publish(bus::topics::sentiment, bus::kNewsKey, bus::encode(n));
            ++scored_;
        } catch (const bus::MessageError& e) {
            spdlog::warn("sentiment: skipped {} offset {}: {}", m->topic, m->offset, e.what());
            bad.inc();
            ++rejected_;
        }
        // A scored item is one message: commit once it is on its way.
        bus_.flush(10s);
        in->commit(*m);
    }
}

// ---- features -------------------------------------------------------------------------

FeatureService::FeatureService(bus::Bus& bus, FeatureServiceOptions options)
    : bus_(bus), options_(std::move(options)), pipeline_(options_.config) {
    lateness_ = options_.config.lateness.empty() ? 0 : parse_duration(options_.config.lateness).value_or(0);
    if (!options_.snapshot_file.empty() && std::filesystem::exists(options_.snapshot_file)) {
        try {
            pipeline_.restore(read_file(options_.snapshot_file));
        } catch (const std::exception& e) {
            // Another release or another feature configuration wrote it.
            throw std::runtime_error(fmt::format(
                "features snapshot {}: {}; delete it to start the features cold (they warm up again from the next bars)",
                options_.snapshot_file.string(), e.what()));
        }
        spdlog::info("features: resumed from snapshot {} (watermark {})", options_.snapshot_file.string(),
                     format_iso8601(pipeline_.watermark()));
    }
}

// The snapshot is written before the offsets are committed: a crash between
// the two replays messages the restored pipeline rejects as already seen.
// A failed write (a full disk, no file handles left) must not stop the role:
// the offsets stay uncommitted and the next checkpoint tries again.
void FeatureService::checkpoint(std::initializer_list<bus::Consumer*> inputs) {
    bus_.flush(10s);
    try {
        if (!options_.snapshot_file.empty()) write_atomically(options_.snapshot_file, pipeline_.snapshot());
    } catch (const std::exception& e) {
        spdlog::error("features: {}; offsets not committed, trying again", e.what());
        metrics::registry()
            .counter("pricecast_snapshot_failures_total", "Checkpoints whose state could not be written",
                     {{"role", "features"}})
            .inc();
        return;
    }
    for (const auto& [tp, offset] : processed_)
        (tp.first == bus::topics::prices ? *inputs.begin() : *std::next(inputs.begin()))->commit(tp.first, tp.second, offset + 1);
    processed_.clear();
}

void FeatureService::note(const bus::Message& m) { processed_[{m.topic, m.partition}] = m.offset; }

void FeatureService::on_news(const bus::Message& m, const features::VectorSink& sink) {
    note(m);
    try {
        if (auto clock = bus::decode_clock(m.value)) {
            const auto now = std::chrono::steady_clock::now();
            const bool reached = newest_bar_ >= clock->time;
            clocks_.push_back({std::move(*clock), reached ? std::optional(now) : std::nullopt});
            last_clock_ = now;
            clock_source_ = true;
            no_clock_source_ = false;
        } else if (pipeline_.push(bus::decode_news(m.value), sink)) {
            bad_messages("features").inc();
            ++rejected_;
        }
    } catch (const bus::MessageError& e) {
        spdlog::warn("features: skipped {} offset {}: {}", m.topic, m.offset, e.what());
        bad_messages("features").inc();
        ++rejected_;
    }
}

void FeatureService::on_bar(const bus::Message& m) {
    try {
        Bar bar = bus::decode_bar(m.value);
        if (bar.close_time > newest_bar_) {
            newest_bar_ = bar.close_time;
            const auto now = std::chrono::steady_clock::now();
            for (auto& c : clocks_)
                if (!c.prices_reached && c.clock.time <= newest_bar_) c.prices_reached = now;
        }
        const std::pair key{bar.close_time, bar.symbol};
        waiting_.try_emplace(key, WaitingBar{std::move(bar), m.partition, m.offset, m.timestamp});
    } catch (const bus::MessageError& e) {
        spdlog::warn("features: skipped {} offset {}: {}", m.topic, m.offset, e.what());
        bad_messages("features").inc();
        ++rejected_;
        note(m);
    }
}

void FeatureService::push(const WaitingBar& w, const features::VectorSink& sink) {
    input_at_ = w.published;
    if (pipeline_.push(w.bar, sink)) {
        bad_messages("features").inc();
        ++rejected_;
    }
    processed_[{bus::topics::prices, w.partition}] = w.offset;
    auto& pushed = pushed_[w.bar.symbol];
    pushed = std::max(pushed, w.bar.close_time);
}

// Bars go into the pipeline in event-time order whatever partition they came
// from. With a clock source, a clock's bars go in once all of them are here
// (or one is still missing news_wait after the price stream passed the
// clock's time), then the pipeline releases them at once: every news item up
// to the clock has been pushed before it.
void FeatureService::drain(const features::VectorSink& sink) {
    const auto now = std::chrono::steady_clock::now();
    while (!clocks_.empty()) {
        const auto& [clock, prices_reached] = clocks_.front();
        const bool all_here = std::all_of(clock.symbols.begin(), clock.symbols.end(), [&](const std::string& s) {
            const auto pushed = pushed_.find(s);
            return waiting_.contains({clock.time, s}) || (pushed != pushed_.end() && pushed->second >= clock.time);
        });
        if (!all_here && (!prices_reached || now - *prices_reached < options_.news_wait)) return;
        while (!waiting_.empty() && waiting_.begin()->first.first <= clock.time) {
            push(waiting_.begin()->second, sink);
            waiting_.erase(waiting_.begin());
        }
        pipeline_.advance(clock.time + 1 + lateness_, sink);
        clocks_.pop_front();
    }
    // A bar waits for its clock while clocks keep coming (a backlog of news
    // behind the prices), and at most news_wait once they stop. When the
    // first bar has waited that long without any clock at all, there is no
    // clock source and bars go in as they come.
    const auto clocks_stopped = [&] { return !clock_source_ || now - last_clock_ >= options_.news_wait; };
    while (!waiting_.empty() && (no_clock_source_ || (now - waiting_.begin()->second.arrived >= options_.news_wait &&
                                                      clocks_stopped()))) {
        if (!clock_source_ && !no_clock_source_) {
            no_clock_source_ = true;
            spdlog::info("features: no news clock within {} ms; bars are used as they come",
                         options_.news_wait.count());
        }
        push(waiting_.begin()->second, sink);
        waiting_.erase(waiting_.begin());
    }
}

void FeatureService::run(std::stop_token stop) {
    auto prices = bus_.subscribe("features", {bus::topics::prices});
    auto news = bus_.subscribe("features-news", {bus::topics::sentiment});
    auto& count = consumed("features");
    auto last_checkpoint = std::chrono::steady_clock::now();
    const features::VectorSink sink = [&](const features::FeatureVector& v) {
        bus_.publish(bus::topics::features, v.symbol, bus::encode(v, input_at_));
        ++published_;
    };
    while (!stop.stop_requested()) {
        // An idle service blocks on the input it needs next: the news clock
        // when bars wait for theirs (the clock comes right after its bars, a
        // hop later through the sentiment service), else prices. Blocking on
        // prices while the clock arrived cost a bar up to the whole wait.
        const bool clock_next = !waiting_.empty();
        bool idle = true;
        for (std::size_t n = 0; n < 1024; ++n) {
            auto m = news->poll(clock_next && n == 0 ? 5ms : 0ms);
            if (!m) break;
            count.inc();
            on_news(*m, sink);
            idle = false;
        }
        for (std::size_t n = 0; n < 1024; ++n) {
            auto m = prices->poll(idle && !clock_next && n == 0 ? 5ms : 0ms);
            if (!m) break;
            count.inc();
            on_bar(*m);
            idle = false;
        }
        drain(sink);
        if (std::chrono::steady_clock::now() - last_checkpoint >= options_.snapshot_every) {
            checkpoint({prices.get(), news.get()});
            last_checkpoint = std::chrono::steady_clock::now();
        }
    }
    checkpoint({prices.get(), news.get()});
    const auto& st = pipeline_.stats();
    for (std::size_t r = 0; r < st.rejected.size(); ++r)
        if (st.rejected[r] > 0)
            spdlog::info("features: {} messages rejected: {}", st.rejected[r],
                         features::to_string(static_cast<features::Rejection>(r)));
}

// ---- inference ------------------------------------------------------------------------

std::optional<AbMode> parse_ab_mode(std::string_view text) {
    if (text == "shadow") return AbMode::shadow;
    if (text == "split") return AbMode::split;
    return std::nullopt;
}

std::string_view to_string(AbMode m) { return m == AbMode::split ? "split" : "shadow"; }

double ab_point(std::string_view symbol) {
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : symbol) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    // FNV's top bits barely move between names that differ only at the end
    // (S00..S59 fall in a few clusters): MurmurHash3's fmix64 spreads them.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return std::ldexp(static_cast<double>(h >> 11), -53);  // the top 53 bits: exact in a double, below 1
}

Slot ab_arm(std::string_view symbol, double share) {
    return ab_point(symbol) < share ? Slot::challenger : Slot::champion;
}

InferenceService::InferenceService(bus::Bus& bus, ModelManager& models, InferenceOptions options)
    : bus_(bus), models_(models), options_(std::move(options)) {
    if (!(options_.ab_share >= 0 && options_.ab_share <= 1))
        throw std::invalid_argument(fmt::format("ab_share: {} is not in [0, 1]", options_.ab_share));
}

// Adds one vector to its symbol's window. Returns the symbol, or nothing for
// a bad message or a replayed vector (not newer than the window's newest).
std::optional<std::string> InferenceService::handle(const bus::Message& m) {
    Held h;
    try {
        h.vector = bus::decode_features(m.value, &h.input_at);
    } catch (const bus::MessageError& e) {
        spdlog::warn("inference: skipped {} offset {}: {}", m.topic, m.offset, e.what());
        bad_messages("inference").inc();
        ++rejected_;
        return std::nullopt;
    }
    h.partition = m.partition;
    h.offset = m.offset;
    auto& w = windows_[h.vector.symbol];
    if (!w.empty() && h.vector.close_time <= w.back().vector.close_time) return std::nullopt;
    ++close_sizes_[h.vector.close_time];
    while (close_sizes_.size() > 16) close_sizes_.erase(close_sizes_.begin());
    w.push_back(std::move(h));
    while (w.size() > options_.window) w.pop_front();
    return w.back().vector.symbol;
}

// Each symbol's sample ends at its window's newest vector: a batch holds at
// most one new vector per symbol.
void InferenceService::predict_slot(const std::vector<std::string>& group, const LoadedModel* loaded, bool served) {
    if (!loaded) return;
    const Slot slot = loaded->slot;
    const std::size_t steps = loaded->model->steps();
    models::SampleSet batch;
    batch.steps = steps;
    std::vector<const Held*> members;
    const std::string slot_name = slot == Slot::champion ? "champion" : "challenger";
    for (const auto& symbol : group) {
        const auto& w = windows_[symbol];
        if (w.size() < steps) continue;
        if (const auto done = published_until_.find({symbol, slot_name});
            done != published_until_.end() && w.back().vector.close_time <= done->second)
            continue;
        const auto first = w.end() - static_cast<std::ptrdiff_t>(steps);
        if (!std::all_of(first, w.end(), [](const Held& h) { return h.vector.complete; })) continue;
        batch.width = first->vector.values.size();
        for (auto it = first; it != w.end(); ++it)
            batch.values.insert(batch.values.end(), it->vector.values.begin(), it->vector.values.end());
        members.push_back(&w.back());
    }
    if (members.empty()) return;
    const auto out = models_.predict(*loaded, batch);
    static auto& latency = metrics::registry().histogram(
        "pricecast_prediction_latency_seconds", "Bar's last input to prediction published", {{"stage", "end_to_end"}});
    for (std::size_t i = 0; i < members.size(); ++i) {
        const Held& h = *members[i];
        Prediction p;
        p.symbol = h.vector.symbol;
        p.bar_time = h.vector.close_time;
        p.feature_time = h.vector.close_time;
        p.model = options_.model;
        p.version = out.version;
        p.slot = slot_name;
        p.ab_split = served && slot == Slot::challenger;
        p.probs = out.probs[i];
        p.cls = static_cast<int>(std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin());
        p.confidence = p.probs[static_cast<std::size_t>(p.cls)];
        p.close = h.vector.close;
        p.published_at = wall_now();
        p.latency = h.input_at > 0 ? p.published_at - h.input_at : 0;
        bus_.publish(bus::topics::predictions, p.symbol, bus::encode(p));
        if (served) latency.observe(static_cast<double>(p.latency) * 1e-9);
        ++published_;
    }
}

// The slots are looked at once per bar: a swap landing meanwhile (a promotion,
// an A/B test ending) takes effect at the next bar, never half way through
// this one, where it dropped the challenger's arm or gave a batch shaped for
// one model (its steps) to another.
void InferenceService::predict(const std::vector<std::string>& group) {
    const auto champion = models_.current(options_.model);
    const auto challenger = models_.current(options_.model, Slot::challenger);
    if (!champion) {
        if (!warned_no_model_) spdlog::warn("inference: no champion of '{}' loaded yet; not predicting", options_.model);
        warned_no_model_ = true;
        return;
    }
    warned_no_model_ = false;
    try {
        if (options_.ab_mode == AbMode::shadow || !challenger) {
            predict_slot(group, champion.get(), true);
            predict_slot(group, challenger.get(), false);
            return;
        }
        std::vector<std::string> arms[2];
        for (const auto& symbol : group)
            arms[ab_arm(symbol, options_.ab_share) == Slot::challenger].push_back(symbol);
        predict_slot(arms[0], champion.get(), true);
        try {
            predict_slot(arms[1], challenger.get(), true);
        } catch (const std::exception& e) {
            // Nothing of the failed batch was published: the champion serves its symbols instead.
            spdlog::error("inference: challenger prediction failed, the champion serves its symbols: {}", e.what());
            predict_slot(arms[1], champion.get(), true);
        }
    } catch (const std::exception& e) {
        spdlog::error("inference: prediction failed: {}", e.what());
    }
}

// The resume point of a partition is the oldest vector any window of it still
// holds, so a restarted service rebuilds full windows before predicting again.
void InferenceService::commit(bus::Consumer& in) {
    bus_.flush(10s);
    std::map<std::int32_t, std::int64_t> oldest;
    for (const auto& [symbol, w] : windows_) {
        if (w.empty()) continue;
        auto [it, fresh] = oldest.try_emplace(w.front().partition, w.front().offset);
        if (!fresh) it->second = std::min(it->second, w.front().offset);
    }
    for (const auto& [partition, offset] : oldest) in.commit(features_topic_, partition, offset);
}

// A close is complete once it has as many symbols as the close before it:
// the features service publishes a close's vectors one by one, and a poll
// that finds the queue empty mid-close must not split it into several calls.
bool InferenceService::close_complete(Timestamp close) const {
    const auto it = close_sizes_.find(close);
    if (it == close_sizes_.end() || it == close_sizes_.begin()) return true;
    return it->second >= std::prev(it)->second;
}

// The message key is the symbol.
std::optional<std::string> InferenceService::peek_symbol(const bus::Message& m) {
    if (m.key.empty()) return std::nullopt;
    return m.key;
}

// Reads what the predictions topic already holds. Without it (the topic
// does not answer in time) a restart may publish its window's bars again:
// at least once, and the API drops the duplicates.
void InferenceService::recover_published() {
    try {
        bus_.read_retained(
            bus::topics::predictions,
            [&](const bus::Message& m) {
                try {
                    const auto p = bus::decode_prediction(m.value);
                    if (p.model != options_.model) return;
                    auto& t = published_until_[{p.symbol, p.slot}];
                    t = std::max(t, p.bar_time);
                } catch (const bus::MessageError&) {
                    // Not ours to judge here: the consumers of the topic count bad messages.
                }
            },
            60s);
    } catch (const bus::BusError& e) {
        published_until_.clear();
        spdlog::warn("inference: could not read what was already published ({}); a restart may publish its "
                     "window's bars again",
                     e.what());
    }
    if (!published_until_.empty())
        spdlog::info("inference: {} symbol/slot pairs already published; resuming after them", published_until_.size());
}

void InferenceService::run(std::stop_token stop) {
    recover_published();
    features_topic_ = bus::topics::features;
    auto in = bus_.subscribe("inference", {features_topic_});
    auto& count = consumed("inference");
    auto last_commit = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
        // What is already waiting is one batch, one vector per symbol at most:
        // symbols whose bars closed together reach the model in one call.
        std::vector<std::string> batch;
        std::set<std::string> in_batch;
        Timestamp newest = 0;
        auto m = in->poll(kPoll);
        while (m) {
            count.inc();
            const auto symbol = peek_symbol(*m);
            if (symbol && in_batch.contains(*symbol)) {
                predict(batch);
                batch.clear();
                in_batch.clear();
            }
            if (auto added = handle(*m)) {
                batch.push_back(*added);
                in_batch.insert(*added);
                newest = std::max(newest, windows_[*added].back().vector.close_time);
            }
            if (batch.size() >= options_.max_batch) break;
            m = in->poll(0ms);
            // A partial close and nothing queued: wait a little for its next
            // vector. The wait is per vector, not per close: the features
            // service publishes a close of 1,000 symbols over tens of ms on a
            // busy machine, and a close that keeps coming is not a stalled one.
            if (!m && !batch.empty() && !close_complete(newest)) m = in->poll(options_.batch_wait);
        }
        if (!batch.empty()) predict(batch);
        if (std::chrono::steady_clock::now() - last_commit >= options_.commit_every) {
            commit(*in);
            last_commit = std::chrono::steady_clock::now();
        }
    }
    commit(*in);
}

// ---- API stores -----------------------------------------------------------------------

StoreFeed::StoreFeed(bus::Bus& bus, PredictionStore& predictions, FeatureStore* features, std::string group,
                     BarStore* bars)
    : bus_(bus), predictions_(predictions), features_(features), bars_(bars), group_(std::move(group)) {}

void StoreFeed::run(std::stop_token stop) {
    std::vector<std::string> topics{bus::topics::predictions};
    if (features_) topics.push_back(bus::topics::features);
    if (bars_) topics.push_back(bus::topics::prices);
    auto in = bus_.subscribe(group_, topics);
    auto last_commit = std::chrono::steady_clock::now();
    std::optional<bus::Message> last;
    while (!stop.stop_requested()) {
        auto m = in->poll(kPoll);
        // The stores live in memory: committing lets the bus free what they
        // have read; a restarted API starts from the group's commit.
        if (last && std::chrono::steady_clock::now() - last_commit >= 200ms) {
            in->commit(*last);
            last.reset();
            last_commit = std::chrono::steady_clock::now();
        }
        if (!m) continue;
        try {
            add(*m);
        } catch (const bus::MessageError& e) {
            spdlog::warn("api feed: skipped {} offset {}: {}", m->topic, m->offset, e.what());
            bad_messages("api").inc();
        }
        last = std::move(m);
    }
    if (last) in->commit(*last);
}

// The dashboard draws what it gets: a bar the feature service would reject is
// not served either.
void StoreFeed::add_bar(const Bar& bar) {
    if (const auto problem = check_bar(bar); problem != BarProblem::none)
        throw bus::MessageError(fmt::format("bar message: {} {}: {}", bar.symbol, format_iso8601(bar.close_time),
                                            to_string(problem)));
    bars_->add(bar);
}

void StoreFeed::add(const bus::Message& m) {
    if (m.topic == bus::topics::predictions) predictions_.add(bus::decode_prediction(m.value));
    else if (m.topic == bus::topics::prices) add_bar(bus::decode_bar(m.value));
    else features_->add(bus::decode_features(m.value));
}

}  // namespace pricecast::serving
