#include "registry/registry.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>

#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include "core/sqlite.hpp"
#include "core/version.hpp"
#include "models/model.hpp"
#include "registry/sha256.hpp"

namespace pricecast::registry {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStagingPrefix = ".staging-";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS models(
  name TEXT PRIMARY KEY, created_ns INTEGER NOT NULL, next_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions(
  model TEXT NOT NULL REFERENCES models(name), version INTEGER NOT NULL,
  kind TEXT NOT NULL, schema_hash INTEGER NOT NULL, params TEXT NOT NULL, metrics TEXT NOT NULL,
  eval_window TEXT NOT NULL, data_from INTEGER NOT NULL, data_to INTEGER NOT NULL, data_hash TEXT NOT NULL,
  code_version TEXT NOT NULL, created_ns INTEGER NOT NULL, description TEXT NOT NULL, tags TEXT NOT NULL,
  PRIMARY KEY(model, version));
CREATE TABLE IF NOT EXISTS files(
  model TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
  PRIMARY KEY(model, version, path),
  FOREIGN KEY(model, version) REFERENCES versions(model, version) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS aliases(
  model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY(model, alias), FOREIGN KEY(model, version) REFERENCES versions(model, version));
CREATE TABLE IF NOT EXISTS history(
  id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, alias TEXT NOT NULL, action TEXT NOT NULL,
  old_version INTEGER, new_version INTEGER, who TEXT NOT NULL, at_ns INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
  BEGIN SELECT RAISE(ABORT, 'registry history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
  BEGIN SELECT RAISE(ABORT, 'registry history is append-only'); END;
)sql";

// The registry's sqlite::Fail.
void fail(std::string_view what, std::string_view message) {
    throw RegistryError(fmt::format("registry database: {}: {}", what, message));
}

using Stmt = sqlite::Statement;
using Txn = sqlite::Transaction;
constexpr auto kRead = Txn::Mode::read;
constexpr auto kWrite = Txn::Mode::write;

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 128 || s.front() == '.') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
    });
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

void check_model_name(const std::string& model) {
    if (!valid_name(model))
        throw InvalidName(fmt::format("invalid model name '{}': use letters, digits, '-', '_', '.' (max 128)", model));
}

void check_alias_name(const std::string& alias) {
    const auto l = lower(alias);
    if (!valid_name(alias) || all_digits(alias) || l == "latest" || l == "production" || l == "staging")
        throw InvalidName(fmt::format(
            "invalid alias '{}': letters, digits, '-', '_', '.', not a number nor latest/production/staging", alias));
}

std::string random_suffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{}-{:016x}", ::getpid(), rng());
}

// Every regular file under dir, as '/'-separated relative paths, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path().lexically_relative(dir).generic_string());
    std::sort(out.begin(), out.end());
    return out;
}

nlohmann::json parse_json(const std::string& text, std::string_view field) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw RegistryError(fmt::format("registry database: column {} is not JSON: {}", field, e.what()));
    }
}

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

}  // namespace

std::string_view stage_name(Stage s) {
    switch (s) {
        case Stage::none: return "None";
        case Stage::staging: return "Staging";
        case Stage::production: return "Production";
        case Stage::archived: return "Archived";
    }
    return "None";
}

std::string schema_hash_hex(std::uint64_t hash) { return fmt::format("{:016x}", hash); }

nlohmann::json to_json(const ModelVersion& v) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : v.files) files.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
    nlohmann::json tags = nlohmann::json::object();
    for (const auto& [k, val] : v.tags) tags[k] = val;
    return {{"model", v.model},
            {"version", v.version},
            {"kind", v.kind},
            {"stage", stage_name(v.stage)},
            {"aliases", v.aliases},
            {"feature_schema_hash", schema_hash_hex(v.feature_schema_hash)},
            {"params", v.params},
            {"metrics", v.metrics},
            {"eval_window", v.eval_window},
            {"data_from", format_iso8601(v.data_from)},
            {"data_to", format_iso8601(v.data_to)},
            {"data_hash", v.data_hash},
            {"code_version", v.code_version},
            {"created", format_iso8601(v.created)},
            {"description", v.description},
            {"tags", tags},
            {"artifact_dir", v.artifact_dir.string()},
            {"files", files}};
}

nlohmann::json to_json(const RegisteredModel& m) {
    return {{"name", m.name},
            {"created", format_iso8601(m.created)},
            {"latest_version", m.latest_version},
            {"versions", m.version_count},
            {"aliases", m.aliases}};
}

nlohmann::json to_json(const HistoryEntry& e) {
    const auto opt = [](std::optional<int> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"id", e.id},
            {"model", e.model},
            {"alias", e.alias},
            {"action", e.action},
            {"old_version", opt(e.old_version)},
            {"new_version", opt(e.new_version)},
            {"who", e.who},
            {"at", format_iso8601(e.at)},
            {"reason", e.reason}};
}

namespace {

// The registry's folder in `data_dir`, refused by name when a file stands in
// the way (std::filesystem would only say it cannot create directories).
fs::path registry_root(const fs::path& data_dir) {
    const fs::path root = fs::absolute(data_dir) / "registry";
    if (fs::exists(data_dir) && !fs::is_directory(data_dir))
        throw RegistryError(fmt::format("data directory {} is not a directory", data_dir.string()));
    if (fs::exists(root) && !fs::is_directory(root))
        throw RegistryError(fmt::format("{} in the data directory is not a directory", root.string()));
    return root;
}

}  // namespace

Registry::Registry(const fs::path& data_dir, Options options)
    : root_(registry_root(data_dir)), options_(std::move(options)), db_(root_ / "registry.db", fail) {
    fs::create_directories(root_ / "artifacts");
    db_.exec("PRAGMA foreign_keys=ON");
    Txn txn(db_, kWrite);
    db_.exec(kSchema);
    txn.commit();
}

Registry::~Registry() = default;

Timestamp Registry::now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string Registry::who() const {
    if (!options_.who.empty()) return options_.who;
    if (const char* user = std::getenv("USER"); user && *user) return user;
    if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) return pw->pw_name;
    return "unknown";
}

void Registry::step(std::string_view name) const {
    if (options_.on_step) options_.on_step(name);
}

// ---- registering ---------------------------------------------------------------

namespace {

// Copies every regular file of `src` into `dst` and checksums the copies (what
// the registry will serve is what gets hashed).
std::vector<ArtifactFile> stage_artifacts(const fs::path& src, const fs::path& dst) {
    if (!fs::is_directory(src)) throw RegistryError(fmt::format("artifact folder {} does not exist", src.string()));
    const auto rel = files_under(src);
    if (rel.empty()) throw RegistryError(fmt::format("artifact folder {} holds no files", src.string()));
    std::vector<ArtifactFile> out;
    for (const auto& r : rel) {
        const fs::path to = dst / r;
        fs::create_directories(to.parent_path());
        fs::copy_file(src / r, to);
        out.push_back({r, fs::file_size(to), sha256_file(to)});
    }
    return out;
}

nlohmann::json tags_json(const std::map<std::string, std::string>& tags) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : tags) j[k] = v;
    return j;
}

}  // namespace

ModelVersion Registry::register_version(const std::string& model, const NewVersion& v) {
    check_model_name(model);
    if (!v.metrics.is_object() || !v.params.is_object())
        throw RegistryError("params and metrics must be JSON objects");
    const fs::path model_dir = root_ / "artifacts" / model;
    const fs::path staging = model_dir / (std::string(kStagingPrefix) + random_suffix());
    fs::path placed;
    try {
        fs::create_directories(staging);
        const auto files = stage_artifacts(v.artifact_dir, staging);
        step("artifacts_staged");

        Txn txn(db_, kWrite);
        Stmt(db_, "INSERT OR IGNORE INTO models(name, created_ns, next_version) VALUES(?1, ?2, 1)")
            .bind(1, model)
            .bind(2, now())
            .run();
        Stmt next(db_, "SELECT next_version FROM models WHERE name = ?1");
        next.bind(1, model).step();
        const int version = next.i32(0);
        Stmt(db_, "UPDATE models SET next_version = ?2 WHERE name = ?1").bind(1, model).bind(2, version + 1).run();
        Stmt(db_,
             "INSERT INTO versions(model, version, kind, schema_hash, params, metrics, eval_window, data_from, data_to, "
             "data_hash, code_version, created_ns, description, tags) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")
            .bind(1, model)
            .bind(2, version)
            .bind(3, v.kind)
            .bind(4, static_cast<std::int64_t>(v.feature_schema_hash))
            .bind(5, v.params.dump())
            .bind(6, v.metrics.dump())
            .bind(7, v.eval_window)
            .bind(8, v.data_from)
            .bind(9, v.data_to)
            .bind(10, v.data_hash)
            .bind(11, code_version())
            .bind(12, now())
            .bind(13, v.description)
            .bind(14, tags_json(v.tags).dump())
            .run();
        for (const auto& f : files)
            Stmt(db_, "INSERT INTO files(model, version, path, size, sha256) VALUES(?1, ?2, ?3, ?4, ?5)")
                .bind(1, model)
                .bind(2, version)
                .bind(3, f.path)
                .bind(4, static_cast<std::int64_t>(f.size))
                .bind(5, f.sha256)
                .run();
        append_history(model, "", "register", std::nullopt, version, v.description);
        step("rows_inserted");

        // We hold the write lock and `version` has no committed row, so a folder
        // already there is the leftover of a writer killed before its commit.
        placed = model_dir / std::to_string(version);
        fs::remove_all(placed);
        fs::rename(staging, placed);
        step("artifacts_placed");
        txn.commit();
        placed.clear();
        return get(model, version);
    } catch (...) {
        std::error_code ec;
        fs::remove_all(staging, ec);
        if (!placed.empty()) fs::remove_all(placed, ec);
        throw;
    }
}

// ---- reading ----------------------------------------------------------------------

void Registry::require_model(const std::string& model) {
    Stmt s(db_, "SELECT 1 FROM models WHERE name = ?1");
    if (!s.bind(1, model).step()) throw NotFound(fmt::format("no registered model '{}'", model));
}

ModelVersion Registry::load_version(const std::string& model, int version) {
    Stmt s(db_,
           "SELECT kind, schema_hash, params, metrics, eval_window, data_from, data_to, data_hash, code_version, "
           "created_ns, description, tags FROM versions WHERE model = ?1 AND version = ?2");
    if (!s.bind(1, model).bind(2, version).step()) {
        require_model(model);
        throw NotFound(fmt::format("model '{}' has no version {}", model, version));
    }
    ModelVersion v;
    v.model = model;
    v.version = version;
    v.kind = s.text(0);
    v.feature_schema_hash = static_cast<std::uint64_t>(s.i64(1));
    v.params = parse_json(s.text(2), "params");
    v.metrics = parse_json(s.text(3), "metrics");
    v.eval_window = s.text(4);
    v.data_from = s.i64(5);
    v.data_to = s.i64(6);
    v.data_hash = s.text(7);
    v.code_version = s.text(8);
    v.created = s.i64(9);
    v.description = s.text(10);
    const auto tags = parse_json(s.text(11), "tags");
    for (const auto& [k, val] : tags.items()) v.tags[k] = val.is_string() ? val.get<std::string>() : val.dump();
    v.artifact_dir = root_ / "artifacts" / model / std::to_string(version);

    Stmt f(db_, "SELECT path, size, sha256 FROM files WHERE model = ?1 AND version = ?2 ORDER BY path");
    f.bind(1, model).bind(2, version);
    while (f.step()) v.files.push_back({f.text(0), static_cast<std::uint64_t>(f.i64(1)), f.text(2)});

    Stmt a(db_, "SELECT alias FROM aliases WHERE model = ?1 AND version = ?2 ORDER BY alias");
    a.bind(1, model).bind(2, version);
    while (a.step()) v.aliases.push_back(a.text(0));
    const auto has = [&](std::string_view x) { return std::find(v.aliases.begin(), v.aliases.end(), x) != v.aliases.end(); };
    if (has(kChampion)) {
        v.stage = Stage::production;
    } else if (has(kChallenger)) {
        v.stage = Stage::staging;
    } else {
        Stmt h(db_,
               "SELECT 1 FROM history WHERE model = ?1 AND old_version = ?2 AND alias IN ('champion', 'challenger')");
        if (h.bind(1, model).bind(2, version).step()) v.stage = Stage::archived;
    }
    return v;
}

ModelVersion Registry::get(const std::string& model, int version) {
    Txn txn(db_, kRead);
    return load_version(model, version);
}

std::optional<int> Registry::alias_version(const std::string& model, const std::string& alias) {
    Stmt s(db_, "SELECT version FROM aliases WHERE model = ?1 AND alias = ?2");
    if (!s.bind(1, model).bind(2, alias).step()) return std::nullopt;
    return s.i32(0);
}

ModelVersion Registry::resolve(const std::string& model, const std::string& alias_or_version) {
    Txn txn(db_, kRead);
    const std::string& ref = alias_or_version;
    if (all_digits(ref)) {
        if (ref.size() > 9) throw NotFound(fmt::format("model '{}' has no version {}", model, ref));
        return load_version(model, std::stoi(ref));
    }
    std::string alias = ref;
    const auto l = lower(ref);
    if (l == "production") alias = kChampion;
    if (l == "staging") alias = kChallenger;
    if (l == "latest") {
        Stmt s(db_, "SELECT max(version) FROM versions WHERE model = ?1");
        s.bind(1, model).step();
        if (s.null(0)) {
            require_model(model);
            throw NotFound(fmt::format("model '{}' has no versions", model));
        }
        return load_version(model, s.i32(0));
    }
    const auto v = alias_version(model, alias);
    if (!v) {
        require_model(model);
        throw NotFound(fmt::format("model '{}' has no alias '{}'", model, alias));
    }
    return load_version(model, *v);
}

std::vector<RegisteredModel> Registry::list_models() {
    Txn txn(db_, kRead);
    std::vector<RegisteredModel> out;
    Stmt s(db_,
           "SELECT m.name, m.created_ns, (SELECT count(*) FROM versions v WHERE v.model = m.name), "
           "(SELECT coalesce(max(version), 0) FROM versions v WHERE v.model = m.name) FROM models m ORDER BY m.name");
    while (s.step()) {
        RegisteredModel m{s.text(0), s.i64(1), s.i32(3), static_cast<std::size_t>(s.i64(2)), {}};
        Stmt a(db_, "SELECT alias, version FROM aliases WHERE model = ?1");
        a.bind(1, m.name);
        while (a.step()) m.aliases[a.text(0)] = a.i32(1);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<ModelVersion> Registry::list_versions(const std::string& model) {
    Txn txn(db_, kRead);
    require_model(model);
    std::vector<int> numbers;
    Stmt s(db_, "SELECT version FROM versions WHERE model = ?1 ORDER BY version");
    s.bind(1, model);
    while (s.step()) numbers.push_back(s.i32(0));
    std::vector<ModelVersion> out;
    for (const int n : numbers) out.push_back(load_version(model, n));
    return out;
}

std::vector<HistoryEntry> Registry::history(const std::string& model) {
    Txn txn(db_, kRead);
    require_model(model);
    Stmt s(db_,
           "SELECT id, alias, action, old_version, new_version, who, at_ns, reason FROM history WHERE model = ?1 "
           "ORDER BY id");
    s.bind(1, model);
    std::vector<HistoryEntry> out;
    while (s.step())
        out.push_back({s.i64(0), model, s.text(1), s.text(2), s.opt(3), s.opt(4), s.text(5), s.i64(6), s.text(7)});
    return out;
}

// ---- verification -------------------------------------------------------------------

void Registry::verify(const ModelVersion& v, std::optional<std::uint64_t> expected_schema_hash) {
    const std::string id = fmt::format("model '{}' version {}", v.model, v.version);
    if (expected_schema_hash && *expected_schema_hash != v.feature_schema_hash)
        throw RegistryError(fmt::format(
            "{}: feature schema mismatch: the model was trained on schema {}, the pipeline produces {}; "
            "retrain on the current features or run the pipeline configuration it was trained with",
            id, schema_hash_hex(v.feature_schema_hash), schema_hash_hex(*expected_schema_hash)));
    if (!fs::is_directory(v.artifact_dir))
        throw RegistryError(fmt::format("{}: artifact folder {} is missing", id, v.artifact_dir.string()));
    std::set<std::string> expected;
    for (const auto& f : v.files) {
        expected.insert(f.path);
        const fs::path p = v.artifact_dir / f.path;
        if (!fs::is_regular_file(p)) throw RegistryError(fmt::format("{}: artifact file '{}' is missing", id, f.path));
        const auto actual = sha256_file(p);
        if (actual != f.sha256)
            throw RegistryError(fmt::format(
                "{}: artifact file '{}' is corrupted or was modified after registration: sha256 expected {}, actual {}",
                id, f.path, f.sha256, actual));
    }
    for (const auto& r : files_under(v.artifact_dir))
        if (!expected.contains(r))
            throw RegistryError(fmt::format("{}: unexpected file '{}' in the artifact folder (not registered)", id, r));
}

// ---- aliases, promotion, rollback ---------------------------------------------------

void Registry::append_history(const std::string& model, const std::string& alias, const std::string& action,
                              std::optional<int> old_version, std::optional<int> new_version,
                              const std::string& reason) {
    Stmt(db_,
         "INSERT INTO history(model, alias, action, old_version, new_version, who, at_ns, reason) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
        .bind(1, model)
        .bind(2, alias)
        .bind(3, action)
        .bind(4, old_version)
        .bind(5, new_version)
        .bind(6, who())
        .bind(7, now())
        .bind(8, reason)
        .run();
}

void Registry::set_alias(const std::string& model, const std::string& alias, int version, const std::string& action,
                         const std::string& reason) {
    const auto old = alias_version(model, alias);
    Stmt(db_,
         "INSERT INTO aliases(model, alias, version) VALUES(?1, ?2, ?3) "
         "ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version")
        .bind(1, model)
        .bind(2, alias)
        .bind(3, version)
        .run();
    step("alias_changed");
    append_history(model, alias, action, old, version, reason);
    step("history_appended");
}

void Registry::drop_alias(const std::string& model, const std::string& alias, const std::string& reason) {
    const auto old = alias_version(model, alias);
    if (!old) return;
    Stmt(db_, "DELETE FROM aliases WHERE model = ?1 AND alias = ?2").bind(1, model).bind(2, alias).run();
    step("alias_changed");
    append_history(model, alias, "remove", old, std::nullopt, reason);
    step("history_appended");
}

namespace {

std::optional<double> metric_of(const nlohmann::json& metrics, const std::string& name) {
    const auto it = metrics.find(name);
    if (it == metrics.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

std::string metric_names(const nlohmann::json& metrics) {
    std::string out;
    for (const auto& [k, v] : metrics.items())
        if (v.is_number()) out += (out.empty() ? "" : ", ") + k;
    return out.empty() ? "none" : out;
}

}  // namespace

// Returns the audit text of a passed gate; throws PromotionRefused otherwise.
std::string Registry::check_gate(const ModelVersion& cand, const PromotionGate& gate, const std::string& reason) {
    if (gate.force) {
        if (reason.empty()) throw PromotionRefused(PromotionRefused::Why::no_reason, "a forced promotion needs a reason");
        return "forced: " + reason;
    }
    const auto champion = alias_version(cand.model, std::string(kChampion));
    const auto with_reason = [&](std::string gate_text) { return reason.empty() ? gate_text : reason + "; " + gate_text; };
    if (!champion) return with_reason("gate: first champion");
    const auto champ = load_version(cand.model, *champion);
    const auto refuse = [&](const std::string& why) {
        throw PromotionRefused(PromotionRefused::Why::gate,
                               fmt::format("promotion of '{}' version {} to champion refused: {}", cand.model,
                                           cand.version, why));
    };
    const auto c = metric_of(cand.metrics, gate.metric);
    if (!c) refuse(fmt::format("it has no metric '{}' (it has: {})", gate.metric, metric_names(cand.metrics)));
    const auto p = metric_of(champ.metrics, gate.metric);
    if (!p) refuse(fmt::format("the champion, version {}, has no metric '{}' to compare with", champ.version, gate.metric));
    if (cand.eval_window.empty() || cand.eval_window != champ.eval_window)
        refuse(fmt::format("different evaluation windows: candidate evaluated on '{}', champion version {} on '{}'; "
                           "evaluate both on the same window",
                           cand.eval_window, champ.version, champ.eval_window));
    if (!(*c > *p + gate.margin))
        refuse(fmt::format("{} {:.6g} does not beat champion version {}'s {:.6g} by more than the margin {:.6g} "
                           "on window '{}'",
                           gate.metric, *c, champ.version, *p, gate.margin, cand.eval_window));
    return with_reason(fmt::format("gate: {} {:.6g} > champion v{} {:.6g} + {:.6g} on '{}'", gate.metric, *c,
                                   champ.version, *p, gate.margin, cand.eval_window));
}

bool Registry::promote(const std::string& model, int version, const std::string& alias, const PromotionGate& gate,
                       const std::string& reason) {
    check_alias_name(alias);
    Txn txn(db_, kWrite);
    const auto cand = load_version(model, version);
    if (alias_version(model, alias) == version) return false;
    // A version is champion or challenger, not both: an A/B test of the
    // champion against itself would compare nothing.
    if (alias == kChallenger && alias_version(model, std::string(kChampion)) == version)
        throw PromotionRefused(PromotionRefused::Why::conflict,
                               fmt::format("version {} of '{}' is the champion; a challenger must be another version",
                                           version, model));
    const std::string audit = alias == kChampion ? check_gate(cand, gate, reason) : reason;
    set_alias(model, alias, version, "set", audit);
    // A version is champion or challenger, not both.
    if (alias == kChampion && alias_version(model, std::string(kChallenger)) == version)
        drop_alias(model, std::string(kChallenger), "promoted to champion");
    txn.commit();
    return true;
}

bool Registry::set_stage(const std::string& model, int version, Stage stage, const PromotionGate& gate,
                         const std::string& reason) {
    switch (stage) {
        case Stage::production: return promote(model, version, std::string(kChampion), gate, reason);
        case Stage::staging: return promote(model, version, std::string(kChallenger), gate, reason);
        case Stage::archived: break;
        case Stage::none: throw RegistryError("a version leaves its stage by being archived; None cannot be set");
    }
    Txn txn(db_, kWrite);
    const auto v = load_version(model, version);
    for (const auto& a : v.aliases) drop_alias(model, a, reason.empty() ? "archived" : reason);
    txn.commit();
    return !v.aliases.empty();
}

void Registry::remove_alias(const std::string& model, const std::string& alias, const std::string& reason) {
    Txn txn(db_, kWrite);
    require_model(model);
    if (!alias_version(model, alias)) throw NotFound(fmt::format("model '{}' has no alias '{}'", model, alias));
    drop_alias(model, alias, reason);
    txn.commit();
}

// Champions in tenure order, replayed from the history: "set" pushes, "rollback"
// pops back to the restored version, "remove"/"delete" take a version out.
std::vector<int> Registry::champion_stack(const std::string& model) {
    std::vector<int> stack;
    Stmt s(db_,
           "SELECT action, old_version, new_version FROM history WHERE model = ?1 AND "
           "(alias = 'champion' OR action = 'delete') ORDER BY id");
    s.bind(1, model);
    while (s.step()) {
        const auto action = s.text(0);
        const auto old_v = s.opt(1), new_v = s.opt(2);
        if (action == "set" && new_v) {
            stack.push_back(*new_v);
        } else if (action == "rollback" && new_v) {
            while (!stack.empty() && stack.back() != *new_v) stack.pop_back();
            if (stack.empty()) stack.push_back(*new_v);
        } else if ((action == "remove" || action == "delete") && old_v) {
            std::erase(stack, *old_v);
        }
    }
    return stack;
}

Registry::Rollback Registry::rollback(const std::string& model, const std::string& reason) {
    Txn txn(db_, kWrite);
    require_model(model);
    const auto current = alias_version(model, std::string(kChampion));
    if (!current) throw NotFound(fmt::format("model '{}' has no champion to roll back from", model));
    auto stack = champion_stack(model);
    while (!stack.empty() && stack.back() == *current) stack.pop_back();
    if (stack.empty()) throw NotFound(fmt::format("model '{}' has no earlier champion to roll back to", model));
    const int target = stack.back();
    set_alias(model, std::string(kChampion), target, "rollback",
              reason.empty() ? fmt::format("rollback from version {}", *current) : reason);
    if (alias_version(model, std::string(kChallenger)) == target)
        drop_alias(model, std::string(kChallenger), "restored as champion");
    txn.commit();
    return {*current, target};
}

void Registry::delete_version(const std::string& model, int version, const std::string& reason) {
    Txn txn(db_, kWrite);
    const auto v = load_version(model, version);
    if (alias_version(model, std::string(kChampion)) == version)
        throw RegistryError(fmt::format(
            "version {} is the champion of '{}'; promote another version or roll back before deleting it", version,
            model));
    for (const auto& a : v.aliases) drop_alias(model, a, "version deleted");
    Stmt(db_, "DELETE FROM versions WHERE model = ?1 AND version = ?2").bind(1, model).bind(2, version).run();
    append_history(model, "", "delete", version, std::nullopt, reason);
    txn.commit();
    // After the commit: a crash here leaves an unreferenced folder, which check()
    // reports as a leftover and collect_garbage() removes; never a row without files.
    std::error_code ec;
    fs::remove_all(v.artifact_dir, ec);
}

// ---- consistency ---------------------------------------------------------------------

ConsistencyReport Registry::check() {
    Txn txn(db_, kRead);  // one snapshot for the rows compared with the folders
    ConsistencyReport r;
    {
        Stmt s(db_, "PRAGMA integrity_check");
        while (s.step())
            if (s.text(0) != "ok") r.problems.push_back("sqlite integrity: " + s.text(0));
        Stmt fk(db_, "PRAGMA foreign_key_check");
        while (fk.step()) r.problems.push_back("foreign key violation in table " + fk.text(0));
    }
    std::set<std::pair<std::string, std::string>> known;  // (model, version folder)
    for (const auto& m : list_models()) {
        for (const auto& v : list_versions(m.name)) {
            known.insert({m.name, std::to_string(v.version)});
            try {
                verify(v);
            } catch (const RegistryError& e) {
                r.problems.push_back(e.what());
            }
        }
    }
    for (const auto& model_dir : fs::directory_iterator(root_ / "artifacts")) {
        if (!model_dir.is_directory()) continue;
        for (const auto& d : fs::directory_iterator(model_dir.path())) {
            const auto name = d.path().filename().string();
            if (name.starts_with(kStagingPrefix)) continue;
            if (!known.contains({model_dir.path().filename().string(), name}))
                r.leftovers.push_back(d.path().lexically_relative(root_).generic_string());
        }
    }
    return r;
}

std::size_t Registry::collect_garbage() {
    // Under the write lock no registration is between placing its folder and committing.
    Txn txn(db_, kWrite);
    const auto report = check();
    std::size_t removed = 0;
    for (const auto& rel : report.leftovers) removed += fs::remove_all(root_ / rel) > 0 ? 1 : 0;
    for (const auto& model_dir : fs::directory_iterator(root_ / "artifacts")) {
        if (!model_dir.is_directory()) continue;
        for (const auto& d : fs::directory_iterator(model_dir.path())) {
            const auto name = d.path().filename().string();
            if (!name.starts_with(kStagingPrefix)) continue;
            const long pid = std::strtol(name.c_str() + kStagingPrefix.size(), nullptr, 10);
            if (!pid_alive(pid)) removed += fs::remove_all(d.path()) > 0 ? 1 : 0;
        }
    }
    txn.commit();
    return removed;
}

ModelVersion register_model(Registry& reg, const std::string& name, const models::Model& model, NewVersion meta) {
    check_model_name(name);
    // A staging name, so collect_garbage() cleans it up if we die before the end.
    const fs::path scratch = reg.root() / "artifacts" / name / (std::string(kStagingPrefix) + random_suffix() + "-save");
    fs::create_directories(scratch);
    try {
        model.save(scratch);
        for (const auto& [file, content] : meta.extra_files) {
            if (file.empty() || file.find('/') != std::string::npos || fs::exists(scratch / file))
                throw RegistryError("register " + name + ": extra file '" + file +
                                    "' is not a plain name or clashes with the model's own files");
            std::ofstream out(scratch / file, std::ios::binary);
            out << content;
            if (!out.flush()) throw RegistryError("register " + name + ": cannot write " + (scratch / file).string());
        }
        meta.artifact_dir = scratch;
        meta.kind = model.kind();
        meta.feature_schema_hash = model.feature_schema_hash();
        // A trainer's params (its label rule) do not describe the model: without
        // its own description (config, scaler) the row would not record the
        // parameters the model was built with, only the artifact would.
        if (meta.params.empty())
            meta.params = model.describe();
        else if (meta.params.is_object() && !meta.params.contains("model"))
            meta.params["model"] = model.describe();
        auto v = reg.register_version(name, meta);
        fs::remove_all(scratch);
        return v;
    } catch (...) {
        std::error_code ec;
        fs::remove_all(scratch, ec);
        throw;
    }
}

}  // namespace pricecast::registry
