#include "serving/live.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
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
    bus_.publish(bus::topics::news, bus::news_key(news), bus::encode(news));
    ++news_;
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
        if (!s.bars.empty()) pace(s.bars.front().close_time);
        for (auto& n : s.news) publish(std::move(n));
        for (const auto& b : s.bars) publish(b);
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
    for (const auto& b : bars) {
        if (stop.stop_requested()) return;
        for (; n < news.size() && news[n].event_time <= b.close_time; ++n) publish(news[n]);
        pace(b.close_time);
        publish(b);
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
            NewsItem n = bus::decode_news(m->value);
            if (std::isnan(n.sentiment)) n.sentiment = scorer_.score(n).score;
            bus_.publish(bus::topics::sentiment, bus::news_key(n), bus::encode(n));
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
    if (!options_.snapshot_file.empty() && std::filesystem::exists(options_.snapshot_file)) {
        pipeline_.restore(read_file(options_.snapshot_file));
        spdlog::info("features: resumed from snapshot {} (watermark {})", options_.snapshot_file.string(),
                     format_iso8601(pipeline_.watermark()));
    }
}

// The snapshot is written before the offsets are committed: a crash between
// the two replays messages the restored pipeline rejects as already seen.
void FeatureService::checkpoint(bus::Consumer& in) {
    bus_.flush(10s);
    if (!options_.snapshot_file.empty()) write_atomically(options_.snapshot_file, pipeline_.snapshot());
    for (const auto& [tp, offset] : processed_) in.commit(tp.first, tp.second, offset + 1);
    processed_.clear();
}

void FeatureService::run(std::stop_token stop) {
    auto in = bus_.subscribe("features", {bus::topics::prices, bus::topics::sentiment});
    auto& count = consumed("features");
    auto& bad = bad_messages("features");
    auto last_checkpoint = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
        if (auto m = in->poll(kPoll)) {
            count.inc();
            const Timestamp input_at = m->timestamp;
            const auto sink = [&](const features::FeatureVector& v) {
                bus_.publish(bus::topics::features, v.symbol, bus::encode(v, input_at));
                ++published_;
            };
            try {
                const auto rejection = m->topic == bus::topics::prices ? pipeline_.push(bus::decode_bar(m->value), sink)
                                                                       : pipeline_.push(bus::decode_news(m->value), sink);
                if (rejection) {
                    bad.inc();
                    ++rejected_;
                }
            } catch (const bus::MessageError& e) {
                spdlog::warn("features: skipped {} offset {}: {}", m->topic, m->offset, e.what());
                bad.inc();
                ++rejected_;
            }
            processed_[{m->topic, m->partition}] = m->offset;
        }
        if (std::chrono::steady_clock::now() - last_checkpoint >= options_.snapshot_every) {
            checkpoint(*in);
            last_checkpoint = std::chrono::steady_clock::now();
        }
    }
    checkpoint(*in);
}

// ---- inference ------------------------------------------------------------------------

InferenceService::InferenceService(bus::Bus& bus, ModelManager& models, InferenceOptions options)
    : bus_(bus), models_(models), options_(std::move(options)) {}

// Adds one vector to its symbol's window; a vector that is not newer than the
// window's newest is a replay and is ignored.
void InferenceService::handle(const bus::Message& m, std::map<Timestamp, std::vector<Ready>>& ready) {
    Held h;
    try {
        h.vector = bus::decode_features(m.value, &h.input_at);
    } catch (const bus::MessageError& e) {
        spdlog::warn("inference: skipped {} offset {}: {}", m.topic, m.offset, e.what());
        bad_messages("inference").inc();
        ++rejected_;
        return;
    }
    h.partition = m.partition;
    h.offset = m.offset;
    auto& w = windows_[h.vector.symbol];
    if (!w.empty() && h.vector.close_time <= w.back().vector.close_time) return;
    w.push_back(std::move(h));
    while (w.size() > options_.window) w.pop_front();
    ready[w.back().vector.close_time].push_back({w.back().vector.symbol, &w.back()});
}

void InferenceService::predict_slot(const std::vector<Ready>& group, Slot slot) {
    const auto loaded = models_.current(options_.model, slot);
    if (!loaded) return;
    const std::size_t steps = loaded->model->steps();
    models::SampleSet batch;
    batch.steps = steps;
    std::vector<const Ready*> members;
    for (const auto& r : group) {
        // The window may already hold a newer vector of the symbol (from the
        // same batch): the sample ends at this one, never after it.
        const auto& w = windows_[r.symbol];
        auto end = w.end();
        while (end != w.begin() && &*std::prev(end) != r.newest) --end;
        if (end - w.begin() < static_cast<std::ptrdiff_t>(steps)) continue;
        const auto first = end - static_cast<std::ptrdiff_t>(steps);
        if (!std::all_of(first, end, [](const Held& h) { return h.vector.complete; })) continue;
        batch.width = first->vector.values.size();
        for (auto it = first; it != end; ++it)
            batch.values.insert(batch.values.end(), it->vector.values.begin(), it->vector.values.end());
        members.push_back(&r);
    }
    if (members.empty()) return;
    const auto out = models_.predict(options_.model, batch, slot);
    static auto& latency = metrics::registry().histogram(
        "pricecast_prediction_latency_seconds", "Bar's last input to prediction published", {{"stage", "end_to_end"}});
    for (std::size_t i = 0; i < members.size(); ++i) {
        const Held& h = *members[i]->newest;
        Prediction p;
        p.symbol = h.vector.symbol;
        p.bar_time = h.vector.close_time;
        p.feature_time = h.vector.close_time;
        p.model = options_.model;
        p.version = out.version;
        p.slot = slot == Slot::champion ? "champion" : "challenger";
        p.probs = out.probs[i];
        p.cls = static_cast<int>(std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin());
        p.confidence = p.probs[static_cast<std::size_t>(p.cls)];
        p.close = h.vector.close;
        p.published_at = wall_now();
        p.latency = h.input_at > 0 ? p.published_at - h.input_at : 0;
        bus_.publish(bus::topics::predictions, p.symbol, bus::encode(p));
        if (slot == Slot::champion) latency.observe(static_cast<double>(p.latency) * 1e-9);
        ++published_;
    }
}

void InferenceService::predict(const std::vector<Ready>& group) {
    if (!models_.current(options_.model)) {
        if (!warned_no_model_) spdlog::warn("inference: no champion of '{}' loaded yet; not predicting", options_.model);
        warned_no_model_ = true;
        return;
    }
    warned_no_model_ = false;
    try {
        predict_slot(group, Slot::champion);
        predict_slot(group, Slot::challenger);  // shadow: logged, not served
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

void InferenceService::run(std::stop_token stop) {
    features_topic_ = bus::topics::features;
    auto in = bus_.subscribe("inference", {features_topic_});
    auto& count = consumed("inference");
    auto last_commit = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
        // Everything already waiting is one batch: symbols whose bars closed
        // together reach the model in one call.
        std::map<Timestamp, std::vector<Ready>> ready;
        auto m = in->poll(kPoll);
        for (std::size_t n = 1; m; ++n) {
            count.inc();
            handle(*m, ready);
            if (n == options_.max_batch) break;
            m = in->poll(0ms);
        }
        for (const auto& [time, group] : ready) predict(group);
        if (std::chrono::steady_clock::now() - last_commit >= options_.commit_every) {
            commit(*in);
            last_commit = std::chrono::steady_clock::now();
        }
    }
    commit(*in);
}

// ---- API stores -----------------------------------------------------------------------

StoreFeed::StoreFeed(bus::Bus& bus, PredictionStore& predictions, FeatureStore* features, std::string group)
    : bus_(bus), predictions_(predictions), features_(features), group_(std::move(group)) {}

void StoreFeed::run(std::stop_token stop) {
    std::vector<std::string> topics{bus::topics::predictions};
    if (features_) topics.push_back(bus::topics::features);
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
            if (m->topic == bus::topics::predictions) predictions_.add(bus::decode_prediction(m->value));
            else features_->add(bus::decode_features(m->value));
        } catch (const bus::MessageError& e) {
            spdlog::warn("api feed: skipped {} offset {}: {}", m->topic, m->offset, e.what());
            bad_messages("api").inc();
        }
        last = std::move(m);
    }
    if (last) in->commit(*last);
}

}  // namespace pricecast::serving
