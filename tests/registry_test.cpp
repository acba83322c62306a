// Model registry: checksums, versions, the promotion gate, rollback, history,
// verification, and crash/concurrency safety with real processes (fork).
#include <csignal>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/version.hpp"
#include "models/model.hpp"
#include "registry/registry.hpp"
#include "registry/sha256.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace pricecast;
using namespace pricecast::registry;

namespace {

TEST(RegistryOpen, AFileWhereTheDataDirectoryShouldBeIsNamed) {
    const test::TempDir dir("registry-file");
    const auto file = dir / "data";
    std::ofstream(file) << "not a folder";
    try {
        Registry reg(file);
        FAIL() << "opened a registry in a file";
    } catch (const RegistryError& e) {
        EXPECT_NE(std::string(e.what()).find("is not a directory"), std::string::npos) << e.what();
    }
}

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                         "mnopqrstnopqrstu"),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
    // Lengths around the 56-byte padding boundary and block ends (python hashlib).
    const std::pair<std::size_t, const char*> cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"}};
    for (const auto& [n, hex] : cases) EXPECT_EQ(sha256_hex(std::string(n, 'a')), hex) << n;
}

TEST(Sha256, ChunkedEqualsWhole) {
    std::string text;
    for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>((i * 131 + 7) % 256));
    const auto whole = sha256_hex(text);
    for (const std::size_t chunk : {1, 2, 3, 5, 7, 13, 63, 64, 65, 100}) {
        Sha256 h;
        for (std::size_t i = 0; i < text.size(); i += chunk) h.update(std::string_view(text).substr(i, chunk));
        EXPECT_EQ(h.finish_hex(), whole) << chunk;
    }
}

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

class RegistryTest : public ::testing::Test {
protected:
    test::TempDir tmp{"registry-test"};
    fs::path data_dir = tmp.path() / "data";
    Timestamp clock_now = 1'700'000'000 * kSecond;
    int saved = 0;

    Options options(std::string who = "tester") {
        Options o;
        o.clock = [this] { return clock_now += kSecond; };
        o.who = std::move(who);
        return o;
    }

    // A model folder as Model::save would write it, with content unique to `tag`.
    fs::path artifacts(const std::string& tag) {
        const fs::path dir = tmp.path() / ("saved-" + std::to_string(saved++));
        write_file(dir / "model.json", "{\"tag\": \"" + tag + "\"}");
        write_file(dir / "weights" / "layer0.bin", "weights of " + tag);
        return dir;
    }

    NewVersion spec(const std::string& tag, double f1, const std::string& window = "2024-01..2024-03") {
        NewVersion v;
        v.artifact_dir = artifacts(tag);
        v.kind = "gbdt";
        v.feature_schema_hash = 0xabcdef0123456789ULL;
        v.params = {{"max_depth", 6}};
        v.metrics = {{"macro_f1", f1}, {"accuracy", 0.5}};
        v.eval_window = window;
        v.data_from = 1'600'000'000 * kSecond;
        v.data_to = 1'650'000'000 * kSecond;
        v.data_hash = "datahash-" + tag;
        v.description = "trained " + tag;
        v.tags = {{"symbol", "BTCUSDT"}};
        return v;
    }
};

TEST_F(RegistryTest, RegisterListShowRoundTrip) {
    Registry reg(data_dir, options());
    const auto v1 = reg.register_version("btc-trend", spec("a", 0.4));
    const auto v2 = reg.register_version("btc-trend", spec("b", 0.5));
    EXPECT_EQ(v1.version, 1);
    EXPECT_EQ(v2.version, 2);

    const auto got = reg.resolve("btc-trend", "2");
    EXPECT_EQ(got.kind, "gbdt");
    EXPECT_EQ(got.feature_schema_hash, 0xabcdef0123456789ULL);
    EXPECT_EQ(got.params["max_depth"], 6);
    EXPECT_DOUBLE_EQ(got.metrics["macro_f1"].get<double>(), 0.5);
    EXPECT_EQ(got.eval_window, "2024-01..2024-03");
    EXPECT_EQ(got.data_from, 1'600'000'000 * kSecond);
    EXPECT_EQ(got.data_to, 1'650'000'000 * kSecond);
    EXPECT_EQ(got.data_hash, "datahash-b");
    EXPECT_EQ(got.code_version, code_version());
    EXPECT_EQ(got.code_version.rfind(PRICECAST_VERSION "+", 0), 0u) << "the release, then the commit: " << got.code_version;
    EXPECT_NE(got.code_version, PRICECAST_VERSION "+") << "a commit, or 'unknown' outside a git clone";
    EXPECT_EQ(got.description, "trained b");
    EXPECT_EQ(got.tags.at("symbol"), "BTCUSDT");
    EXPECT_EQ(got.stage, Stage::none);
    EXPECT_GT(got.created, v1.created);

    ASSERT_EQ(got.files.size(), 2u);
    EXPECT_EQ(got.files[0].path, "model.json");
    EXPECT_EQ(got.files[1].path, "weights/layer0.bin");
    EXPECT_EQ(got.files[1].sha256, sha256_hex("weights of b"));
    EXPECT_EQ(got.files[1].size, std::string("weights of b").size());
    EXPECT_EQ(got.artifact_dir, reg.root() / "artifacts" / "btc-trend" / "2");
    EXPECT_EQ(read_file(got.artifact_dir / "weights" / "layer0.bin"), "weights of b");

    EXPECT_EQ(reg.resolve("btc-trend", "latest").version, 2);
    const auto models = reg.list_models();
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0].name, "btc-trend");
    EXPECT_EQ(models[0].latest_version, 2);
    EXPECT_EQ(models[0].version_count, 2u);
    EXPECT_EQ(reg.list_versions("btc-trend").size(), 2u);

    // A second process-like handle sees the same registry.
    Registry other(data_dir, options());
    EXPECT_EQ(other.resolve("btc-trend", "1").data_hash, "datahash-a");
    EXPECT_TRUE(other.check().ok());
}

TEST_F(RegistryTest, UnknownNamesAndBadInputAreClearErrors) {
    Registry reg(data_dir, options());
    reg.register_version("m", spec("a", 0.4));
    EXPECT_THROW(reg.resolve("nope", "1"), NotFound);
    try {
        reg.resolve("m", "7");
        FAIL();
    } catch (const NotFound& e) {
        EXPECT_STREQ(e.what(), "model 'm' has no version 7");
    }
    try {
        reg.resolve("m", "champion");
        FAIL();
    } catch (const NotFound& e) {
        EXPECT_STREQ(e.what(), "model 'm' has no alias 'champion'");
    }
    EXPECT_THROW(reg.register_version("../evil", spec("b", 0.4)), RegistryError);
    auto missing = spec("c", 0.4);
    missing.artifact_dir = tmp.path() / "does-not-exist";
    EXPECT_THROW(reg.register_version("m", missing), RegistryError);
    EXPECT_THROW(reg.promote("m", 1, "123"), RegistryError);
    // Nothing half-registered was left behind.
    EXPECT_EQ(reg.list_versions("m").size(), 1u);
    const auto report = reg.check();
    EXPECT_TRUE(report.ok());
    EXPECT_TRUE(report.leftovers.empty());
}

TEST_F(RegistryTest, PromotionGate) {
    Registry reg(data_dir, options());
    for (const double f1 : {0.40, 0.45, 0.44, 0.50, 0.451}) reg.register_version("m", spec("x", f1));
    reg.register_version("m", spec("other-window", 0.60, "2024-04..2024-06"));  // v6

    EXPECT_TRUE(reg.promote("m", 1));  // first champion: nothing to beat
    EXPECT_TRUE(reg.promote("m", 2));  // 0.45 > 0.40
    EXPECT_EQ(reg.alias_version("m", "champion"), 2);
    EXPECT_FALSE(reg.promote("m", 2));  // already champion: no change, no history

    try {
        reg.promote("m", 3);  // 0.44 < 0.45
        FAIL();
    } catch (const PromotionRefused& e) {
        EXPECT_NE(std::string(e.what()).find("macro_f1 0.44 does not beat champion version 2's 0.45"), std::string::npos)
            << e.what();
    }
    PromotionGate strict{.metric = "macro_f1", .margin = 0.01};
    EXPECT_THROW(reg.promote("m", 5, "champion", strict), PromotionRefused);  // 0.451 - 0.45 < margin
    try {
        reg.promote("m", 6);  // better number, different window
        FAIL();
    } catch (const PromotionRefused& e) {
        EXPECT_NE(std::string(e.what()).find("different evaluation windows"), std::string::npos) << e.what();
    }
    try {
        reg.promote("m", 4, "champion", {.metric = "log_loss"});
        FAIL();
    } catch (const PromotionRefused& e) {
        EXPECT_NE(std::string(e.what()).find("no metric 'log_loss' (it has: accuracy, macro_f1)"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(reg.alias_version("m", "champion"), 2);

    PromotionGate force{.force = true};
    try {
        reg.promote("m", 3, "champion", force, "");
        FAIL();
    } catch (const PromotionRefused& e) {
        EXPECT_STREQ(e.what(), "a forced promotion needs a reason");
        EXPECT_EQ(e.why, PromotionRefused::Why::no_reason);
    }
    EXPECT_TRUE(reg.promote("m", 3, "champion", force, "v2 misbehaves live"));
    EXPECT_EQ(reg.alias_version("m", "champion"), 3);
    EXPECT_TRUE(reg.promote("m", 4));  // 0.50 > 0.44 on the same window
    EXPECT_EQ(reg.alias_version("m", "champion"), 4);

    // Other aliases are not gated.
    EXPECT_TRUE(reg.promote("m", 1, "challenger"));
    EXPECT_TRUE(reg.promote("m", 6, "shadow"));
    EXPECT_EQ(reg.resolve("m", "Staging").version, 1);
    EXPECT_EQ(reg.resolve("m", "Production").version, 4);
    EXPECT_EQ(reg.resolve("m", "shadow").version, 6);

    const auto h = reg.history("m");
    std::vector<std::string> reasons;
    for (const auto& e : h)
        if (e.alias == "champion") reasons.push_back(e.reason);
    ASSERT_EQ(reasons.size(), 4u);
    EXPECT_EQ(reasons[0], "gate: first champion");
    EXPECT_EQ(reasons[2], "forced: v2 misbehaves live");
    EXPECT_NE(reasons[3].find("gate: macro_f1 0.5 > champion v3 0.44"), std::string::npos) << reasons[3];
}

TEST_F(RegistryTest, StagesAreAViewOverAliases) {
    Registry reg(data_dir, options());
    for (int i = 0; i < 4; ++i) reg.register_version("m", spec("x", 0.4 + 0.01 * i));
    reg.promote("m", 1);
    reg.promote("m", 2);
    reg.set_stage("m", 3, Stage::staging);
    EXPECT_EQ(reg.get("m", 1).stage, Stage::archived);  // replaced champion
    EXPECT_EQ(reg.get("m", 2).stage, Stage::production);
    EXPECT_EQ(reg.get("m", 3).stage, Stage::staging);
    EXPECT_EQ(reg.get("m", 4).stage, Stage::none);
    // Promoting the challenger to champion moves it out of Staging.
    EXPECT_TRUE(reg.set_stage("m", 3, Stage::production));
    EXPECT_EQ(reg.get("m", 3).stage, Stage::production);
    EXPECT_EQ(reg.get("m", 3).aliases, std::vector<std::string>{"champion"});
    EXPECT_FALSE(reg.alias_version("m", "challenger"));
    reg.set_stage("m", 4, Stage::staging);
    reg.set_stage("m", 4, Stage::archived, {}, "not needed");
    EXPECT_EQ(reg.get("m", 4).stage, Stage::archived);
    EXPECT_THROW(reg.set_stage("m", 4, Stage::none), RegistryError);
    EXPECT_EQ(stage_name(Stage::production), "Production");
}

TEST_F(RegistryTest, RollbackWalksBackThroughChampions) {
    Registry reg(data_dir, options());
    for (int i = 0; i < 4; ++i) reg.register_version("m", spec("x", 0.4 + 0.01 * i));
    EXPECT_THROW(reg.rollback("m"), NotFound);  // no champion yet
    reg.promote("m", 1);
    EXPECT_THROW(reg.rollback("m"), NotFound);  // nothing earlier
    reg.promote("m", 2);
    reg.promote("m", 3);
    const auto first = reg.rollback("m", "v3 drifts");
    EXPECT_EQ(first.from, 3);
    EXPECT_EQ(first.to, 2);
    EXPECT_EQ(reg.alias_version("m", "champion"), 2);
    EXPECT_EQ(reg.rollback("m").to, 1);
    EXPECT_THROW(reg.rollback("m"), NotFound);
    EXPECT_EQ(reg.alias_version("m", "champion"), 1);

    reg.promote("m", 3);
    reg.promote("m", 4);
    reg.delete_version("m", 3, "bad artifact");
    const auto skipped = reg.rollback("m");  // skips the deleted v3
    EXPECT_EQ(skipped.from, 4);
    EXPECT_EQ(skipped.to, 1);

    const auto h = reg.history("m");
    const auto& last = h.back();
    EXPECT_EQ(last.action, "rollback");
    EXPECT_EQ(last.old_version, 4);
    EXPECT_EQ(last.new_version, 1);
    EXPECT_EQ(last.reason, "rollback from version 4");
}

TEST_F(RegistryTest, HistoryRoundTripIsAppendOnly) {
    Registry reg(data_dir, options("alice"));
    reg.register_version("m", spec("a", 0.4));
    reg.register_version("m", spec("b", 0.5));
    reg.promote("m", 1, "champion", {}, "first deploy");
    {
        Registry bob(data_dir, options("bob"));
        bob.promote("m", 2, "champion", {}, "better f1");
        bob.rollback("m", "latency regression");
    }
    reg.promote("m", 2, "challenger");
    reg.remove_alias("m", "challenger", "experiment over");

    const auto h = reg.history("m");
    ASSERT_EQ(h.size(), 7u);
    const std::vector<std::tuple<std::string, std::string, std::optional<int>, std::optional<int>, std::string>> want = {
        {"", "register", std::nullopt, 1, "alice"},     {"", "register", std::nullopt, 2, "alice"},
        {"champion", "set", std::nullopt, 1, "alice"},  {"champion", "set", 1, 2, "bob"},
        {"champion", "rollback", 2, 1, "bob"},          {"challenger", "set", std::nullopt, 2, "alice"},
        {"challenger", "remove", 2, std::nullopt, "alice"}};
    for (std::size_t i = 0; i < h.size(); ++i) {
        const auto& [alias, action, old_v, new_v, who] = want[i];
        EXPECT_EQ(h[i].alias, alias) << i;
        EXPECT_EQ(h[i].action, action) << i;
        EXPECT_EQ(h[i].old_version, old_v) << i;
        EXPECT_EQ(h[i].new_version, new_v) << i;
        EXPECT_EQ(h[i].who, who) << i;
        if (i > 0) {
            EXPECT_GT(h[i].at, h[i - 1].at);
        }
    }
    EXPECT_EQ(h[2].reason, "first deploy; gate: first champion");
    EXPECT_EQ(h[4].reason, "latency regression");
    EXPECT_EQ(h[6].reason, "experiment over");

    // The database itself refuses to rewrite history.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((reg.root() / "registry.db").c_str(), &db), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, "UPDATE history SET who = 'mallory'", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_NE(std::string(sqlite3_errmsg(db)).find("append-only"), std::string::npos);
    EXPECT_NE(sqlite3_exec(db, "DELETE FROM history", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    EXPECT_EQ(reg.history("m").size(), 7u);
}

TEST_F(RegistryTest, VerifyCatchesCorruptionAndSchemaMismatch) {
    Registry reg(data_dir, options());
    const auto v = reg.register_version("m", spec("a", 0.4));
    EXPECT_NO_THROW(reg.verify(v, 0xabcdef0123456789ULL));

    try {
        reg.verify(v, 0x1111222233334444ULL);
        FAIL();
    } catch (const RegistryError& e) {
        EXPECT_NE(std::string(e.what()).find("feature schema mismatch: the model was trained on schema "
                                             "abcdef0123456789, the pipeline produces 1111222233334444"),
                  std::string::npos)
            << e.what();
    }

    const fs::path weights = v.artifact_dir / "weights" / "layer0.bin";
    auto bytes = read_file(weights);
    bytes[3] = static_cast<char>(bytes[3] ^ 0x01);
    write_file(weights, bytes);
    try {
        reg.verify(v);
        FAIL();
    } catch (const RegistryError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("model 'm' version 1: artifact file 'weights/layer0.bin' is corrupted"), std::string::npos)
            << msg;
        EXPECT_NE(msg.find("expected " + sha256_hex("weights of a") + ", actual " + sha256_hex(bytes)),
                  std::string::npos)
            << msg;
    }
    EXPECT_FALSE(reg.check().ok());

    write_file(weights, "weights of a");
    write_file(v.artifact_dir / "extra.bin", "?");
    EXPECT_THROW(reg.verify(v), RegistryError);
    fs::remove(v.artifact_dir / "extra.bin");
    fs::remove(v.artifact_dir / "model.json");
    try {
        reg.verify(v);
        FAIL();
    } catch (const RegistryError& e) {
        EXPECT_NE(std::string(e.what()).find("artifact file 'model.json' is missing"), std::string::npos);
    }
}

TEST_F(RegistryTest, DeleteVersion) {
    Registry reg(data_dir, options());
    for (int i = 0; i < 3; ++i) reg.register_version("m", spec("x", 0.4 + 0.01 * i));
    reg.promote("m", 2);
    reg.promote("m", 3, "challenger");
    EXPECT_THROW(reg.delete_version("m", 2), RegistryError);  // the champion
    reg.delete_version("m", 3, "abandoned");
    EXPECT_FALSE(fs::exists(reg.root() / "artifacts" / "m" / "3"));
    EXPECT_FALSE(reg.alias_version("m", "challenger"));
    EXPECT_THROW(reg.get("m", 3), NotFound);
    // Numbers are never reused.
    EXPECT_EQ(reg.register_version("m", spec("y", 0.5)).version, 4);
    EXPECT_TRUE(reg.check().ok());
    EXPECT_TRUE(reg.check().leftovers.empty());
}

// What a trainer registers: a model whose description (config, scaler) is
// its lineage, and label params from the trainer.
class DescribedModel : public models::Model {
public:
    std::string kind() const override { return "described"; }
    std::size_t steps() const override { return 1; }
    void fit(const models::SampleSet&, const models::SampleSet&, const models::ProgressFn&) override {}
    std::vector<models::ClassProbs> predict_proba(const models::SampleSet& b) const override {
        return std::vector<models::ClassProbs>(b.size());
    }
    void save(const fs::path& dir) const override { write_file(dir / "model.json", describe().dump()); }
    std::uint64_t feature_schema_hash() const override { return 42; }
    nlohmann::json describe() const override {
        return {{"kind", kind()}, {"config", {{"max_depth", 5}}}, {"scaler", {{"mean", {0.5}}, {"std", {2.0}}}}};
    }
};

// The version row records the model's own parameters and scaler beside the
// trainer's label params (DESIGN.md: a version records its scaler and
// parameters), so `registry show` prints them, not only the label rule.
TEST_F(RegistryTest, RegisteredModelKeepsItsDescriptionBesideTheTrainersParams) {
    Registry reg(data_dir, options());
    const DescribedModel model;
    NewVersion meta;
    meta.params = {{"horizon", 1}, {"mode", "fixed"}};
    const auto v = register_model(reg, "m", model, meta);
    EXPECT_EQ(v.params.at("horizon"), 1);
    EXPECT_EQ(v.params.at("model"), model.describe());
    EXPECT_EQ(reg.get("m", v.version).params.at("model").at("scaler").at("std")[0], 2.0);
    EXPECT_EQ(register_model(reg, "m", model, {}).params, model.describe());  // no params: the description alone
}

// Runs the pricecast binary; returns its exit code and stdout+stderr.
std::pair<int, std::string> run_cli(const std::string& args) {
    const std::string cmd = test::pricecast_binary().string() + " " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (const std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(RegistryTest, CliPromoteRollbackHistoryDelete) {
    {
        Registry reg(data_dir, options());
        reg.register_version("m", spec("a", 0.40));
        reg.register_version("m", spec("b", 0.45));
        reg.register_version("m", spec("c", 0.42));
    }
    const std::string dd = " --data-dir " + data_dir.string();
    auto [code, out] = run_cli("registry promote m 1" + dd);
    EXPECT_EQ(code, 0) << out;
    std::tie(code, out) = run_cli("registry promote m 2 --who carol --reason 'better on Q1'" + dd);
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out, "m version 2 is now champion\n");

    std::tie(code, out) = run_cli("registry promote m 3" + dd);  // worse: refused
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("does not beat champion version 2"), std::string::npos) << out;
    EXPECT_NE(out.find("(use --force with --reason to override)"), std::string::npos) << out;
    std::tie(code, out) = run_cli("registry promote m 3 --force" + dd);  // --force needs --reason
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("--force requires --reason"), std::string::npos) << out;
    std::tie(code, out) = run_cli("registry promote m 3 --alias 'a b'" + dd);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("invalid alias 'a b'"), std::string::npos) << out;
    std::tie(code, out) = run_cli("registry promote m 9" + dd);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("model 'm' has no version 9"), std::string::npos) << out;
    std::tie(code, out) = run_cli("registry show nope" + dd);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("no registered model 'nope'"), std::string::npos) << out;
    std::tie(code, out) = run_cli("registry delete m 2" + dd);  // the champion
    EXPECT_EQ(code, 2) << out;

    std::tie(code, out) = run_cli("registry rollback m --reason oops" + dd);
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out, "m: champion rolled back from version 2 to version 1\n");
    std::tie(code, out) = run_cli("registry delete m 3 --reason unused" + dd);
    EXPECT_EQ(code, 0) << out;

    std::tie(code, out) = run_cli("registry history m --json" + dd);
    ASSERT_EQ(code, 0) << out;
    const auto h = nlohmann::json::parse(out);
    ASSERT_EQ(h.size(), 7u);  // 3 registers, 2 promotions, rollback, delete
    EXPECT_EQ(h[4]["who"], "carol");
    EXPECT_EQ(h[4]["reason"].get<std::string>().substr(0, 14), "better on Q1; ");
    EXPECT_EQ(h[5]["action"], "rollback");
    EXPECT_EQ(h[5]["reason"], "oops");
    EXPECT_EQ(h[6]["action"], "delete");

    std::tie(code, out) = run_cli("registry show m/champion --json" + dd);
    ASSERT_EQ(code, 0) << out;
    const auto v = nlohmann::json::parse(out);
    EXPECT_EQ(v["version"], 1);
    EXPECT_EQ(v["stage"], "Production");
    EXPECT_EQ(v["files"].size(), 2u);
    std::tie(code, out) = run_cli("registry list --json" + dd);
    ASSERT_EQ(code, 0) << out;
    EXPECT_EQ(nlohmann::json::parse(out)[0]["aliases"]["champion"], 1);
    std::tie(code, out) = run_cli("registry verify m --schema abcdef0123456789" + dd);
    EXPECT_EQ(code, 0) << out;
    std::tie(code, out) = run_cli("registry verify m/2 --schema 1234" + dd);
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("feature schema mismatch"), std::string::npos) << out;
    // Only a whole hash matches: a trailing character, a sign or 17 digits are a usage error.
    for (const std::string bad : {"abcdef0123456789x", "abcdef0123456789,", "-1", "+abcdef", "abcdef01234567890", " 1"}) {
        std::tie(code, out) = run_cli("registry verify m --schema '" + bad + "'" + dd);
        EXPECT_EQ(code, 2) << bad << ": " << out;
        EXPECT_NE(out.find("--schema: expected a hexadecimal schema hash"), std::string::npos) << bad << ": " << out;
    }
}

// The champion made challenger too would be an A/B test of a model against
// itself (the manager loads it in both slots): refused, with or without force,
// and nothing is recorded.
TEST_F(RegistryTest, TheChampionCannotAlsoBeTheChallenger) {
    {
        Registry reg(data_dir, options());
        reg.register_version("m", spec("a", 0.4));
        reg.register_version("m", spec("b", 0.5));
        reg.promote("m", 1);
        for (const bool force : {false, true}) {
            try {
                reg.promote("m", 1, "challenger", {.force = force}, "why not");
                FAIL() << force;
            } catch (const PromotionRefused& e) {
                EXPECT_EQ(e.why, PromotionRefused::Why::conflict);
                EXPECT_STREQ(e.what(), "version 1 of 'm' is the champion; a challenger must be another version");
            }
        }
        EXPECT_THROW(reg.set_stage("m", 1, Stage::staging), PromotionRefused);
        EXPECT_EQ(reg.get("m", 1).aliases, std::vector<std::string>{"champion"});
        EXPECT_EQ(reg.history("m").size(), 3u);
        EXPECT_TRUE(reg.promote("m", 2, "challenger"));  // another version may
    }
    const auto [code, out] = run_cli("registry promote m 1 --alias challenger --data-dir " + data_dir.string());
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("version 1 of 'm' is the champion"), std::string::npos) << out;
    EXPECT_EQ(out.find("--force"), std::string::npos) << out;
}

// Runs `body` in a child process; returns its wait status.
template <class F>
int in_child(F&& body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 0;
        try {
            body();
        } catch (...) {
            code = 3;
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

TEST_F(RegistryTest, WriterKilledMidRegistrationLeavesRegistryConsistent) {
    {
        Registry reg(data_dir, options());
        reg.register_version("m", spec("base", 0.4));
        reg.promote("m", 1);
    }
    int expected_next = 2;
    for (const std::string point : {"artifacts_staged", "rows_inserted", "artifacts_placed"}) {
        const auto victim = spec("victim-" + point, 0.9);
        const int status = in_child([&] {
            Options o = options();
            o.on_step = [&](std::string_view s) {
                if (s == point) ::raise(SIGKILL);
            };
            Registry reg(data_dir, o);
            reg.register_version("m", victim);
        });
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << point << " status " << status;

        Registry reg(data_dir, options());
        const auto report = reg.check();
        EXPECT_TRUE(report.ok()) << point << ": " << (report.problems.empty() ? "" : report.problems[0]);
        const auto versions = reg.list_versions("m");
        ASSERT_EQ(static_cast<int>(versions.size()), expected_next - 1) << point;
        EXPECT_EQ(reg.history("m").size(), static_cast<std::size_t>(expected_next)) << point;  // registers + 1 promote
        EXPECT_EQ(reg.alias_version("m", "champion"), 1);

        // The next writer takes the number the dead one never committed.
        const auto v = reg.register_version("m", spec("after-" + point, 0.5));
        EXPECT_EQ(v.version, expected_next) << point;
        EXPECT_NO_THROW(reg.verify(v));
        EXPECT_EQ(read_file(v.artifact_dir / "model.json"), "{\"tag\": \"after-" + point + "\"}");
        ++expected_next;
    }
    Registry reg(data_dir, options());
    EXPECT_GE(reg.collect_garbage(), 1u);  // the staging folder of the first victim
    const auto report = reg.check();
    EXPECT_TRUE(report.ok());
    EXPECT_TRUE(report.leftovers.empty());
    for (const auto& e : fs::directory_iterator(reg.root() / "artifacts" / "m"))
        EXPECT_FALSE(e.path().filename().string().starts_with(".staging-")) << e.path();
}

TEST_F(RegistryTest, WriterKilledMidPromotionChangesNothing) {
    {
        Registry reg(data_dir, options());
        reg.register_version("m", spec("a", 0.4));
        reg.register_version("m", spec("b", 0.5));
        reg.promote("m", 1);
    }
    for (const std::string point : {"alias_changed", "history_appended"}) {
        const int status = in_child([&] {
            Options o = options();
            o.on_step = [&](std::string_view s) {
                if (s == point) ::raise(SIGKILL);
            };
            Registry reg(data_dir, o);
            reg.promote("m", 2);
        });
        ASSERT_TRUE(WIFSIGNALED(status)) << point;
        Registry reg(data_dir, options());
        EXPECT_EQ(reg.alias_version("m", "champion"), 1) << point;
        EXPECT_EQ(reg.history("m").size(), 3u) << point;
        EXPECT_TRUE(reg.check().ok());
    }
}

TEST_F(RegistryTest, TwoProcessesRegisteringConcurrently) {
    constexpr int kEach = 20;
    // Artifact folders are prepared first and both children start on one signal
    // (the pipe closing), so their registrations overlap; they also race to
    // create the registry itself.
    std::vector<std::vector<NewVersion>> specs(2);
    for (int p = 0; p < 2; ++p)
        for (int i = 0; i < kEach; ++i) specs[p].push_back(spec(fmt::format("p{}-{}", p, i), 0.4));
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    std::vector<pid_t> children;
    for (int p = 0; p < 2; ++p) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(go[1]);
            char c;
            while (::read(go[0], &c, 1) > 0) {
            }
            int code = 0;
            try {
                Registry reg(data_dir, options("proc" + std::to_string(p)));
                for (const auto& s : specs[static_cast<std::size_t>(p)]) reg.register_version("shared", s);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child %d: %s\n", p, e.what());
                code = 3;
            }
            ::_exit(code);
        }
        children.push_back(pid);
    }
    ::close(go[0]);
    ::close(go[1]);
    std::vector<int> statuses;
    for (const pid_t pid : children) ::waitpid(pid, &statuses.emplace_back(0), 0);
    for (const int status : statuses) ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    Registry reg(data_dir, options());
    const auto versions = reg.list_versions("shared");
    ASSERT_EQ(versions.size(), 2u * kEach);
    std::set<int> numbers;
    std::set<std::string> contents;
    for (const auto& v : versions) {
        numbers.insert(v.version);
        EXPECT_NO_THROW(reg.verify(v));
        EXPECT_EQ(read_file(v.artifact_dir / "weights" / "layer0.bin"), "weights of " + v.data_hash.substr(9));
        contents.insert(read_file(v.artifact_dir / "model.json"));
    }
    EXPECT_EQ(numbers.size(), 2u * kEach);
    EXPECT_EQ(*numbers.begin(), 1);
    EXPECT_EQ(*numbers.rbegin(), 2 * kEach);
    EXPECT_EQ(contents.size(), 2u * kEach);
    const auto report = reg.check();
    EXPECT_TRUE(report.ok());
    EXPECT_TRUE(report.leftovers.empty());
}

}  // namespace
