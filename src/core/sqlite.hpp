// The SQLite files of the stores that keep history on disk (the model
// registry, the prediction log): opened alike, with statements and
// transactions that report failures as their store's own error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace pricecast::sqlite {

// How a store reports a failed call: throws its own error type naming what
// failed and SQLite's message. Must not return.
using Fail = void (*)(std::string_view what, std::string_view message);

// A database file, created when missing, shared by several processes: WAL
// journal, so readers never wait for the writer, and a busy timeout, so
// writers of two processes queue instead of failing.
class Database {
public:
    Database(const std::filesystem::path& file, Fail fail);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(const char* sql) const;
    // Rows changed by the last INSERT, UPDATE or DELETE.
    int changes() const noexcept;
    [[noreturn]] void fail(std::string_view what) const;
    sqlite3* handle() const noexcept { return db_; }

private:
    void enable_wal() const;
    sqlite3* db_ = nullptr;
    Fail fail_;
};

// A prepared statement; binds are 1-based, columns 0-based.
class Statement {
public:
    Statement(const Database& db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int i, std::int64_t v);
    Statement& bind(int i, int v) { return bind(i, std::int64_t{v}); }
    Statement& bind(int i, double v);
    Statement& bind(int i, std::string_view v);
    Statement& bind(int i, std::optional<int> v);  // NULL when empty
    // True while a row is available.
    bool step();
    void run() { step(); }
    // Ready to run again, with no values bound.
    void reset() noexcept;

    std::int64_t i64(int col) const noexcept;
    int i32(int col) const noexcept { return static_cast<int>(i64(col)); }
    double real(int col) const noexcept;
    bool null(int col) const noexcept;
    std::optional<int> opt(int col) const noexcept { return null(col) ? std::nullopt : std::optional(i32(col)); }
    std::string text(int col) const;

private:
    Statement& check(int rc);
    const Database& db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// Rolled back unless committed. Inside an enclosing transaction (a read
// helper called by a change) it is a no-op. A write transaction takes the
// write lock up front (BEGIN IMMEDIATE), so it never fails half way on a
// lock upgrade; a read transaction is one consistent snapshot.
class Transaction {
public:
    enum class Mode { read, write };
    Transaction(const Database& db, Mode mode);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    const Database& db_;
    bool done_;
};

}  // namespace pricecast::sqlite
