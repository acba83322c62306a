// pricecast registry list | show | promote | rollback | history | delete | verify | check
#include <algorithm>
#include <cctype>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "registry/registry.hpp"

namespace pricecast::cli {
namespace {

using registry::Registry;

struct RegistryOptions {
    CommonOptions common;
    bool json = false;
    std::string model_ref, alias = std::string(registry::kChampion), reason, who, metric = "macro_f1", schema;
    int version = 0;
    double margin = 0.0;
    bool force = false, gc = false;
};

RegistryOptions& opts() {
    static RegistryOptions o;
    return o;
}

Registry open_registry() {
    registry::Options o;
    o.who = opts().who;
    return Registry(opts().common.data_dir(), o);
}

// Unknown names and refused requests are the caller's to fix: exit 2.
template <class F>
void run(F&& body) {
    try {
        body();
    } catch (const registry::NotFound& e) {
        throw UsageError(e.what());
    } catch (const registry::PromotionRefused& e) {
        using Why = registry::PromotionRefused::Why;
        if (e.why == Why::conflict) throw UsageError(e.what());  // no flag overrides it
        throw UsageError(fmt::format("{} ({})", e.what(), e.why == Why::no_reason ? "--reason TEXT"
                                                                                 : "use --force with --reason to override"));
    } catch (const registry::InvalidName& e) {
        throw UsageError(e.what());
    }
}

std::string day_time(Timestamp t) { return format_iso8601(t / kSecond * kSecond); }

std::string aliases_text(const std::map<std::string, int>& aliases) {
    std::string out;
    for (const auto& [a, v] : aliases) out += fmt::format("{}{}={}", out.empty() ? "" : " ", a, v);
    return out.empty() ? "-" : out;
}

void list() {
    auto reg = open_registry();
    const auto models = reg.list_models();
    if (opts().json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& m : models) j.push_back(registry::to_json(m));
        std::cout << j.dump(2) << "\n";
        return;
    }
    if (models.empty()) {
        std::cout << "no registered models in " << reg.root().string() << "\n";
        return;
    }
    std::cout << fmt::format("{:<28} {:>8} {:>7}  {}\n", "model", "versions", "latest", "aliases");
    for (const auto& m : models)
        std::cout << fmt::format("{:<28} {:>8} {:>7}  {}\n", m.name, m.version_count, m.latest_version,
                                 aliases_text(m.aliases));
}

void print_version(const registry::ModelVersion& v) {
    std::cout << fmt::format("{} version {}  ({}, stage {}{})\n", v.model, v.version, v.kind,
                             registry::stage_name(v.stage),
                             v.aliases.empty() ? "" : fmt::format(", aliases {}", fmt::join(v.aliases, ",")));
    std::cout << fmt::format("  created        {}  by pricecast {}\n", day_time(v.created), v.code_version);
    if (!v.description.empty()) std::cout << fmt::format("  description    {}\n", v.description);
    std::cout << fmt::format("  schema hash    {}\n", registry::schema_hash_hex(v.feature_schema_hash));
    std::cout << fmt::format("  training data  {} .. {}  hash {}\n", day_time(v.data_from), day_time(v.data_to),
                             v.data_hash.empty() ? "-" : v.data_hash);
    std::cout << fmt::format("  metrics        {}  on window '{}'\n", v.metrics.dump(), v.eval_window);
    std::cout << fmt::format("  params         {}\n", v.params.dump());
    for (const auto& [k, val] : v.tags) std::cout << fmt::format("  tag            {}={}\n", k, val);
    for (const auto& f : v.files)
        std::cout << fmt::format("  file           {}  {} bytes  sha256 {}\n", f.path, f.size, f.sha256);
}

void show() {
    auto reg = open_registry();
    const auto& ref = opts().model_ref;
    const auto slash = ref.find('/');
    if (slash != std::string::npos) {
        const auto v = reg.resolve(ref.substr(0, slash), ref.substr(slash + 1));
        if (opts().json)
            std::cout << registry::to_json(v).dump(2) << "\n";
        else
            print_version(v);
        return;
    }
    const auto versions = reg.list_versions(ref);
    if (opts().json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& v : versions) j.push_back(registry::to_json(v));
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << fmt::format("{:>7}  {:<10} {:<10} {:<22} {:<20}  {}\n", "version", "kind", "stage", "aliases",
                             "created", "metrics");
    for (const auto& v : versions)
        std::cout << fmt::format("{:>7}  {:<10} {:<10} {:<22} {:<20}  {}\n", v.version, v.kind,
                                 registry::stage_name(v.stage),
                                 v.aliases.empty() ? "-" : fmt::format("{}", fmt::join(v.aliases, ",")),
                                 day_time(v.created), v.metrics.dump());
}

void promote() {
    const auto& o = opts();
    auto reg = open_registry();
    const registry::PromotionGate gate{.metric = o.metric, .margin = o.margin, .force = o.force};
    if (reg.promote(o.model_ref, o.version, o.alias, gate, o.reason))
        std::cout << fmt::format("{} version {} is now {}\n", o.model_ref, o.version, o.alias);
    else
        std::cout << fmt::format("{} version {} already is {}; nothing changed\n", o.model_ref, o.version, o.alias);
}

void rollback() {
    auto reg = open_registry();
    const auto r = reg.rollback(opts().model_ref, opts().reason);
    std::cout << fmt::format("{}: champion rolled back from version {} to version {}\n", opts().model_ref, r.from,
                             r.to);
}

std::string version_text(std::optional<int> v) { return v ? std::to_string(*v) : "-"; }

void history() {
    auto reg = open_registry();
    const auto entries = reg.history(opts().model_ref);
    if (opts().json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& e : entries) j.push_back(registry::to_json(e));
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << fmt::format("{:<20}  {:<12} {:<9} {:>4} -> {:<4} {:<12} {}\n", "when", "alias", "action", "from",
                             "to", "who", "why");
    for (const auto& e : entries)
        std::cout << fmt::format("{:<20}  {:<12} {:<9} {:>4} -> {:<4} {:<12} {}\n", day_time(e.at),
                                 e.alias.empty() ? "-" : e.alias, e.action, version_text(e.old_version),
                                 version_text(e.new_version), e.who, e.reason);
}

void remove() {
    auto reg = open_registry();
    try {
        reg.delete_version(opts().model_ref, opts().version, opts().reason);
    } catch (const registry::NotFound&) {
        throw;
    } catch (const registry::RegistryError& e) {  // refused (the champion)
        throw UsageError(e.what());
    }
    std::cout << fmt::format("{} version {} deleted\n", opts().model_ref, opts().version);
}

// The whole text must be the hash: std::stoull alone stops at the first
// non-hex character (a pasted "25d3de322197e07d," matched) and takes "-1".
std::uint64_t parse_schema_hash(const std::string& text) {
    const bool hex = !text.empty() && text.size() <= 16 &&
                     std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
    if (!hex) throw UsageError("--schema: expected a hexadecimal schema hash (up to 16 digits), got '" + text + "'");
    return std::stoull(text, nullptr, 16);
}

void verify() {
    auto reg = open_registry();
    const auto& ref = opts().model_ref;
    const auto slash = ref.find('/');
    const auto v = reg.resolve(ref.substr(0, slash), slash == std::string::npos ? "champion" : ref.substr(slash + 1));
    std::optional<std::uint64_t> schema;
    if (!opts().schema.empty()) schema = parse_schema_hash(opts().schema);
    reg.verify(v, schema);  // a mismatch is a runtime failure: exit 1 with the file and hashes
    std::cout << fmt::format("{} version {}: {} files verified{}\n", v.model, v.version, v.files.size(),
                             schema ? ", schema hash matches" : "");
}

void check() {
    auto reg = open_registry();
    const auto report = reg.check();
    for (const auto& p : report.problems) std::cout << "problem: " << p << "\n";
    for (const auto& l : report.leftovers) std::cout << "leftover: " << l << "\n";
    if (opts().gc) std::cout << fmt::format("removed {} leftover folders\n", reg.collect_garbage());
    std::cout << (report.ok() ? "registry consistent\n" : "registry has problems\n");
    if (!report.ok()) exit_code() = 1;
}

CLI::App* leaf(CLI::App* parent, const char* name, const char* help, void (*body)()) {
    auto* c = parent->add_subcommand(name, help);
    add_common_options(*c, opts().common);
    c->callback([body] { run(body); });
    return c;
}

}  // namespace

void add_registry_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("registry", "the model registry under --data-dir: versions, aliases, promotion");
    cmd->require_subcommand(1);
    auto& o = opts();

    leaf(cmd, "list", "registered models with their version counts and aliases", list)
        ->add_flag("--json", o.json, "machine-readable output");

    auto* sh = leaf(cmd, "show", "a model's versions, or one version's details (MODEL/3, MODEL/champion)", show);
    sh->add_option("model", o.model_ref, "MODEL or MODEL/VERSION (a number, alias, stage or 'latest')")->required();
    sh->add_flag("--json", o.json, "machine-readable output");

    auto* pr = leaf(cmd, "promote",
                    "point an alias at a version; to become champion a version must beat the current champion's "
                    "metric on the same evaluation window (or --force with --reason)",
                    promote);
    pr->add_option("model", o.model_ref, "registered model")->required();
    pr->add_option("version", o.version, "version number")->required();
    pr->add_option("--alias", o.alias, "alias to set (champion, challenger or any name)")->capture_default_str();
    pr->add_option("--metric", o.metric, "gate metric, higher is better")->capture_default_str();
    pr->add_option("--margin", o.margin, "how much the candidate must beat the champion by")->capture_default_str();
    auto* force = pr->add_flag("--force", o.force, "skip the gate (needs --reason)");
    pr->add_option("--reason", o.reason, "why; recorded in the history");
    force->needs("--reason");
    pr->add_option("--who", o.who, "actor recorded in the history (default $USER)");

    auto* rb = leaf(cmd, "rollback", "restore the previous champion", rollback);
    rb->add_option("model", o.model_ref, "registered model")->required();
    rb->add_option("--reason", o.reason, "why; recorded in the history");
    rb->add_option("--who", o.who, "actor recorded in the history (default $USER)");

    auto* hi = leaf(cmd, "history", "every alias change of a model: who, when, why", history);
    hi->add_option("model", o.model_ref, "registered model")->required();
    hi->add_flag("--json", o.json, "machine-readable output");

    auto* de = leaf(cmd, "delete", "delete a version and its artifacts (not the champion)", remove);
    de->add_option("model", o.model_ref, "registered model")->required();
    de->add_option("version", o.version, "version number")->required();
    de->add_option("--reason", o.reason, "why; recorded in the history");
    de->add_option("--who", o.who, "actor recorded in the history (default $USER)");

    auto* ve = leaf(cmd, "verify", "recompute the artifacts' sha256 (and compare a feature schema hash)", verify);
    ve->add_option("model", o.model_ref, "MODEL (its champion) or MODEL/VERSION")->required();
    ve->add_option("--schema", o.schema, "expected feature schema hash (hex, from `pricecast features schema`)");

    leaf(cmd, "check", "database integrity, every artifact's sha256, leftovers of killed writers", check)
        ->add_flag("--gc", o.gc, "remove leftover folders of writers that died");
}

}  // namespace pricecast::cli
