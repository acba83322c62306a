#include <array>
#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "bus/bus.hpp"
#include "bus/messages.hpp"
#include "core/metrics.hpp"
#include "core/state.hpp"
#include "features/features.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

using namespace std::chrono_literals;
constexpr auto kPoll = 100ms;
constexpr auto kCommitEvery = 500ms;
// On stop the monitor drains what is already on the bus (a fast replay's
// predictions outrun it), up to this long.
constexpr auto kDrainLimit = 60s;

metrics::Labels labels_of(const MetricsRow& r) {
    return {{"model", r.key.model},
            {"version", std::to_string(r.key.version)},
            {"slot", r.key.slot},
            {"symbol", r.symbol.empty() ? "all" : r.symbol},
            {"window", format_duration(r.window)}};
}

void set_gauges(const MetricsRow& r) {
    auto& reg = metrics::registry();
    const auto labels = labels_of(r);
    const auto& m = r.metrics;
    reg.gauge("pricecast_monitor_accuracy", "Accuracy of resolved predictions over the window", labels).set(m.accuracy);
    reg.gauge("pricecast_monitor_macro_f1", "Macro-F1 of resolved predictions over the window", labels).set(m.macro_f1);
    reg.gauge("pricecast_monitor_log_loss", "Log loss of resolved predictions over the window", labels).set(m.log_loss);
    reg.gauge("pricecast_monitor_brier", "Multi-class Brier score over the window", labels).set(m.brier);
    reg.gauge("pricecast_monitor_resolved", "Resolved predictions in the window", labels).set(double(m.resolved));
    reg.gauge("pricecast_monitor_predictions", "Predictions in the window", labels).set(double(m.predictions));
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

struct MonitorService::Impl {
    MonitorOptions options;
    AlertManager& alerts;
    PredictionLog log;
    OutcomeResolver resolver;
    Timestamp next_evaluation = INT64_MIN;
    std::vector<int> reference_column;  // reference feature -> FeatureVector column
    std::map<ModelKey, std::optional<Reference>> references;  // asked of reference_of, by version
    std::map<std::pair<std::string, int>, std::optional<Timestamp>> trained_to;  // asked of options.trained_to
    std::uint64_t in_sample = 0;
    std::pair<std::string, int> rule_version{"", -1};  // the champion rule_of was last asked about
    std::deque<features::FeatureVector> recent;  // kept vectors, oldest first
    Timestamp first_feature = INT64_MIN;
    // The evaluation under way: its last drift alert and those the sinks took;
    // and evaluations in a row that found drift.
    std::optional<Alert> found;
    std::vector<Alert> raised;
    int drift_streak = 0;

    Impl(MonitorOptions o, AlertManager& a)
        : options(std::move(o)),
          alerts(a),
          log(options.log_file),
          resolver(options.rule, [this](const Outcome& out) { log.set_outcome(out); }) {
        validate(options.drift);
        if (options.evaluate_every <= 0) throw MonitorError("monitor: evaluate_every must be positive");
        if (options.on_drift_after < 1) throw MonitorError("monitor: on_drift_after must be at least 1");
        if (!restore_resolver())
            for (const auto& p : log.pending()) resolver.on_prediction(p);  // outcomes still owed from the log
        if (options.reference) map_reference();
    }

    // A snapshot of another rule (the champion's changed) or format is set
    // aside: the log still holds every prediction whose outcome is owed.
    bool restore_resolver() {
        if (options.state_file.empty() || !std::filesystem::exists(options.state_file)) return false;
        try {
            resolver.restore(read_file(options.state_file));
            return true;
        } catch (const StateError& e) {
            spdlog::warn("monitor: {} not used ({}); resolving the outcomes the log still owes",
                         options.state_file.string(), e.what());
            return false;
        }
    }

    bool reads_features() const { return options.reference || options.reference_of || options.keep_features > 0; }

    void map_reference() {
        reference_column.clear();
        for (const auto& f : options.reference->features()) {
            const auto it = std::find(options.feature_names.begin(), options.feature_names.end(), f.name);
            if (it == options.feature_names.end())
                throw MonitorError("monitor: reference feature '" + f.name + "' is not in feature_names");
            reference_column.push_back(static_cast<int>(it - options.feature_names.begin()));
        }
    }

    // A champion prediction of another version: from now on drift is judged
    // against that version's reference (or not at all when it has none).
    void follow_champion(const Prediction& p) {
        const ModelKey key{p.model, p.version, p.slot};
        if (!options.reference_of || p.slot != "champion" || key == options.reference_model) return;
        auto it = references.find(key);
        if (it == references.end()) it = references.emplace(key, ask_reference(key)).first;
        options.reference = it->second;
        options.reference_model = key;
        try {
            if (options.reference) map_reference();
        } catch (const MonitorError& e) {
            spdlog::warn("{} v{}: no data drift checks: {}", key.model, key.version, e.what());
            options.reference.reset();
            it->second.reset();
        }
        spdlog::info("monitor: data drift of {} v{} {}", key.model, key.version,
                     options.reference ? "against its training reference" : "not checked (it has no reference)");
    }

    // A champion prediction of another version: outcomes are scored with its label rule from now on.
    void follow_champion_rule(const Prediction& p) {
        if (!options.rule_of || p.slot != "champion" || rule_version == std::pair(p.model, p.version)) return;
        rule_version = {p.model, p.version};
        try {
            const auto rule = options.rule_of({p.model, p.version, p.slot});
            if (rule == resolver.rule()) return;
            resolver.set_rule(rule);
            spdlog::info("monitor: outcomes now scored with the label rule of {} v{}: {}", p.model, p.version,
                         rule.describe());
        } catch (const std::exception& e) {
            spdlog::warn("{} v{}: outcomes still scored with {}: {}", p.model, p.version, resolver.rule().describe(),
                         e.what());
        }
    }

    // Whether the prediction is on a bar its version was trained on.
    bool in_training_data(const Prediction& p) {
        if (!options.trained_to) return false;
        const auto id = std::make_pair(p.model, p.version);
        auto it = trained_to.find(id);
        if (it == trained_to.end()) {
            std::optional<Timestamp> to;
            try {
                to = options.trained_to({p.model, p.version, p.slot});
            } catch (const std::exception& e) {
                spdlog::warn("{} v{}: its training data is unknown, so all its predictions are scored: {}", p.model,
                             p.version, e.what());
            }
            if (to)
                spdlog::info("monitor: {} v{} was trained on bars up to {}: its predictions on them are not scored",
                             p.model, p.version, format_iso8601(*to));
            it = trained_to.emplace(id, to).first;
        }
        return it->second && p.bar_time <= *it->second;
    }

    std::optional<Reference> ask_reference(const ModelKey& key) {
        try {
            return options.reference_of(key);
        } catch (const std::exception& e) {
            spdlog::warn("{} v{}: no data drift checks: {}", key.model, key.version, e.what());
            return std::nullopt;
        }
    }

    void raise(const Alert& a) {
        found = a;
        if (alerts.raise(a)) raised.push_back(a);
    }

    // After an evaluation: hands its drift to on_drift once the streak is long enough.
    void hand_over_drift() {
        drift_streak = found ? drift_streak + 1 : 0;
        if (options.on_drift && drift_streak >= options.on_drift_after) {
            if (!raised.empty())
                for (const auto& a : raised) options.on_drift(a);
            else if (drift_streak == options.on_drift_after && options.on_drift_after > 1)
                options.on_drift(*found);
        }
        found.reset();
        raised.clear();
    }

    // The topics arrive unaligned (a fast replay puts one hours ahead of
    // another): evaluation waits until every input seen so far has passed its
    // time, so a window holds all of its predictions, outcomes and features.
    enum Input { predictions, prices, features };
    std::array<Timestamp, 3> seen{INT64_MIN, INT64_MIN, INT64_MIN};

    void advance(Input input, Timestamp t, MonitorService& self) {
        seen[input] = std::max(seen[input], t);
        Timestamp watermark = INT64_MAX;
        for (const Timestamp s : seen)
            if (s != INT64_MIN) watermark = std::min(watermark, s);
        maybe_evaluate(watermark, self);
    }

    void maybe_evaluate(Timestamp t, MonitorService& self) {
        if (next_evaluation == INT64_MIN) next_evaluation = t + options.evaluate_every;
        if (t < next_evaluation) return;
        self.evaluate(t);
        next_evaluation = t + options.evaluate_every;
    }

    void check_performance(const std::vector<MetricsRow>& rows, Timestamp now) {
        for (const auto& s : rows) {
            if (s.window != options.drift.short_window) continue;
            for (const auto& l : rows) {
                if (l.window != options.drift.long_window || l.key != s.key || l.symbol != s.symbol) continue;
                const auto d = performance_drift(s.metrics, l.metrics, options.drift);
                if (d.alarm) raise(performance_alert(s.key, s.symbol, d, now));
            }
        }
    }
};

MonitorService::MonitorService(MonitorOptions options, AlertManager& alerts)
    : impl_(std::make_unique<Impl>(std::move(options), alerts)) {}

MonitorService::~MonitorService() = default;

void MonitorService::on_prediction(const Prediction& p) {
    impl_->follow_champion(p);
    impl_->follow_champion_rule(p);
    if (impl_->in_training_data(p)) {
        ++impl_->in_sample;
        static auto& skipped = metrics::registry().counter(
            "pricecast_monitor_in_sample_total", "Predictions on bars of their model's training data, not scored");
        skipped.inc();
    } else {
        impl_->log.append(p);
        impl_->resolver.on_prediction(p);
    }
    impl_->advance(Impl::predictions, p.bar_time, *this);
}

void MonitorService::on_bar(const Bar& b) {
    impl_->resolver.on_bar(b);
    impl_->advance(Impl::prices, b.close_time, *this);
}

void MonitorService::on_features(const features::FeatureVector& v) {
    if (!impl_->reads_features()) return;
    auto& recent = impl_->recent;
    if (impl_->first_feature == INT64_MIN) impl_->first_feature = v.close_time;
    recent.push_back(v);
    const Duration keep = std::max(impl_->options.drift.short_window, impl_->options.keep_features);
    while (recent.front().close_time <= v.close_time - keep) recent.pop_front();
    impl_->advance(Impl::features, v.close_time, *this);
}

std::optional<DataDrift> MonitorService::data_drift_now() const {
    // A partial window is not comparable with the reference: an hour of data
    // has its own time-of-day profile and too few independent values.
    const auto& recent = impl_->recent;
    const Duration window = impl_->options.drift.short_window;
    if (!impl_->options.reference || recent.empty() || recent.back().close_time - impl_->first_feature < window)
        return std::nullopt;
    const Timestamp from = recent.back().close_time - window;
    std::vector<std::vector<double>> columns(impl_->reference_column.size());
    for (auto v = recent.rbegin(); v != recent.rend() && v->close_time > from; ++v)
        for (std::size_t f = 0; f < columns.size(); ++f) {
            const auto c = static_cast<std::size_t>(impl_->reference_column[f]);
            columns[f].push_back(c < v->values.size() ? v->values[c] : NAN);
        }
    return data_drift(*impl_->options.reference, columns, impl_->options.drift);
}

std::vector<features::FeatureVector> MonitorService::recent_features() const {
    return {impl_->recent.begin(), impl_->recent.end()};
}

ModelKey MonitorService::reference_model() const {
    return impl_->options.reference ? impl_->options.reference_model : ModelKey{};
}

std::vector<MetricsRow> MonitorService::evaluate(Timestamp now) {
    const auto& drift = impl_->options.drift;
    const std::vector<Duration> windows = {drift.short_window, drift.long_window};
    auto rows = rolling_metrics(impl_->log, {.end = now}, windows);
    for (const auto& r : rows) set_gauges(r);
    impl_->check_performance(rows, now);
    if (const auto d = data_drift_now()) {
        for (const auto& f : d->features)
            metrics::registry()
                .gauge("pricecast_monitor_feature_psi", "PSI of a feature over the short window against the reference",
                       {{"feature", f.name}})
                .set(f.psi);
        if (d->alarm) impl_->raise(data_drift_alert(impl_->options.reference_model, *d, now));
    }
    impl_->hand_over_drift();
    return rows;
}

void MonitorService::save_state() const {
    const auto& path = impl_->options.state_file;
    if (path.empty()) return;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const auto tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << impl_->resolver.save();
        if (!out.flush()) throw MonitorError("monitor: cannot write " + tmp);
    }
    std::filesystem::rename(tmp, path);  // never half a snapshot
}

void MonitorService::run(bus::Bus& bus, std::stop_token stop) {
    std::vector<std::string> topics = {bus::topics::predictions, bus::topics::prices};
    if (impl_->reads_features()) topics.push_back(bus::topics::features);
    auto in = bus.subscribe(impl_->options.group, topics);
    auto& rejected = metrics::registry().counter("pricecast_messages_rejected_total",
                                                 "Messages a service could not use (bad or late)", {{"role", "monitor"}});
    auto last_commit = std::chrono::steady_clock::now();
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> next_offsets;  // read, not yet committed
    auto& failed = metrics::registry().counter("pricecast_snapshot_failures_total",
                                               "Checkpoints whose state could not be written", {{"role", "monitor"}});
    auto checkpoint = [&] {
        last_commit = std::chrono::steady_clock::now();
        // A failed write (a full disk, no file handles left) must not stop the
        // role: the offsets stay uncommitted, so a restart replays what the last
        // good state lacks, and the next checkpoint tries again.
        try {
            save_state();
        } catch (const std::exception& e) {
            spdlog::error("monitor: {}; offsets not committed, trying again", e.what());
            failed.inc();
            return;
        }
        for (const auto& [where, offset] : next_offsets) in->commit(where.first, where.second, offset);
        next_offsets.clear();
    };
    std::optional<std::chrono::steady_clock::time_point> drain_until;
    for (;;) {
        if (stop.stop_requested() && !drain_until) drain_until = std::chrono::steady_clock::now() + kDrainLimit;
        auto m = in->poll(kPoll);
        const auto now = std::chrono::steady_clock::now();
        if (!next_offsets.empty() && now - last_commit >= kCommitEvery) checkpoint();
        if (drain_until && (!m || now > *drain_until)) break;
        if (!m) continue;
        try {
            if (m->topic == bus::topics::predictions) on_prediction(bus::decode_prediction(m->value));
            else if (m->topic == bus::topics::prices) on_bar(bus::decode_bar(m->value));
            else on_features(bus::decode_features(m->value));
        } catch (const std::exception& e) {  // bus::MessageError or a prediction the log refuses
            spdlog::warn("monitor: skipped {} offset {}: {}", m->topic, m->offset, e.what());
            rejected.inc();
        }
        next_offsets[{m->topic, m->partition}] = m->offset + 1;
    }
    if (!next_offsets.empty()) checkpoint();
}

const PredictionLog& MonitorService::log() const { return impl_->log; }
const OutcomeResolver& MonitorService::resolver() const { return impl_->resolver; }
std::uint64_t MonitorService::in_sample() const { return impl_->in_sample; }

}  // namespace pricecast::monitor
