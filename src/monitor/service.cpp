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
    std::vector<int> reference_column;                        // reference feature -> FeatureVector column
    std::deque<std::pair<Timestamp, std::vector<double>>> recent;  // (close time, reference features)
    Timestamp first_feature = INT64_MIN;

    Impl(MonitorOptions o, AlertManager& a)
        : options(std::move(o)),
          alerts(a),
          log(options.log_file),
          resolver(options.rule, [this](const Outcome& out) { log.set_outcome(out); }) {
        validate(options.drift);
        if (options.evaluate_every <= 0) throw MonitorError("monitor: evaluate_every must be positive");
        if (!options.state_file.empty() && std::filesystem::exists(options.state_file))
            resolver.restore(read_file(options.state_file));
        else
            for (const auto& p : log.pending()) resolver.on_prediction(p);  // outcomes still owed from the log
        if (options.reference) map_reference();
    }

    void map_reference() {
        for (const auto& f : options.reference->features()) {
            const auto it = std::find(options.feature_names.begin(), options.feature_names.end(), f.name);
            if (it == options.feature_names.end())
                throw MonitorError("monitor: reference feature '" + f.name + "' is not in feature_names");
            reference_column.push_back(static_cast<int>(it - options.feature_names.begin()));
        }
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
                if (d.alarm) alerts.raise(performance_alert(s.key, s.symbol, d, now));
            }
        }
    }
};

MonitorService::MonitorService(MonitorOptions options, AlertManager& alerts)
    : impl_(std::make_unique<Impl>(std::move(options), alerts)) {}

MonitorService::~MonitorService() = default;

void MonitorService::on_prediction(const Prediction& p) {
    impl_->log.append(p);
    impl_->resolver.on_prediction(p);
    impl_->maybe_evaluate(p.bar_time, *this);
}

void MonitorService::on_bar(const Bar& b) {
    impl_->resolver.on_bar(b);
    impl_->maybe_evaluate(b.close_time, *this);
}

void MonitorService::on_features(const features::FeatureVector& v) {
    if (!impl_->options.reference) return;
    std::vector<double> values;
    for (int c : impl_->reference_column)
        values.push_back(static_cast<std::size_t>(c) < v.values.size() ? v.values[std::size_t(c)] : NAN);
    auto& recent = impl_->recent;
    if (impl_->first_feature == INT64_MIN) impl_->first_feature = v.close_time;
    recent.emplace_back(v.close_time, std::move(values));
    while (recent.front().first <= v.close_time - impl_->options.drift.short_window) recent.pop_front();
    impl_->maybe_evaluate(v.close_time, *this);
}

std::optional<DataDrift> MonitorService::data_drift_now() const {
    // A partial window is not comparable with the reference: an hour of data
    // has its own time-of-day profile and too few independent values.
    if (!impl_->options.reference || impl_->recent.empty() ||
        impl_->recent.back().first - impl_->first_feature < impl_->options.drift.short_window)
        return std::nullopt;
    std::vector<std::vector<double>> columns(impl_->reference_column.size());
    for (const auto& [t, values] : impl_->recent)
        for (std::size_t f = 0; f < values.size(); ++f) columns[f].push_back(values[f]);
    return data_drift(*impl_->options.reference, columns, impl_->options.drift);
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
        if (d->alarm) impl_->alerts.raise(data_drift_alert(impl_->options.reference_model, *d, now));
    }
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
    if (impl_->options.reference) topics.push_back(bus::topics::features);
    auto in = bus.subscribe(impl_->options.group, topics);
    auto& rejected = metrics::registry().counter("pricecast_messages_rejected_total",
                                                 "Messages a service could not use (bad or late)", {{"role", "monitor"}});
    auto last_commit = std::chrono::steady_clock::now();
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> next_offsets;  // read, not yet committed
    auto checkpoint = [&] {
        save_state();
        for (const auto& [where, offset] : next_offsets) in->commit(where.first, where.second, offset);
        next_offsets.clear();
        last_commit = std::chrono::steady_clock::now();
    };
    while (!stop.stop_requested()) {
        auto m = in->poll(kPoll);
        if (!next_offsets.empty() && std::chrono::steady_clock::now() - last_commit >= kCommitEvery) checkpoint();
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

}  // namespace pricecast::monitor
