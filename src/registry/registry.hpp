// Model registry: MLflow's registry semantics embedded in a SQLite file plus an
// artifact folder under the data directory, no server.
//
//   registry::Registry reg(data_dir);                       // <data_dir>/registry/
//   auto v = reg.register_version("btc-trend", {.artifact_dir = saved, .kind = "gbdt", ...});
//   reg.promote("btc-trend", v.version, "champion", {.metric = "macro_f1"});
//   auto champ = reg.resolve("btc-trend", "champion");
//   reg.verify(champ, pipeline.schema().hash());          // throws RegistryError on any mismatch
//
// Registered models own versions numbered 1, 2, ... (never reused). A version's
// artifact files are copied into registry/artifacts/<model>/<version>/ with a
// sha256 each. Aliases (champion, challenger, any name) point at versions; the
// classic stages are a view over them (Production = champion, Staging =
// challenger, Archived = once aliased, now not). Every alias change is appended
// to a history table (who, when, why) that SQLite triggers keep append-only.
//
// Concurrency: any number of processes may open the same registry. Every change
// is one IMMEDIATE transaction (WAL, busy timeout); artifacts are staged in a
// temporary folder and renamed into place before the rows commit, so a writer
// killed at any point leaves either its whole version or nothing visible.
// One Registry object holds one SQLite connection: use it from one thread at a
// time (open one per thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sqlite.hpp"
#include "core/time.hpp"


namespace pricecast::models {
class Model;
}

namespace pricecast::registry {

class RegistryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// Unknown model, version or alias.
class NotFound : public RegistryError {
public:
    using RegistryError::RegistryError;
};
// A model or alias name the registry does not accept (the caller's to fix).
class InvalidName : public RegistryError {
public:
    using RegistryError::RegistryError;
};
// The promotion gate said no, or a forced promotion came without a reason, or
// (conflict, which no force overrides) the champion was to become challenger.
// The message names no interface: the CLI and the API each say how to override.
class PromotionRefused : public RegistryError {
public:
    enum class Why { gate, no_reason, conflict };
    PromotionRefused(Why why, const std::string& message) : RegistryError(message), why(why) {}
    Why why;
};

enum class Stage { none, staging, production, archived };
std::string_view stage_name(Stage s);  // "None", "Staging", "Production", "Archived"

inline constexpr std::string_view kChampion = "champion";
inline constexpr std::string_view kChallenger = "challenger";

std::string schema_hash_hex(std::uint64_t hash);

struct ArtifactFile {
    std::string path;  // relative to the version's artifact folder, '/'-separated
    std::uint64_t size = 0;
    std::string sha256;
};

// What a trainer hands over when registering a version.
struct NewVersion {
    std::filesystem::path artifact_dir;  // folder written by Model::save; every regular file is copied
    std::string kind;                    // Model::kind()
    std::uint64_t feature_schema_hash = 0;
    nlohmann::json params = nlohmann::json::object();
    nlohmann::json metrics = nlohmann::json::object();  // out-of-sample, e.g. {"macro_f1": 0.41}
    std::string eval_window;  // identifies the data the metrics were computed on; the gate compares only equal windows
    Timestamp data_from = 0, data_to = 0;  // training data range
    std::string data_hash;
    std::string description;
    std::map<std::string, std::string> tags;
    // register_model only: more files for the artifact folder, name -> content
    // (what monitoring needs of the version, e.g. its drift reference).
    std::map<std::string, std::string> extra_files;
};

struct ModelVersion {
    std::string model;
    int version = 0;
    std::string kind;
    std::uint64_t feature_schema_hash = 0;
    nlohmann::json params, metrics;
    std::string eval_window;
    Timestamp data_from = 0, data_to = 0;
    std::string data_hash;
    std::string code_version;
    Timestamp created = 0;
    std::string description;
    std::map<std::string, std::string> tags;
    std::vector<ArtifactFile> files;
    std::vector<std::string> aliases;
    Stage stage = Stage::none;
    std::filesystem::path artifact_dir;  // absolute folder holding the files
};

struct RegisteredModel {
    std::string name;
    Timestamp created = 0;
    int latest_version = 0;  // 0 when every version was deleted
    std::size_t version_count = 0;
    std::map<std::string, int> aliases;
};

// One appended history row. Actions: "register", "set" (alias now points at
// new_version), "rollback" (champion restored to new_version), "remove" (alias
// dropped), "delete" (version old_version deleted).
struct HistoryEntry {
    std::int64_t id = 0;
    std::string model, alias, action;
    std::optional<int> old_version, new_version;
    std::string who;
    Timestamp at = 0;
    std::string reason;
};

// JSON views for the CLI and the API (times as ISO-8601, hashes as hex).
nlohmann::json to_json(const ModelVersion& v);
nlohmann::json to_json(const RegisteredModel& m);
nlohmann::json to_json(const HistoryEntry& e);

struct PromotionGate {
    std::string metric = "macro_f1";  // higher is better
    double margin = 0.0;              // the candidate must exceed the champion by more than this
    bool force = false;               // skip the gate; needs a non-empty reason
};

struct Options {
    std::function<Timestamp()> clock;  // wall clock when empty
    std::string who;                   // actor recorded in history; $USER when empty
    // Fault injection for tests: called at named points inside a change's
    // transaction ("artifacts_staged", "rows_inserted", "artifacts_placed",
    // "alias_changed", "history_appended").
    std::function<void(std::string_view step)> on_step;
};

struct ConsistencyReport {
    std::vector<std::string> problems;   // database damage, missing or corrupted artifacts
    std::vector<std::string> leftovers;  // artifact folders without a version row (a writer died after placing them)
    bool ok() const { return problems.empty(); }
};

class Registry {
public:
    // Opens (creating when absent) <data_dir>/registry/registry.db and its artifacts/ folder.
    explicit Registry(const std::filesystem::path& data_dir, Options options = {});
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    const std::filesystem::path& root() const { return root_; }

    // Creates the registered model on first use. Returns the stored version.
    ModelVersion register_version(const std::string& model, const NewVersion& v);

    std::vector<RegisteredModel> list_models();
    std::vector<ModelVersion> list_versions(const std::string& model);  // oldest first
    // "3", an alias ("champion"), a stage ("Production", "Staging") or "latest". Throws NotFound.
    ModelVersion resolve(const std::string& model, const std::string& alias_or_version);
    ModelVersion get(const std::string& model, int version);
    std::optional<int> alias_version(const std::string& model, const std::string& alias);

    // Recomputes every artifact's sha256 and compares the feature schema hash
    // (when expected is given). Throws RegistryError naming the file or hash,
    // expected vs actual.
    void verify(const ModelVersion& v, std::optional<std::uint64_t> expected_schema_hash = std::nullopt);

    // Points `alias` at `version`. For the champion alias the gate applies: the
    // candidate's metrics[gate.metric] must beat the current champion's by more
    // than gate.margin on the same eval_window, unless gate.force with a reason.
    // Throws PromotionRefused with the comparison in the message, and
    // (Why::conflict) when the champion is to become the challenger.
    // Returns false (and records nothing) when the alias already points there.
    bool promote(const std::string& model, int version, const std::string& alias = std::string(kChampion),
                 const PromotionGate& gate = {}, const std::string& reason = {});
    // Production -> promote to champion (gated), Staging -> challenger, Archived
    // drops every alias of the version. None cannot be set (archive instead).
    bool set_stage(const std::string& model, int version, Stage stage, const PromotionGate& gate = {},
                   const std::string& reason = {});
    void remove_alias(const std::string& model, const std::string& alias, const std::string& reason = {});
    // Restores the champion before the current one (repeatable: walks back
    // through earlier champions, skipping deleted versions). Returns both
    // versions, read in the same transaction: a caller that read the champion
    // before could name one a concurrent promotion had replaced.
    struct Rollback {
        int from = 0, to = 0;
    };
    Rollback rollback(const std::string& model, const std::string& reason = {});
    std::vector<HistoryEntry> history(const std::string& model);
    // Removes a version and its artifacts. Refuses the current champion.
    void delete_version(const std::string& model, int version, const std::string& reason = {});

    // SQLite integrity and foreign-key checks plus every version's files present
    // with their sha256. Folders of killed writers are leftovers, not problems
    // (a registration in flight in another process can show as one too).
    ConsistencyReport check();
    // Removes staging folders of writers that are no longer running and
    // artifact folders with no version row. Returns how many were removed.
    std::size_t collect_garbage();

private:
    Timestamp now() const;
    std::string who() const;
    void step(std::string_view name) const;
    void append_history(const std::string& model, const std::string& alias, const std::string& action,
                        std::optional<int> old_version, std::optional<int> new_version, const std::string& reason);
    void set_alias(const std::string& model, const std::string& alias, int version, const std::string& action,
                   const std::string& reason);
    void drop_alias(const std::string& model, const std::string& alias, const std::string& reason);
    std::string check_gate(const ModelVersion& candidate, const PromotionGate& gate, const std::string& reason);
    std::vector<int> champion_stack(const std::string& model);
    ModelVersion load_version(const std::string& model, int version);
    void require_model(const std::string& model);

    std::filesystem::path root_;
    Options options_;
    sqlite::Database db_;
};

// For trainers: saves `model` (Model::save) to a scratch folder and registers
// it. kind and feature schema hash come from the model; params are
// model.describe() when meta.params is empty, else meta.params with
// model.describe() added under "model" (unless it has that key);
// meta.artifact_dir is ignored;
// meta.extra_files are written beside the model's files (a name the model
// itself wrote is refused).
ModelVersion register_model(Registry& reg, const std::string& name, const models::Model& model, NewVersion meta);

}  // namespace pricecast::registry
