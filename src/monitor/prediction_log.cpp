#include <cmath>

#include <fmt/format.h>

#include "core/sqlite.hpp"
#include "monitor/monitor.hpp"

namespace pricecast::monitor {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS predictions(
  symbol TEXT NOT NULL, bar_time INTEGER NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
  slot TEXT NOT NULL, feature_time INTEGER NOT NULL, cls INTEGER NOT NULL,
  p_down REAL NOT NULL, p_stable REAL NOT NULL, p_up REAL NOT NULL, confidence REAL NOT NULL,
  close REAL NOT NULL, latency INTEGER NOT NULL, published_at INTEGER NOT NULL,
  outcome INTEGER, close_after REAL, resolved_at INTEGER,
  PRIMARY KEY(symbol, bar_time, model, version, slot));
CREATE INDEX IF NOT EXISTS predictions_by_model ON predictions(model, version, bar_time);
CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions(bar_time);
)sql";

// The log's sqlite::Fail.
void fail(std::string_view what, std::string_view message) {
    throw MonitorError(fmt::format("prediction log: {}: {}", what, message));
}

using Stmt = sqlite::Statement;

void check_field(bool ok, std::string_view field, const Prediction& p) {
    if (!ok)
        throw MonitorError(fmt::format("prediction for '{}' at {}: bad {}", p.symbol, format_iso8601(p.bar_time), field));
}

void validate(const Prediction& p) {
    check_field(!p.symbol.empty(), "symbol (empty)", p);
    check_field(!p.model.empty(), "model (empty)", p);
    check_field(!p.slot.empty(), "slot (empty)", p);
    check_field(p.version >= 0, "version (negative)", p);
    check_field(p.cls >= 0 && p.cls < kClasses, "cls (not 0..2)", p);
    for (float q : p.probs) check_field(std::isfinite(q) && q >= 0 && q <= 1, "probs (not in [0, 1])", p);
    check_field(std::isfinite(p.close) && p.close > 0, "close (not a positive price)", p);
}

constexpr const char* kInsert =
    "INSERT OR IGNORE INTO predictions(symbol, bar_time, model, version, slot, feature_time, cls, p_down, p_stable, "
    "p_up, confidence, close, latency, published_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

bool insert(Stmt& s, const sqlite::Database& db, const Prediction& p) {
    validate(p);
    s.reset();
    s.bind(1, p.symbol).bind(2, p.bar_time).bind(3, p.model).bind(4, std::int64_t{p.version}).bind(5, p.slot);
    s.bind(6, p.feature_time).bind(7, std::int64_t{p.cls});
    for (int k = 0; k < kClasses; ++k) s.bind(8 + k, double{p.probs[static_cast<std::size_t>(k)]});
    s.bind(11, p.confidence).bind(12, p.close).bind(13, p.latency).bind(14, p.published_at);
    s.step();
    return db.changes() > 0;
}

constexpr const char* kColumns =
    "symbol, bar_time, model, version, slot, feature_time, cls, p_down, p_stable, p_up, confidence, close, latency, "
    "published_at, outcome, close_after, resolved_at";

Prediction read_prediction(const Stmt& s) {
    Prediction p;
    p.symbol = s.text(0);
    p.bar_time = s.i64(1);
    p.model = s.text(2);
    p.version = static_cast<int>(s.i64(3));
    p.slot = s.text(4);
    p.feature_time = s.i64(5);
    p.cls = static_cast<int>(s.i64(6));
    for (int k = 0; k < kClasses; ++k) p.probs[static_cast<std::size_t>(k)] = static_cast<float>(s.real(7 + k));
    p.confidence = s.real(10);
    p.close = s.real(11);
    p.latency = s.i64(12);
    p.published_at = s.i64(13);
    return p;
}

}  // namespace

PredictionLog::PredictionLog(const std::filesystem::path& file) : db_(file, fail) {
    // In WAL mode NORMAL never corrupts the log; a power cut may lose the
    // last commits, which the bus replays from the consumer's commit.
    db_.exec("PRAGMA synchronous=NORMAL");
    db_.exec(kSchema);
}

PredictionLog::~PredictionLog() = default;

std::filesystem::path PredictionLog::default_path(const std::filesystem::path& data_dir) {
    return data_dir / "predictions.sqlite";
}

bool PredictionLog::append(const Prediction& p) {
    std::lock_guard lock(write_mutex_);
    Stmt s(db_, kInsert);
    return insert(s, db_, p);
}

std::size_t PredictionLog::append(std::span<const Prediction> ps) {
    std::lock_guard lock(write_mutex_);
    sqlite::Transaction txn(db_, sqlite::Transaction::Mode::write);
    Stmt s(db_, kInsert);
    std::size_t added = 0;
    for (const auto& p : ps) added += insert(s, db_, p) ? 1 : 0;
    txn.commit();
    return added;
}

std::size_t PredictionLog::set_outcome(const Outcome& o) {
    if (o.cls < 0 || o.cls >= kClasses) throw MonitorError(fmt::format("outcome for '{}': bad cls {}", o.symbol, o.cls));
    std::lock_guard lock(write_mutex_);
    Stmt s(db_, "UPDATE predictions SET outcome = ?, close_after = ?, resolved_at = ? WHERE symbol = ? AND bar_time = ?");
    s.bind(1, std::int64_t{o.cls}).bind(2, o.close_after).bind(3, o.resolved_at).bind(4, o.symbol).bind(5, o.bar_time);
    s.step();
    return static_cast<std::size_t>(db_.changes());
}

std::vector<LoggedPrediction> PredictionLog::query(const LogQuery& q) const {
    std::string sql = fmt::format("SELECT {} FROM predictions WHERE bar_time > ? AND bar_time <= ?", kColumns);
    if (!q.model.empty()) sql += " AND model = ?3";
    if (q.version) sql += " AND version = ?4";
    if (!q.slot.empty()) sql += " AND slot = ?5";
    if (!q.symbol.empty()) sql += " AND symbol = ?6";
    if (q.resolved_only) sql += " AND outcome IS NOT NULL";
    sql += " ORDER BY bar_time, symbol, model, version, slot";
    Stmt s(db_, sql);
    s.bind(1, q.from).bind(2, q.to);
    if (!q.model.empty()) s.bind(3, q.model);
    if (q.version) s.bind(4, std::int64_t{*q.version});
    if (!q.slot.empty()) s.bind(5, q.slot);
    if (!q.symbol.empty()) s.bind(6, q.symbol);
    std::vector<LoggedPrediction> out;
    while (s.step()) {
        LoggedPrediction row{.prediction = read_prediction(s)};
        if (!s.null(14)) {
            row.outcome = static_cast<int>(s.i64(14));
            row.close_after = s.real(15);
            row.resolved_at = s.i64(16);
        }
        out.push_back(std::move(row));
    }
    return out;
}

std::vector<Prediction> PredictionLog::pending(Timestamp from) const {
    Stmt s(db_, fmt::format("SELECT {} FROM predictions WHERE outcome IS NULL AND bar_time > ? ORDER BY bar_time, symbol",
                            kColumns));
    s.bind(1, from);
    std::vector<Prediction> out;
    while (s.step()) out.push_back(read_prediction(s));
    return out;
}

std::vector<ModelKey> PredictionLog::models() const {
    Stmt s(db_, "SELECT DISTINCT model, version, slot FROM predictions ORDER BY model, version, slot");
    std::vector<ModelKey> out;
    while (s.step()) out.push_back({s.text(0), static_cast<int>(s.i64(1)), s.text(2)});
    return out;
}

std::optional<Timestamp> PredictionLog::latest_bar_time() const {
    Stmt s(db_, "SELECT MAX(bar_time) FROM predictions");
    if (!s.step() || s.null(0)) return std::nullopt;
    return s.i64(0);
}

}  // namespace pricecast::monitor
