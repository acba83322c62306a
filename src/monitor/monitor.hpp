// Model monitoring: the prediction log, outcomes resolved from the price
// stream, rolling metrics, drift and alerts.
//
//     monitor::PredictionLog log(monitor::PredictionLog::default_path(data_dir));
//     monitor::OutcomeResolver resolver(monitor::LabelRule::fixed(5, 0.002),
//                                       [&](const monitor::Outcome& o) { log.set_outcome(o); });
//     // for every published prediction and every closed bar, in any interleaving:
//     log.append(prediction);  resolver.on_prediction(prediction);
//     resolver.on_bar(bar);
//     const std::vector<Duration> windows = {24 * kHour, 168 * kHour};
//     auto rows = monitor::rolling_metrics(log, {}, windows);
//
// Times are event times (bar close times); nothing here reads the wall clock,
// so a replay gives the same metrics, drift and alerts as the live run.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sqlite.hpp"
#include "core/time.hpp"
#include "core/types.hpp"


namespace pricecast::bus {
class Bus;
}
namespace pricecast::features {
struct FeatureVector;
struct FeatureMatrix;
}

namespace pricecast::monitor {

class MonitorError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline constexpr int kClasses = 3;  // DOWN, STABLE, UP

// The label rule a model was trained on (models::Labeler): the return over
// `horizon` bars above `up` is UP, below `down` DOWN, else STABLE. With
// vol_window > 0 (volatility labels) the thresholds are multiples of the
// sample std of the vol_window one-bar returns ending at the predicted-from
// bar, times sqrt(horizon).
struct LabelRule {
    int horizon = 1;
    double down = -0.01, up = 0.01;
    int vol_window = 0;
    // The fixed-threshold rule: down = -threshold, up = threshold.
    static constexpr LabelRule fixed(int horizon, double threshold) { return {horizon, -threshold, threshold, 0}; }
    // A registered version's label parameters (models::Labeler::to_json) as a
    // rule, or nullopt when it has none.
    static std::optional<LabelRule> of_model(const nlohmann::json& labels);
    std::string describe() const;  // "horizon 1, DOWN below -0.12%, UP above +0.11%"
    bool operator==(const LabelRule&) const = default;
};
// Throws MonitorError naming the field when the rule is unusable.
void validate(const LabelRule& rule);
// `scale` multiplies the thresholds: 1, or the volatility of a vol_window rule.
int realized_class(double close_at_prediction, double close_after_horizon, const LabelRule& rule,
                   double scale = 1);

// ---- prediction log -----------------------------------------------------------

struct Outcome {
    std::string symbol{};
    Timestamp bar_time = 0;     // the predicted-from bar
    int cls = 1;                // realized class
    double close_after = 0;     // the close `horizon` bars later
    Timestamp resolved_at = 0;  // close time of that bar
};

struct LoggedPrediction {
    Prediction prediction{};
    std::optional<int> outcome{};  // empty while pending
    double close_after = 0;
    Timestamp resolved_at = 0;
};

struct LogQuery {
    std::string model{};               // empty = any
    std::optional<int> version{};
    std::string slot{};                // empty = any
    std::string symbol{};              // empty = any
    Timestamp from = INT64_MIN;        // from < bar_time <= to
    Timestamp to = INT64_MAX;
    bool resolved_only = false;
};

struct ModelKey {
    std::string model{};
    int version = 0;
    std::string slot{};
    auto operator<=>(const ModelKey&) const = default;
};

// SQLite file (WAL) shared by the processes that write and read it.
// Thread-safe (one connection in serialized mode; changes serialized here too).
class PredictionLog {
public:
    explicit PredictionLog(const std::filesystem::path& file);
    ~PredictionLog();
    PredictionLog(const PredictionLog&) = delete;
    PredictionLog& operator=(const PredictionLog&) = delete;

    static std::filesystem::path default_path(const std::filesystem::path& data_dir);

    // False when (symbol, bar_time, model, version, slot) is already logged:
    // the bus delivers at least once. Throws MonitorError naming a bad field.
    bool append(const Prediction& p);
    std::size_t append(std::span<const Prediction> ps);  // one transaction; returns rows added
    // Sets the outcome of every prediction of (symbol, bar_time); returns how many.
    std::size_t set_outcome(const Outcome& o);

    std::vector<LoggedPrediction> query(const LogQuery& q) const;  // by bar_time, then symbol
    std::vector<Prediction> pending(Timestamp from = INT64_MIN) const;  // unresolved, from < bar_time
    std::vector<ModelKey> models() const;
    std::optional<Timestamp> latest_bar_time() const;

private:
    sqlite::Database db_;
    std::mutex write_mutex_;  // a change and its sqlite3_changes() count, together
};

// ---- outcomes -----------------------------------------------------------------

// Resolves a prediction once the `horizon` bars of its symbol after its own
// bar have closed, from its own close and the close `horizon` bars later,
// counted in bars as the trainer counts its labels: a weekend or a halt is
// stepped over, not waited for (and, for a volatility rule, the vol_window
// bars before its bar: a prediction without them is dropped, counted as
// unscored). A symbol's bars are taken in time order, as the feature pipeline
// takes them: one older than its newest is counted as bad and not used. A
// prediction may arrive before or after its bar; without its bar, the count
// starts at the bar one interval after it, and without that one either it is
// unscored. Predictions of one bar (models, slots) wait
// as one; a prediction arriving after its bar was resolved is resolved again
// from the kept closes, with the same answer.
class OutcomeResolver {
public:
    using Sink = std::function<void(const Outcome&)>;
    struct Stats {
        std::uint64_t bars = 0, predictions = 0, resolved = 0, bad_bars = 0, unscored = 0;
    };

    // Keeps the last `keep_bars` closes per symbol for predictions that arrive after their bars.
    OutcomeResolver(LabelRule rule, Sink sink, std::size_t keep_bars = 4096);
    void on_prediction(const Prediction& p);
    void on_bar(const Bar& b);
    std::size_t pending() const;
    const Stats& stats() const { return stats_; }
    const LabelRule& rule() const { return rule_; }
    // Outcomes resolved from now on use `rule` (a new champion's); throws MonitorError when unusable.
    void set_rule(const LabelRule& rule);

    std::string save() const;
    void restore(std::string_view bytes);  // throws StateError on a foreign or truncated snapshot

private:
    struct Waiting {
        Timestamp bar_time = 0;
        double close = 0;
        template <class V> void fields(V& v) { v(bar_time, close); }
    };
    struct SymbolState {
        std::string symbol{};
        Duration interval = 0;
        std::vector<std::pair<Timestamp, double>> closes{};  // by close time
        std::vector<Waiting> waiting{};                       // by bar time
        template <class V> void fields(V& v) { v(symbol, interval, closes, waiting); }
    };
    SymbolState& state(const std::string& symbol);
    bool try_resolve(SymbolState& s, const Waiting& w);

    LabelRule rule_;
    Sink sink_;
    std::size_t keep_bars_;
    std::vector<SymbolState> symbols_;
    Stats stats_;
};

// ---- metrics ------------------------------------------------------------------

struct ClassScores {
    double precision = 0, recall = 0, f1 = 0;  // 0 when undefined (sklearn's zero_division=0)
    std::size_t support = 0, predicted = 0;
};

struct ReliabilityBin {
    double lower = 0, upper = 0;  // on the confidence max(probs)
    std::size_t count = 0;
    double mean_confidence = 0, accuracy = 0;  // NaN when empty
};

struct Metrics {
    std::size_t predictions = 0;  // in the window, resolved or not
    std::size_t resolved = 0;
    std::array<double, kClasses> class_mix{};  // share of predicted classes over all predictions
    // On resolved predictions; NaN when there are none.
    double accuracy = 0, macro_f1 = 0, log_loss = 0, brier = 0, ece = 0;
    std::array<ClassScores, kClasses> classes{};
    std::vector<ReliabilityBin> reliability{};  // 10 equal bins on [0, 1]
};

// Log loss clips the true class's probability to [1e-15, 1] after dividing by
// the row's sum (as sklearn); Brier is the multi-class one, the sum over
// classes of (p - y)^2, averaged over rows.
Metrics compute_metrics(std::span<const LoggedPrediction> rows);
nlohmann::json to_json(const Metrics& m);

struct MetricsRow {
    ModelKey key{};
    std::string symbol{};  // "" = all symbols
    Duration window = 0;
    Timestamp end = 0;   // window is (end - window, end]
    Metrics metrics{};
};
nlohmann::json to_json(const MetricsRow& r);

struct MetricsQuery {
    std::string model{};  // empty = every model
    std::optional<int> version{};
    std::string symbol{};              // empty = all symbols and each symbol
    std::optional<Timestamp> end{};    // default: the newest bar time in the log
};
// One row per (model, version, slot) x (all symbols, each symbol) x window.
std::vector<MetricsRow> rolling_metrics(const PredictionLog& log, const MetricsQuery& q,
                                        std::span<const Duration> windows);

// ---- drift --------------------------------------------------------------------

struct DriftConfig {
    Duration short_window = 24 * kHour;
    Duration long_window = 168 * kHour;
    double max_accuracy_drop = 0.05;  // short below long by more than this alarms
    std::size_t min_samples = 100;    // resolved predictions needed in the short window
    // A feature alarms when both PSI and the KS statistic exceed these. The KS
    // p-value is reported but not used: features are autocorrelated (rolling
    // windows), which makes it tiny on stationary data too (1e-40 on the simulator).
    double psi_alarm = 0.25;
    // ... and PSI exceeds this times the feature's own noise_psi and this times
    // the PSI expected by chance from the effective sample sizes, (bins - 1)
    // (1 / n_eff + 1 / n_eff_reference).
    double noise_multiplier = 3;
    double ks_alarm = 0.25;
    std::size_t min_feature_samples = 100;
    std::size_t top_features = 5;
};
void validate(const DriftConfig& c);  // throws MonitorError naming the field

struct PerformanceDrift {
    bool alarm = false;
    bool enough_samples = false;
    double short_accuracy = 0, long_accuracy = 0;
    std::size_t short_resolved = 0, long_resolved = 0;
};
PerformanceDrift performance_drift(const Metrics& short_window, const Metrics& long_window, const DriftConfig& c);

// The training-time distribution of each feature: decile edges with the
// reference share in each bin (for PSI) and a sorted sample (for KS).
class Reference {
public:
    struct Feature {
        std::string name{};
        std::vector<double> edges{};   // 9 inner cut points; bins are (-inf, e0], (e0, e1], ..., (e8, inf)
        std::vector<double> shares{};  // reference share per bin (10)
        std::vector<double> sample{};  // sorted, at most sample_size values
        // The largest PSI of a window of the reference against the whole: how
        // much the feature moves on its own (sparse news features move a lot).
        double noise_psi = 0;
        // Autocorrelated values carry less information than their count:
        // n_eff = n (1 - r) / (1 + r) with r the lag autocorrelation (AR(1)
        // approximation); this is (1 - r) / (1 + r), in (0, 1].
        double effective_share = 1;
        std::size_t count = 0;  // finite reference values
    };
    // columns[f] holds feature f's values in time order; non-finite values are
    // skipped. `window`: values in one monitoring window (the short window's
    // rows); 0 leaves noise_psi at 0. `lag`: rows between consecutive values
    // of one series (the number of symbols interleaved in the columns).
    static Reference fit(const std::vector<std::string>& names, const std::vector<std::vector<double>>& columns,
                         std::size_t sample_size = 2000, std::size_t window = 0, std::size_t lag = 1);
    // From a training feature matrix (rows in time order, symbols interleaved):
    // every column, windows of `short_window` of event time, lag = symbols.
    static Reference fit(const features::FeatureMatrix& m, Duration short_window, std::size_t sample_size = 2000);
    const std::vector<Feature>& features() const { return features_; }
    nlohmann::json to_json() const;
    // Throws MonitorError naming the bad field ("features[2].edges").
    static Reference from_json(const nlohmann::json& j);
    // Stored in a registered model version's artifact folder at training time.
    static constexpr std::string_view kFile = "drift_reference.json";
    // The reference in a version's artifact folder; nullopt when it has none (a
    // version registered without one). Throws MonitorError naming the file
    // when it is unreadable or invalid.
    static std::optional<Reference> load(const std::filesystem::path& artifact_dir);

private:
    std::vector<Feature> features_;
};

struct FeatureDrift {
    std::string name{};
    std::size_t n = 0;  // finite current values
    double psi = 0, ks = 0, ks_p = 1;
    double psi_threshold = 0;  // the largest of the three PSI bounds
    bool alarm = false;
};
struct DataDrift {
    bool alarm = false;
    std::vector<FeatureDrift> features{};  // most drifting (highest PSI) first
    std::vector<std::string> top{};        // alarming features, at most top_features
};
// current[f] are recent values of the reference's feature f.
DataDrift data_drift(const Reference& ref, const std::vector<std::vector<double>>& current, const DriftConfig& c);

double psi(const Reference::Feature& ref, std::span<const double> current);
struct KsResult {
    double statistic = 0, p_value = 1;
};
// Two-sample Kolmogorov-Smirnov on sorted samples. The p-value is Kolmogorov's
// limit distribution at sqrt(n m / (n + m)) D (scipy.stats.kstwobign.sf).
KsResult ks_two_sample(std::span<const double> sorted_a, std::span<const double> sorted_b);

// ---- alerts -------------------------------------------------------------------

enum class Severity : std::uint8_t { info, warning, critical };
std::string_view to_string(Severity s);

struct Alert {
    std::string kind{};     // "performance_drift", "data_drift", ...
    std::string key{};      // what de-duplication compares: kind + subject
    Severity severity = Severity::warning;
    std::string summary{};  // one line for humans
    nlohmann::json details = nlohmann::json::object();
    Timestamp time = 0;   // event time
};
nlohmann::json to_json(const Alert& a);
Alert performance_alert(const ModelKey& key, const std::string& symbol, const PerformanceDrift& d, Timestamp time);
Alert data_drift_alert(const ModelKey& key, const DataDrift& d, Timestamp time);

class AlertSink {
public:
    virtual ~AlertSink() = default;
    virtual std::string name() const = 0;
    // May throw; the AlertManager logs and counts the failure.
    virtual void send(const Alert& a) = 0;
};

std::unique_ptr<AlertSink> make_log_sink();
// Counter pricecast_alerts_total{kind, severity} in metrics::registry().
std::unique_ptr<AlertSink> make_metrics_sink();
enum class WebhookFormat : std::uint8_t { json, slack };  // slack: {"text": summary}
// url: http://host[:port]/path (no TLS). Throws MonitorError on a bad url.
std::unique_ptr<AlertSink> make_webhook_sink(const std::string& url, WebhookFormat format,
                                             Duration timeout = 5 * kSecond);

struct AlertPolicy {
    Duration cooldown = kHour;         // the same key again within this is dropped
    std::size_t max_per_window = 20;   // at most this many alerts sent ...
    Duration rate_window = kHour;      // ... per this much event time
};

// Thread-safe.
class AlertManager {
public:
    struct Stats {
        std::uint64_t raised = 0, sent = 0, duplicates = 0, rate_limited = 0, sink_failures = 0;
    };
    explicit AlertManager(AlertPolicy policy = {});
    ~AlertManager();
    void add_sink(std::unique_ptr<AlertSink> sink);
    // True when the alert went to the sinks; false when dropped as a
    // duplicate or over the rate limit.
    bool raise(const Alert& a);
    Stats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- A/B and shadow tests ----------------------------------------------------------
//
// The champion against the challenger on resolved outcomes. Shadow traffic
// (both predict every bar) is compared on the same bars, by McNemar's test on
// the pairs where exactly one is right; split traffic (each symbol served by
// one) by the two-proportion z-test on accuracy. P-values are two-sided.

// Exact binomial (min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c, 1/2)) when
// b + c < exact_below, else chi-square with one degree of freedom of the
// continuity-corrected (|b - c| - 1)^2 / (b + c), as statsmodels' mcnemar.
// b: pairs only the champion got right, c: only the challenger.
struct McNemar {
    std::size_t b = 0, c = 0;
    bool exact = true;
    double statistic = 0;  // chi-square only
    double p_value = 1;    // 1 without discordant pairs
};
McNemar mcnemar(std::size_t b, std::size_t c, std::size_t exact_below = 25);

// Pooled two-proportion z-test of x2/n2 against x1/n1 (statsmodels'
// proportions_ztest): z > 0 when the second is higher; z = 0, p = 1 when the
// pooled variance is 0. Throws MonitorError when n1 or n2 is 0.
struct ZTest {
    double z = 0, p_value = 1;
};
ZTest two_proportion_z(std::size_t x1, std::size_t n1, std::size_t x2, std::size_t n2);

enum class AbMode : std::uint8_t { shadow, split };
std::string_view to_string(AbMode m);
enum class AbVerdict : std::uint8_t { challenger_better, challenger_worse, no_significant_difference, insufficient_data };
std::string_view to_string(AbVerdict v);

struct AbOptions {
    std::string model;
    Duration window = 168 * kHour;     // bars in (end - window, end]
    std::optional<Timestamp> end{};    // default: the newest bar time in the log
    double alpha = 0.05;
    // Default: shadow when the arms have resolved bars in common, else split.
    std::optional<AbMode> mode{};
};
void validate(const AbOptions& o);  // throws MonitorError naming the field

struct AbArm {
    ModelKey key{};    // the arm's newest version in the window; only its rows count
    Metrics metrics{};  // shadow: on the paired bars; split: on every resolved prediction
};

struct AbReport {
    std::string model;
    AbMode mode = AbMode::shadow;
    Timestamp end = 0;
    Duration window = 0;
    double alpha = 0.05;
    std::optional<AbArm> champion{}, challenger{};  // empty when the arm has no resolved prediction
    std::size_t pairs = 0;                      // resolved bars both arms predicted
    std::optional<McNemar> mcnemar{};           // shadow
    std::optional<ZTest> z_test{};              // split
    double p_value = 1;
    AbVerdict verdict = AbVerdict::insufficient_data;
};
// Throws MonitorError for invalid options.
AbReport ab_report(const PredictionLog& log, const AbOptions& o);
nlohmann::json to_json(const AbReport& r);

// ---- the monitor service ---------------------------------------------------------

struct MonitorOptions {
    std::filesystem::path log_file;          // the prediction log
    LabelRule rule;                          // as the served models were trained
    DriftConfig drift;
    Duration evaluate_every = kHour;         // event time between evaluations
    std::filesystem::path state_file;        // resolver snapshot; empty: none
    std::string group = "monitor";           // bus consumer group
    // Data drift: the reference of the serving model and the feature schema's
    // column names (the order of FeatureVector::values). Without a reference,
    // reference_of and keep_features the features topic is not read.
    std::optional<Reference> reference;
    ModelKey reference_model;
    std::vector<std::string> feature_names;
    // The reference of another serving champion: asked when a champion
    // prediction names a version other than reference_model (a promotion or
    // rollback), once per version; nullopt leaves that version without data
    // drift checks.
    std::function<std::optional<Reference>(const ModelKey&)> reference_of;
    // The newest bar of a version's training data (registry::ModelVersion::
    // data_to): its predictions on bars up to then are in-sample, so they are
    // neither logged nor scored, and live metrics measure bars the model has
    // not seen. Asked once per version; nullopt (or no function): all count.
    std::function<std::optional<Timestamp>(const ModelKey&)> trained_to;
    // The label rule of another serving champion: asked when a champion
    // prediction names a version other than the last one asked about (a
    // promotion or rollback); outcomes resolved from then on use it.
    std::function<LabelRule(const ModelKey&)> rule_of;
    // Feature vectors are kept this long of event time (at least the short
    // window), for recent_features().
    Duration keep_features = 0;
    // Called on the feeding thread after a drift alert went to the sinks (not
    // for one dropped as a duplicate or over the rate limit), once drift was
    // found by on_drift_after evaluations in a row: a drift that one bad hour
    // shows is not yet a reason to retrain. When the streak reaches that
    // length, the evaluation's alert is handed over even if the sinks
    // dropped it as a repeat of the first.
    std::function<void(const Alert&)> on_drift;
    int on_drift_after = 1;
};

// The monitor of the live pipeline: appends every prediction to the log,
// resolves outcomes from the price stream, and every `evaluate_every` of
// event time computes the short and long window metrics (Prometheus gauges
// pricecast_monitor_*), checks performance and data drift and raises alerts.
// Fed by run() from the bus, or directly (embedded, tests) through on_*.
// Not thread-safe: one thread feeds it.
class MonitorService {
public:
    MonitorService(MonitorOptions options, AlertManager& alerts);
    ~MonitorService();
    void on_prediction(const Prediction& p);
    void on_bar(const Bar& b);
    void on_features(const features::FeatureVector& v);
    // Metrics of both windows ending at `now`, gauges set, alerts raised.
    std::vector<MetricsRow> evaluate(Timestamp now);
    // Features of the short window against the reference; nullopt without a
    // reference or until features span a whole short window.
    std::optional<DataDrift> data_drift_now() const;
    // The kept feature vectors (MonitorOptions::keep_features), oldest first.
    std::vector<features::FeatureVector> recent_features() const;
    // The model version whose reference data drift is checked against (empty
    // model name: none).
    ModelKey reference_model() const;

    // Consumes predictions, prices (and features) until stop, then what is
    // already on the bus (up to a minute); commits after saving the resolver
    // state, so a restart replays at most what follows.
    void run(bus::Bus& bus, std::stop_token stop);

    const PredictionLog& log() const;
    const OutcomeResolver& resolver() const;
    std::uint64_t in_sample() const;  // predictions left out for MonitorOptions::trained_to
    void save_state() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pricecast::monitor
