#include "core/sqlite.hpp"

#include <chrono>
#include <cstdlib>
#include <thread>

#include <sqlite3.h>

namespace pricecast::sqlite {
namespace {

constexpr int kBusyTimeoutMs = 60'000;

[[noreturn]] void raise(Fail fail, std::string_view what, std::string_view message) {
    fail(what, message);
    std::abort();  // a Fail throws; unreachable
}

}  // namespace

Database::Database(const std::filesystem::path& file, Fail fail) : fail_(fail) {
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        raise(fail_, "cannot open " + file.string(), msg);
    }
    try {
        sqlite3_busy_timeout(db_, kBusyTimeoutMs);
        enable_wal();
    } catch (...) {
        sqlite3_close(db_);
        throw;
    }
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(const char* sql) const {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
}

int Database::changes() const noexcept { return sqlite3_changes(db_); }

void Database::fail(std::string_view what) const { raise(fail_, what, sqlite3_errmsg(db_)); }

// The journal mode is stored in the file. Switching it takes an exclusive
// lock for which SQLite calls no busy handler, so when two processes create
// the file at once, the loser retries until the winner's switch is done.
void Database::enable_wal() const {
    for (int waited_ms = 0;; waited_ms += 5) {
        const int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) return;
        if ((rc & 0xFF) != SQLITE_BUSY || waited_ms >= kBusyTimeoutMs) fail("PRAGMA journal_mode=WAL");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

Statement::Statement(const Database& db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
        db.fail(sql);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
Statement& Statement::bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
Statement& Statement::bind(int i, std::string_view v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
}
Statement& Statement::bind(int i, std::optional<int> v) {
    return v ? bind(i, std::int64_t{*v}) : check(sqlite3_bind_null(stmt_, i));
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail(sqlite3_sql(stmt_));
}

void Statement::reset() noexcept {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::i64(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const noexcept { return sqlite3_column_double(stmt_, col); }
bool Statement::null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::string Statement::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    if (!p) return {};
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}

Statement& Statement::check(int rc) {
    if (rc != SQLITE_OK) db_.fail("bind");
    return *this;
}

Transaction::Transaction(const Database& db, Mode mode) : db_(db), done_(sqlite3_get_autocommit(db.handle()) == 0) {
    if (!done_) db.exec(mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
    if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    if (done_) return;
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace pricecast::sqlite
