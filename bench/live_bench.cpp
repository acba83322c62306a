// The live system under load (issue 6, must-show 5), each part in one run:
//  1. end-to-end latency (bar published -> prediction published) p50/p99 of
//     the real services, embedded and over librdkafka's mock cluster, with a
//     GBDT and with the LSTM-attention model at full size, 10 symbols paced;
//  2. sustained bars/s across 100 and 1,000 symbols as fast as possible, with
//     every model call counted to show how bar closes are batched;
//  3. REST requests/s on /v1/predictions/latest with wrk (skipped without it);
//  4. the original design's Python pipeline (bench/live_reference.py: pandas
//     indicators over a 100-bar window on every bar, python3-torch forward)
//     against features::Pipeline + the same LSTM weights, bar by bar.
// The machine is shared: numbers are what this run saw, not bounds.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "support/api_env.hpp"

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "features/features.hpp"
#include "models/lstm.hpp"
#include "models/xgboost_model.hpp"
#include "registry/registry.hpp"
#include "sentiment/sentiment.hpp"
#include "serving/live.hpp"

namespace pc = pricecast;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kModel = "trend";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// The demo's quick configuration: warm after ~105 bars (its 5m indicators).
pc::features::FeatureConfig quick_features() {
    pc::features::FeatureConfig fc;
    fc.timeframes = {"1m", "5m"};
    fc.indicators = {"rsi(14)", "ema(10)", "5m:roc(3)"};
    fc.sentiment_windows = {"10m"};
    return fc;
}

pc::data::SimulatorConfig market(int symbols) {
    auto cfg = pc::data::default_simulator_config();
    cfg.symbols.clear();
    for (int i = 0; i < symbols; ++i) cfg.symbols.push_back({fmt::format("S{:04}", i), 20.0 + i % 200});
    cfg.seed = 7;
    cfg.trades = false;
    return cfg;
}

std::map<std::string, std::vector<pc::features::FeatureVector>> by_symbol(std::vector<pc::features::FeatureVector> rows) {
    std::map<std::string, std::vector<pc::features::FeatureVector>> out;
    for (auto& v : rows)
        if (v.complete) out[v.symbol].push_back(std::move(v));
    return out;
}

// Windows of `steps` complete vectors (every `stride`-th end), labelled by
// the close 3 bars later (+-0.1%). The bench is about speed: the models only
// need to be real, fitted ones.
pc::models::SampleSet samples(const pc::features::FeatureConfig& fc, const pc::data::SimulatorConfig& m, long bars,
                              std::size_t steps, std::size_t stride) {
    pc::data::MarketSimulator sim(m);
    std::vector<pc::Bar> history;
    for (long t = 0; t < bars; ++t) {
        const auto s = sim.step();
        history.insert(history.end(), s.bars.begin(), s.bars.end());
    }
    pc::models::SampleSet set;
    set.steps = steps;
    for (const auto& [symbol, rows] : by_symbol(pc::features::build(fc, history, {}))) {
        for (std::size_t end = steps; end + 3 <= rows.size(); end += stride) {
            set.width = rows[end - 1].values.size();
            for (std::size_t r = end - steps; r < end; ++r)
                set.values.insert(set.values.end(), rows[r].values.begin(), rows[r].values.end());
            const double change = rows[end + 2].close / rows[end - 1].close - 1;
            set.labels.push_back(change < -1e-3 ? pc::models::Trend::down
                                 : change > 1e-3 ? pc::models::Trend::up
                                                 : pc::models::Trend::stable);
        }
    }
    return set;
}

std::unique_ptr<pc::models::Model> train_gbdt(const pc::features::FeatureSchema& schema) {
    pc::models::XgboostConfig xc;
    xc.rounds = 100;
    xc.early_stopping = 0;
    xc.feature_schema_hash = schema.hash();
    auto m = std::make_unique<pc::models::XgboostModel>(xc);
    const auto train = samples(quick_features(), market(10), 300, 1, 1);
    m->fit(train, train, {});
    return m;
}

// The architecture (2 x 128 LSTM, 8 heads, window 60), one epoch on a
// few windows: enough to fit its scaler; the weights' values do not change its speed.
std::unique_ptr<pc::models::LstmAttentionModel> train_lstm(const pc::features::FeatureConfig& fc,
                                                           const pc::data::SimulatorConfig& m, long bars) {
    const auto train = samples(fc, m, bars, 60, 20);
    pc::models::LstmConfig c;
    c.width = train.width;
    c.max_epochs = 1;
    c.feature_schema_hash = pc::features::Pipeline(fc).schema().hash();
    auto model = std::make_unique<pc::models::LstmAttentionModel>(c);
    model->fit(train, {}, {});
    return model;
}

void register_champion(const fs::path& dir, const pc::models::Model& model) {
    pc::registry::Registry reg(dir);
    const auto v = pc::registry::register_model(reg, kModel, model, {});
    reg.promote(kModel, v.version, "champion", {.force = true}, "bench");
}

// Counts the served model's calls and rows per call.
struct CallLog {
    std::mutex mutex;
    std::map<std::size_t, std::uint64_t> rows;  // rows per call -> calls
    std::vector<double> call_ms;                 // each call's time in the model
};

class Counted final : public pc::models::Model {
public:
    Counted(std::unique_ptr<pc::models::Model> inner, CallLog& log) : inner_(std::move(inner)), log_(log) {}
    std::string kind() const override { return inner_->kind(); }
    std::size_t steps() const override { return inner_->steps(); }
    void fit(const pc::models::SampleSet& t, const pc::models::SampleSet& v, const pc::models::ProgressFn& p) override {
        inner_->fit(t, v, p);
    }
    std::vector<pc::models::ClassProbs> predict_proba(const pc::models::SampleSet& batch) const override {
        const auto start = Clock::now();
        auto out = inner_->predict_proba(batch);
        std::lock_guard lock(log_.mutex);
        ++log_.rows[batch.size()];
        log_.call_ms.push_back(seconds_since(start) * 1e3);
        return out;
    }
    void save(const fs::path& dir) const override { inner_->save(dir); }
    std::uint64_t feature_schema_hash() const override { return inner_->feature_schema_hash(); }
    nlohmann::json describe() const override { return inner_->describe(); }

private:
    std::unique_ptr<pc::models::Model> inner_;
    CallLog& log_;
};

struct LiveRun {
    int symbols = 10;
    long fast_steps = 0, steps = 0;  // unpaced warm-up, then paced up to `steps`
    double speed = 0;
    long skip = 0;                   // first predicted steps left out of the latency figures
    std::chrono::milliseconds join_wait{0};  // consumers run alone this long before the price source starts
    pc::features::FeatureConfig features = quick_features();
    bool news = true;  // the simulator's news (the Python comparison's bars have none)
    bool tap = false;  // also read the features and sentiment topics: when each stage published
    std::chrono::seconds deadline{120};  // a run still short of its last prediction is reported as timed out
};

pc::data::SimulatorConfig market_of(const LiveRun& r) {
    auto m = market(r.symbols);
    if (!r.news) m.news_rate = m.market_news_rate = 0;
    return m;
}

// A measured bar's prediction: publication time and its end-to-end latency.
struct Seen {
    std::string symbol;
    pc::Timestamp bar_time = 0, published_at = 0;
    pc::Duration latency = 0;
};

struct LiveResult {
    std::vector<Seen> measured;      // predictions of bars from step fast_steps + skip on
    std::uint64_t bars = 0, predictions = 0;
    double seconds = 0;              // first bar published -> last bar's predictions in
    std::map<pc::Timestamp, double> close_done;  // close time -> seconds from start to its last prediction
    std::map<std::size_t, std::uint64_t> calls;
    std::vector<double> call_ms;
    // With LiveRun::tap: when each vector ((symbol, close time)) and each
    // relayed news clock (close time) was published, wall ns.
    std::map<std::pair<std::string, pc::Timestamp>, pc::Timestamp> vector_at;
    std::map<pc::Timestamp, pc::Timestamp> clock_at;
    bool complete = false;

    std::vector<double> latency_ms() const {
        std::vector<double> out;
        for (const auto& s : measured) out.push_back(static_cast<double>(s.latency) * 1e-6);
        return out;
    }
    std::uint64_t call_count() const {
        std::uint64_t n = 0;
        for (const auto& [rows, count] : calls) n += count;
        return n;
    }
    double ms_per_call() const {
        double sum = 0;
        for (const double ms : call_ms) sum += ms;
        return call_ms.empty() ? 0 : sum / static_cast<double>(call_ms.size());
    }
};

pc::serving::PriceSourceOptions price_options(const LiveRun& r) {
    pc::serving::PriceSourceOptions o;
    o.simulator = market_of(r);
    o.speed = r.speed;
    o.max_steps = r.steps;
    o.fast_steps = r.fast_steps;
    return o;
}

pc::serving::FeatureServiceOptions feature_options(const pc::features::FeatureConfig& fc) {
    pc::serving::FeatureServiceOptions o;
    o.config = fc;
    o.snapshot_every = 500ms;
    // A clock waits news_wait (wall time) for its bars; a price backlog longer
    // than that (1,000 symbols unpaced) would turn bars late and drop them.
    o.news_wait = 60s;
    return o;
}

// The services of one run, the served model counted into `log`.
struct Services {
    Services(pc::bus::Bus& bus, const fs::path& dir, const LiveRun& r, CallLog& log)
        : models(dir, [&log](const fs::path& d) { return std::make_unique<Counted>(pc::models::load_model(d), log); }),
          price(bus, price_options(r)), sentiment(bus, scorer), features(bus, feature_options(r.features)),
          inference(bus, models, {kModel}) {
        models.watch(kModel, pc::features::Pipeline(r.features).schema().hash());
        models.refresh();
    }
    pc::serving::ModelManager models;
    const pc::sentiment::LexiconScorer scorer = pc::sentiment::LexiconScorer::load();
    pc::serving::PriceService price;
    pc::serving::SentimentService sentiment;
    pc::serving::FeatureService features;
    pc::serving::InferenceService inference;
};

// Reads the predictions topic: the measured bars' predictions, when each
// close's last prediction came in, and when every symbol's last bar is in.
class Collector {
public:
    Collector(const LiveRun& r, LiveResult& out) : out_(out), symbols_(static_cast<std::size_t>(r.symbols)) {
        const auto cfg = market_of(r);
        const pc::Timestamp first = pc::data::MarketSimulator(cfg).step().bars.front().close_time;
        last_close_ = first + (r.steps - 1) * cfg.interval;
        measured_from_ = first + (r.fast_steps + r.skip) * cfg.interval;
    }
    void run(pc::bus::Bus& bus, std::stop_token stop) {
        auto in = bus.subscribe("bench", {pc::bus::topics::predictions});
        while (!stop.stop_requested()) {
            auto m = in->poll(50ms);
            if (!m) continue;
            const auto p = pc::bus::decode_prediction(m->value);
            in->commit(*m);
            std::lock_guard lock(mutex_);
            ++out_.predictions;
            if (p.bar_time >= measured_from_) out_.measured.push_back({p.symbol, p.bar_time, p.published_at, p.latency});
            if (++per_close_[p.bar_time] == symbols_) out_.close_done[p.bar_time] = seconds_since(started_);
            if (p.bar_time == last_close_ && per_close_[p.bar_time] == symbols_) done_at_ = Clock::now();
        }
    }
    // When every symbol's last bar was predicted; nullopt before.
    std::optional<Clock::time_point> done() const {
        std::lock_guard lock(mutex_);
        return out_.close_done.contains(last_close_) ? std::optional(done_at_) : std::nullopt;
    }

private:
    LiveResult& out_;  // written under mutex_ until the collector's thread ends
    std::size_t symbols_;
    std::map<pc::Timestamp, std::size_t> per_close_;
    pc::Timestamp last_close_ = 0, measured_from_ = 0;
    mutable std::mutex mutex_;
    const Clock::time_point started_ = Clock::now();
    Clock::time_point done_at_;
};

// Reads the features and sentiment topics beside the services: when each
// vector and each relayed news clock was published, to split a bar's
// latency into its stages.
void tap(pc::bus::Bus& bus, LiveResult& out, std::mutex& mutex, std::stop_token stop) {
    auto in = bus.subscribe("bench-tap", {pc::bus::topics::features, pc::bus::topics::sentiment});
    while (!stop.stop_requested()) {
        auto m = in->poll(50ms);
        if (!m) continue;
        in->commit(*m);
        std::lock_guard lock(mutex);
        if (m->topic == pc::bus::topics::features) {
            const auto v = pc::bus::decode_features(m->value);
            out.vector_at[{v.symbol, v.close_time}] = m->timestamp;
        } else if (const auto clock = pc::bus::decode_clock(m->value)) {
            out.clock_at[clock->time] = m->timestamp;
        }
    }
}

// Every service on `bus`, with the model registered in `dir`, until each
// symbol's last bar is predicted (or a generous timeout).
LiveResult run_live(pc::bus::Bus& bus, const fs::path& dir, const LiveRun& r) {
    CallLog log;
    Services s(bus, dir, r, log);
    LiveResult out;
    std::mutex tap_mutex;
    Collector collector(r, out);
    const auto started = Clock::now();
    std::vector<std::jthread> threads;
    threads.emplace_back([&](std::stop_token t) { collector.run(bus, t); });
    if (r.tap) threads.emplace_back([&](std::stop_token t) { tap(bus, out, tap_mutex, t); });
    threads.emplace_back([&](std::stop_token t) { s.inference.run(t); });
    threads.emplace_back([&](std::stop_token t) { s.features.run(t); });
    threads.emplace_back([&](std::stop_token t) { s.sentiment.run(t); });
    // librdkafka's mock cluster holds each new group's first join ~3 s (the
    // broker's initial rebalance delay): bars published before every service
    // has joined would measure that wait, not the pipeline.
    std::this_thread::sleep_for(r.join_wait);
    threads.emplace_back([&](std::stop_token t) { s.price.run(t); });
    const auto deadline = Clock::now() + r.deadline;
    while (!collector.done() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    for (auto it = threads.rbegin(); it != threads.rend(); ++it) {
        it->request_stop();
        it->join();
    }
    const auto done = collector.done();
    out.complete = done.has_value();
    out.seconds = std::chrono::duration<double>(done.value_or(Clock::now()) - started).count();
    out.bars = s.price.bars();
    out.calls = log.rows;
    out.call_ms = log.call_ms;
    return out;
}

// A fresh data dir with `model` as the champion.
struct Workspace {
    fs::path dir;
    Workspace(const std::string& name, const pc::models::Model& model) {
        dir = fs::temp_directory_path() / fmt::format("pricecast-live-bench-{}-{}", ::getpid(), name);
        fs::remove_all(dir);
        register_champion(dir, model);
    }
    ~Workspace() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
};

std::unique_ptr<pc::bus::Bus> embedded(std::size_t capacity = 1 << 20) {
    return pc::bus::make_in_process_bus({.capacity = capacity});
}

// ---- 1. end-to-end latency -------------------------------------------------------

// The model alone on random windows: what a batch costs with nothing else running.
double forward_ms(const pc::models::Model& model, std::size_t batch, std::size_t width) {
    pc::models::SampleSet x;
    x.steps = model.steps();
    x.width = width;
    std::mt19937_64 rng(batch);
    std::normal_distribution<float> z(0, 1);
    x.values.resize(batch * x.steps * width);
    for (auto& v : x.values) v = z(rng);
    std::vector<double> ms;
    for (int i = 0; i < 21; ++i) {
        const auto start = Clock::now();
        benchmark::DoNotOptimize(model.predict_proba(x));
        ms.push_back(seconds_since(start) * 1e3);
    }
    return quantile(ms, 0.5);
}

// Where a bar's time went, p50/p99 over the measured bars (ms): bar published
// -> its clock relayed by the sentiment service -> its vector published ->
// its prediction published; and the model calls alone.
void stage_row(const std::string& name, const LiveResult& res) {
    std::vector<double> to_clock, to_vector, to_prediction;
    for (const auto& s : res.measured) {
        const auto clock = res.clock_at.find(s.bar_time);
        const auto vector = res.vector_at.find({s.symbol, s.bar_time});
        if (clock == res.clock_at.end() || vector == res.vector_at.end()) continue;
        const pc::Timestamp input_at = s.published_at - s.latency;
        to_clock.push_back(static_cast<double>(clock->second - input_at) * 1e-6);
        to_vector.push_back(static_cast<double>(vector->second - clock->second) * 1e-6);
        to_prediction.push_back(static_cast<double>(s.published_at - vector->second) * 1e-6);
    }
    const auto cell = [](const std::vector<double>& v) {
        return fmt::format("{:.2f} / {:.2f}", quantile(v, 0.5), quantile(v, 0.99));
    };
    std::printf("  %-47s %16s %16s %16s %16s\n", name.c_str(), cell(to_clock).c_str(), cell(to_vector).c_str(),
                cell(to_prediction).c_str(), cell(res.call_ms).c_str());
}

struct LatencyCase {
    const pc::models::Model* model;
    int symbols;
    bool kafka;
};

// The same weights predicting with `threads` threads (LstmConfig::threads, saved with the model).
std::unique_ptr<pc::models::Model> with_threads(const pc::models::Model& lstm, int threads) {
    const auto dir = fs::temp_directory_path() / fmt::format("pricecast-live-bench-{}-threads", ::getpid());
    fs::remove_all(dir);
    lstm.save(dir);
    auto j = nlohmann::json::parse(std::ifstream(dir / "model.json"));
    j["config"]["threads"] = threads;
    std::ofstream(dir / "model.json") << j.dump();
    auto out = pc::models::load_model(dir);
    fs::remove_all(dir);
    return out;
}

void latency_table(const pc::models::Model& gbdt, const pc::models::Model& lstm) {
    std::printf("\n1. End-to-end latency, bar published -> prediction published, one bar close per 100 ms\n");
    std::printf("   (price, sentiment, features, inference services; the last 80 of 100 paced bar closes)\n");
    std::printf("  %-47s %8s %10s %10s %10s %14s\n", "", "samples", "p50 ms", "p99 ms", "max ms", "model ms/call");
    const auto lstm2 = with_threads(lstm, 2);
    const Workspace gbdt_ws(gbdt.kind(), gbdt), lstm_ws(lstm.kind(), lstm), lstm2_ws("lstm-2-threads", *lstm2);
    std::vector<std::pair<std::string, LiveResult>> embedded_runs;
    for (const auto& c : {LatencyCase{&gbdt, 10, false}, LatencyCase{&gbdt, 10, true}, LatencyCase{&lstm, 1, false},
                          LatencyCase{&lstm, 10, false}, LatencyCase{lstm2.get(), 10, false}, LatencyCase{&lstm, 10, true}}) {
        // The 5m indicators and the LSTM's 60-vector window are full by step ~165.
        LiveRun run{.symbols = c.symbols, .fast_steps = 170, .steps = 270, .speed = 600, .skip = 20};
        std::unique_ptr<pc::bus::MockCluster> cluster;
        std::unique_ptr<pc::bus::Bus> bus;
        if (c.kafka) {
            cluster = std::make_unique<pc::bus::MockCluster>(3);
            bus = pc::bus::make_kafka_bus({.bootstrap = cluster->bootstrap(), .settings = {{"fetch.wait.max.ms", "1"}}});
            run.join_wait = 5s;
        } else {
            bus = embedded();
            run.tap = true;
        }
        auto res = run_live(*bus, (c.model == &gbdt ? gbdt_ws : c.model == &lstm ? lstm_ws : lstm2_ws).dir, run);
        const auto name = fmt::format("{}, {} symbol{}, {}", c.model == &gbdt ? "GBDT" : "LSTM-attention", c.symbols,
                                      c.symbols == 1 ? "" : "s",
                                      c.kafka ? "mock cluster" : c.model == lstm2.get() ? "embedded, 2 threads" : "embedded");
        const auto ms = res.latency_ms();
        std::printf("  %-47s %8zu %10.2f %10.2f %10.2f %14.2f%s\n", name.c_str(), ms.size(), quantile(ms, 0.5),
                    quantile(ms, 0.99), quantile(ms, 1.0), res.ms_per_call(), res.complete ? "" : "  (timed out)");
        std::fflush(stdout);
        if (!c.kafka) embedded_runs.emplace_back(name, std::move(res));
    }
    const auto width = pc::features::Pipeline(quick_features()).schema().size();
    std::printf("  LSTM-attention alone, median of 21 calls: batch 1 %.2f ms, batch 10 %.2f ms; 2 threads: batch 10 %.2f ms\n",
                forward_ms(lstm, 1, width), forward_ms(lstm, 10, width), forward_ms(*lstm2, 10, width));
    std::printf("\n  Where the time goes, embedded, p50 / p99 ms: bar published -> its news clock relayed by the\n");
    std::printf("  sentiment service -> its feature vector published -> its prediction published; model calls alone\n");
    std::printf("  %-47s %16s %16s %16s %16s\n", "", "-> clock", "-> vector", "-> prediction", "model call");
    for (const auto& [name, res] : embedded_runs) stage_row(name, res);
}

// ---- 2. sustained throughput -----------------------------------------------------

void queued_closes(const fs::path& dir);

void throughput_table(const pc::models::Model& gbdt) {
    std::printf("\n2. Sustained throughput, embedded, GBDT: bars published as fast as the bus takes them, then 1,000\n");
    std::printf("   symbols paced at 2 bar closes/s (a close's 1,000 bars come together, as live); calls = model calls\n");
    std::printf("  %-22s %8s %8s %8s %10s %8s %11s %s\n", "", "bars", "preds", "seconds", "bars/s", "calls",
                "calls/close", "calls x rows, largest first");
    Workspace ws("throughput", gbdt);
    struct Row {
        const char* name;
        LiveRun run;
    };
    // ~105 bars warm the 5m indicators: the rest are predicted.
    for (const auto& [name, run] : {Row{"100 symbols", {.symbols = 100, .steps = 200}},
                                    Row{"1,000 symbols", {.symbols = 1000, .steps = 150}},
                                    Row{"1,000 symbols, paced", {.symbols = 1000, .fast_steps = 110, .steps = 130, .speed = 120}}}) {
        auto bus = embedded(static_cast<std::size_t>(run.symbols) * 200);
        const auto res = run_live(*bus, ws.dir, run);
        const auto calls = res.call_count();
        std::string spread;
        for (auto it = res.calls.rbegin(); it != res.calls.rend() && spread.size() < 48; ++it)
            spread += fmt::format("{}x{} ", it->second, it->first);
        const double closes = static_cast<double>(res.predictions) / run.symbols;  // bar closes predicted
        std::printf("  %-22s %8llu %8llu %8.2f %10.0f %8llu %11.2f %s%s\n", name,
                    static_cast<unsigned long long>(res.bars), static_cast<unsigned long long>(res.predictions),
                    res.seconds, static_cast<double>(res.bars) / res.seconds, static_cast<unsigned long long>(calls),
                    closes > 0 ? static_cast<double>(calls) / closes : 0.0, spread.c_str(), res.complete ? "" : " (timed out)");
        std::fflush(stdout);
    }
    queued_closes(ws.dir);
}

// The inference service alone, started on 5 bar closes of 1,000 symbols'
// vectors already on the bus: how it batches when a close is all there.
void queued_closes(const fs::path& dir) {
    constexpr int kSymbols = 1000, kCloses = 5;
    const auto schema = pc::features::Pipeline(quick_features()).schema();
    auto bus = embedded();
    for (int c = 0; c < kCloses; ++c)
        for (int s = 0; s < kSymbols; ++s) {
            pc::features::FeatureVector v;
            v.schema_hash = schema.hash();
            v.symbol = fmt::format("S{:04}", s);
            v.close_time = (c + 1) * pc::kMinute;
            v.close = 100;
            v.values.assign(schema.size(), 50.0);
            v.complete = true;
            bus->publish(pc::bus::topics::features, v.symbol, pc::bus::encode(v, pc::serving::wall_now()));
        }
    CallLog log;
    pc::serving::ModelManager models(dir, [&](const fs::path& d) {
        return std::make_unique<Counted>(pc::models::load_model(d), log);
    });
    models.watch(kModel, schema.hash());
    models.refresh();
    pc::serving::InferenceService inference(*bus, models, {kModel});
    {
        std::jthread t([&](std::stop_token s) { inference.run(s); });
        const auto deadline = Clock::now() + 60s;
        while (inference.published() < kSymbols * kCloses && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    }
    std::string calls;
    for (const auto& [rows, n] : log.rows) calls += fmt::format("{}x{} ", n, rows);
    std::printf("  inference alone on %d queued closes of %d symbols: model calls (calls x rows) %s\n", kCloses, kSymbols,
                calls.c_str());
}

// ---- 3. REST with wrk ------------------------------------------------------------

std::string run_command(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    return out;
}

void rest_table() {
    std::printf("\n3. REST GET /v1/predictions/latest, wrk -t2 -c32 -d5s, API server (2 threads) in this process\n");
    if (std::system("command -v wrk >/dev/null 2>&1") != 0) {
        std::printf("  (wrk not installed: skipped; apt-get install wrk)\n");
        return;
    }
    pc::api::ServerOptions o;
    o.threads = 2;
    pc::test::ApiEnv env(o);
    for (int i = 0; i < 100; ++i) env.predictions.add(pc::test::make_prediction("BTC", 1'700'000'000'000'000'000 + i));
    const auto out = run_command(fmt::format(
        "wrk -t2 -c32 -d5s --latency 'http://127.0.0.1:{}/v1/predictions/latest?symbol=BTC' 2>&1", env.port()));
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        const auto at = line.find_first_not_of(' ');
        if (at == std::string::npos) continue;
        const auto text = line.substr(at);
        for (const char* key : {"Latency  ", "50%", "99%", "Requests/sec", "Non-2xx", "Socket errors"})
            if (text.rfind(key, 0) == 0) std::printf("  %s\n", text.c_str());
    }
}

// ---- 4. the original design's Python pipeline ------------------------------------

// The original's indicators on 1-minute bars (no news, one symbol).
pc::features::FeatureConfig original_features() {
    pc::features::FeatureConfig fc;
    fc.timeframes = {"1m"};
    fc.indicators = {"sma(5)", "sma(20)", "ema(12)", "ema(26)", "macd(12,26,9)", "rsi(14)", "bbands(20,2,2)"};
    fc.sentiment_windows = {};
    return fc;
}

struct PerBar {
    std::vector<double> ms;  // per timed bar
    double seconds = 0, feature_us = 0, forward_ms = 0;
};

// Bar by bar as a live service sees them: the pipeline, the window of the
// last 60 vectors, the model's batch-1 forward (scaler included).
PerBar cpp_per_bar(const std::vector<pc::Bar>& bars, std::size_t timed_from, const pc::models::Model& model) {
    pc::features::Pipeline pipeline(original_features());
    std::deque<pc::features::FeatureVector> window;
    const pc::features::VectorSink sink = [&](const pc::features::FeatureVector& v) {
        window.push_back(v);
        if (window.size() > 60) window.pop_front();
    };
    PerBar out;
    double features_s = 0, forward_s = 0;
    std::size_t forwards = 0;
    const auto start = Clock::now();
    auto timed_start = start;
    for (std::size_t i = 0; i < bars.size(); ++i) {
        if (i == timed_from) timed_start = Clock::now();
        const auto t0 = Clock::now();
        pipeline.push(bars[i], sink);
        pipeline.advance(bars[i].close_time + 1 + pc::kMinute, sink);  // past the default lateness: emitted now
        const auto t1 = Clock::now();
        if (window.size() == 60 && std::all_of(window.begin(), window.end(), [](const auto& v) { return v.complete; })) {
            pc::models::SampleSet one;
            one.steps = 60;
            one.width = window.back().values.size();
            for (const auto& v : window) one.values.insert(one.values.end(), v.values.begin(), v.values.end());
            benchmark::DoNotOptimize(model.predict_proba(one));
            if (i >= timed_from) {
                forward_s += seconds_since(t1);
                ++forwards;
            }
        }
        if (i >= timed_from) {
            features_s += std::chrono::duration<double>(t1 - t0).count();
            out.ms.push_back(seconds_since(t0) * 1e3);
        }
    }
    out.seconds = seconds_since(timed_start);
    const auto timed = static_cast<double>(bars.size() - timed_from);
    out.feature_us = features_s / timed * 1e6;
    out.forward_ms = forwards ? forward_s / static_cast<double>(forwards) * 1e3 : 0;
    return out;
}

nlohmann::json python_per_bar(const std::vector<pc::Bar>& bars, std::size_t timed_from,
                              const pc::models::LstmAttentionModel& model) {
    if (std::system("/usr/bin/python3 -c 'import pandas, torch' 2>/dev/null") != 0) return nlohmann::json::object();
    const auto dir = fs::temp_directory_path() / fmt::format("pricecast-live-bench-{}-python", ::getpid());
    fs::remove_all(dir);
    model.export_parameters(dir);
    {
        std::ofstream csv(dir / "bars.csv");
        csv << "symbol,close_time,open,high,low,close,volume\n";
        for (const auto& b : bars)
            csv << fmt::format("{},{},{},{},{},{},{}\n", b.symbol, b.close_time, b.open, b.high, b.low, b.close,
                               b.volume);
    }
    const auto out = run_command(fmt::format("/usr/bin/python3 {}/../../bench/live_reference.py {} {}",
                                             PRICECAST_TEST_DATA, dir.string(), timed_from));
    fs::remove_all(dir);
    try {
        return nlohmann::json::parse(out);
    } catch (const std::exception&) {
        std::fprintf(stderr, "python reference failed: %s\n", out.c_str());
        return nlohmann::json::object();
    }
}

constexpr std::size_t kTimedFrom = 100;  // both sides warm: 100-bar window, 60 complete vectors

// The first `closes` bar closes of the first `symbols` symbols of `r`'s market.
std::vector<pc::Bar> market_bars(const LiveRun& r, long closes, int symbols) {
    pc::data::MarketSimulator sim(market_of(r));
    const auto past_last = fmt::format("S{:04}", symbols);  // market() names symbols S0000, S0001, ...
    std::vector<pc::Bar> out;
    for (long t = 0; t < closes; ++t)
        for (const auto& b : sim.step().bars)
            if (b.symbol < past_last) out.push_back(b);
    return out;
}

struct Batched {
    double bars_per_second = 0;
    LiveResult res;
};

// Every symbol's bars through the embedded services (price, sentiment,
// features, inference; the original indicators, no news): bars/s over the
// closes from kTimedFrom on, every window full, while the source stays ahead.
Batched cpp_services(const fs::path& dir, int symbols, long closes) {
    const LiveRun r{.symbols = symbols, .steps = static_cast<long>(kTimedFrom) + closes, .features = original_features(),
                    .news = false, .deadline = std::chrono::seconds(240)};
    auto bus = embedded(static_cast<std::size_t>(symbols) * 200);
    Batched out{.res = run_live(*bus, dir, r)};
    const auto cfg = market_of(r);
    const pc::Timestamp first = pc::data::MarketSimulator(cfg).step().bars.front().close_time;
    const auto from = out.res.close_done.find(first + static_cast<long>(kTimedFrom - 1) * cfg.interval);
    const auto to = out.res.close_done.find(first + (r.steps - 1) * cfg.interval);
    if (from != out.res.close_done.end() && to != out.res.close_done.end() && to->second > from->second)
        out.bars_per_second = static_cast<double>(symbols * closes) / (to->second - from->second);
    return out;
}

// What a run that missed its deadline got done.
std::string timed_out(const LiveResult& res, int symbols) {
    return fmt::format(" (timed out: {} bars in, {} predictions, {} closes with all {} symbols predicted)", res.bars,
                       res.predictions, res.close_done.size(), symbols);
}

std::string call_spread(const LiveResult& res) {
    std::string out;
    for (auto it = res.calls.rbegin(); it != res.calls.rend() && out.size() < 40; ++it)
        out += fmt::format("{}x{} ", it->second, it->first);
    return out;
}

void python_table() {
    constexpr long kBars = 500;
    auto m = market(1);
    m.news_rate = 0;
    m.market_news_rate = 0;
    pc::data::MarketSimulator sim(m);
    std::vector<pc::Bar> bars;
    for (long t = 0; t < kBars; ++t) bars.push_back(sim.step().bars.front());
    const auto model = train_lstm(original_features(), m, 600);
    const auto ours = cpp_per_bar(bars, kTimedFrom, *model);
    const auto py = python_per_bar(bars, kTimedFrom, *model);
    const double n = static_cast<double>(kBars - static_cast<long>(kTimedFrom));
    std::printf("\n4. The original design's Python pipeline against ours: the same bars, the same LSTM-attention weights,\n");
    std::printf("   one thread for the model on both sides (set_num_threads(1) in python3-torch; LstmConfig::threads = 1 here)\n");
    std::printf("   python: per bar, pandas recomputes SMA 5/20, EMA 12/26, MACD, RSI 14, Bollinger over the symbol's last\n");
    std::printf("     100 bars, then a batch-1 python3-torch forward. Its per-bar cost does not depend on how many symbols\n");
    std::printf("     close together, so for the services rows it runs on the first few symbols' bars of the same market\n");
    std::printf("   c++ bar by bar (the old row): features::Pipeline + a batch-1 forward (our LSTM kernel) per bar, one symbol\n");
    std::printf("   c++ services: price -> sentiment -> features -> inference services on the in-process bus, the same\n");
    std::printf("     indicators, every symbol's close predicted in one batched call; bars/s over closes %zu on, end to end\n",
                kTimedFrom);
    std::printf("  %-34s %10s %10s %8s %14s %s\n", "bars/s", "c++", "python", "ratio", "python timed", "c++ calls x rows");
    std::printf("  %-34s %10.0f %10.1f %8.1f %14.0f\n", "bar by bar, batch-1 forward, 1 sym", n / ours.seconds,
                py.value("bars_per_second", 0.0),
                py.contains("bars_per_second") ? n / ours.seconds / py["bars_per_second"].get<double>() : 0.0,
                py.value("bars", 0.0));
    std::fflush(stdout);
    for (const auto& [symbols, closes] : {std::pair{100, 30L}, std::pair{1000, 8L}}) {
        // A data dir per run: the feature service resumes from the snapshot it finds there.
        const Workspace ws(fmt::format("python-{}", symbols), *model);
        const auto batched = cpp_services(ws.dir, symbols, closes);
        // About 200 timed bars on the Python side.
        const int subset = std::max(1, static_cast<int>(200 / closes));
        const LiveRun same{.symbols = symbols, .news = false};
        const auto ref = python_per_bar(market_bars(same, static_cast<long>(kTimedFrom) + closes, subset), kTimedFrom, *model);
        const double pbs = ref.value("bars_per_second", 0.0);
        const auto name = fmt::format("services, {} symbols", symbols == 1000 ? "1,000" : "100");
        const auto timed = fmt::format("{:.0f} ({} sym)", ref.value("bars", 0.0), subset);
        std::printf("  %-34s %10.0f %10.1f %8.1f %14s %s%s\n", name.c_str(), batched.bars_per_second, pbs,
                    pbs > 0 ? batched.bars_per_second / pbs : 0.0, timed.c_str(), call_spread(batched.res).c_str(),
                    batched.res.complete ? "" : timed_out(batched.res, symbols).c_str());
        std::fflush(stdout);
    }
    std::printf("\n  bar by bar, one symbol, %.0f bars       c++     python    ratio\n", n);
    auto row = [&](const char* what, double c, const char* key) {
        const double p = py.value(key, 0.0);
        std::printf("  %-34s %8.3f %10.3f %8.2f\n", what, c, p, p > 0 && c > 0 ? p / c : 0.0);
    };
    row("latency p50 (ms)", quantile(ours.ms, 0.5), "p50_ms");
    row("latency p99 (ms)", quantile(ours.ms, 0.99), "p99_ms");
    row("indicators/bar (ms)", ours.feature_us * 1e-3, "indicators_ms");
    row("forward/bar (ms)", ours.forward_ms, "forward_ms");
    if (py.empty()) std::printf("  (python3-pandas or python3-torch not available: no python column)\n");
    std::printf("  (ratio: how many times faster c++ is)\n");
}

}  // namespace

// usage: live_bench [SECTION...]   sections 1-4 (default: all); other
// arguments (bench/run-benchmarks passes Google Benchmark flags) are ignored.
int main(int argc, char** argv) {
    std::set<int> sections;
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] >= '1' && argv[i][0] <= '4' && argv[i][1] == '\0') sections.insert(argv[i][0] - '0');
    if (sections.empty()) sections = {1, 2, 3, 4};
    // The tables are the output (librdkafka's configuration warnings are not).
    spdlog::set_level(spdlog::level::err);
    const auto start = Clock::now();
    const auto schema = pc::features::Pipeline(quick_features()).schema();
    const auto gbdt = train_gbdt(schema);
    const auto lstm = train_lstm(quick_features(), market(10), 300);
    std::printf("live_bench: models trained in %.1f s (GBDT 100 rounds; LSTM 2x128, 8 heads, window 60, width %zu)\n",
                seconds_since(start), schema.size());
    if (sections.contains(1)) latency_table(*gbdt, *lstm);
    if (sections.contains(2)) throughput_table(*gbdt);
    if (sections.contains(3)) rest_table();
    if (sections.contains(4)) python_table();
    std::printf("\nlive_bench: %.0f s in all (shared, loaded machine: numbers vary run to run)\n", seconds_since(start));
}
