// OHLCV files: reading (CSV with header detection, exchange/freqtrade JSON
// arrays), validation with a reason per rejected record, and CSV writing.
//
// Reading is streaming (BarReader holds one record at a time), except for a
// newest-first file, which is detected from its first records and reversed in
// memory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/input_file.hpp"
#include "core/types.hpp"

namespace pricecast::data {

class DataError : public InputError {
public:
    using InputError::InputError;
};

// open_input, failing with a DataError.
std::ifstream open_data_file(const std::filesystem::path& path);

enum class Reason {
    unparsable,
    non_finite,
    non_positive_price,
    high_below_open_close,
    low_above_open_close,
    negative_volume,
    duplicate_timestamp,
    out_of_order,
};
std::string_view to_string(Reason r);

struct ValidationReport {
    std::size_t records = 0;  // data records seen (header excluded)
    std::size_t accepted = 0;
    std::map<Reason, std::size_t> counts;
    std::map<Reason, std::vector<std::size_t>> first_lines;  // up to 5 line numbers (1-based) per reason
    std::map<Reason, std::string> first_detail;              // what exactly was wrong with the first, when known
    bool record_numbers = false;  // JSON: first_lines hold record numbers, since such files are often one line
    std::vector<std::string> broken;  // where the file's structure breaks (truncated JSON, text after its end)
    bool reversed = false;            // newest-first file, read in reverse
    std::size_t rejected() const { return records - accepted; }
    bool clean() const { return rejected() == 0 && broken.empty(); }
    void reject(Reason r, std::size_t line, std::string detail = {});
};

// One line per problem of the report, for people: each rejection reason with
// its count and first positions ("line 3" or "record 3"), then each break.
std::vector<std::string> describe_problems(const ValidationReport& r);

struct ReadOptions {
    std::string symbol;     // default: the file name without extension
    Duration interval = 0;  // 0: infer the most common step of the first records (stays 0 below two distinct times)
};

struct BarFile {
    std::vector<Bar> bars;
    ValidationReport report;
};

// Reads a whole file; invalid records are skipped and reported, valid ones kept.
// Throws DataError (naming the file) when the file cannot be opened or has no
// recognisable header.
BarFile read_bar_file(const std::filesystem::path& path, const ReadOptions& opts = {});
std::vector<Bar> read_bars(const std::filesystem::path& path, const ReadOptions& opts = {});

// Streaming reader over one file, records in file order, validated.
class BarReader {
public:
    explicit BarReader(const std::filesystem::path& path, const ReadOptions& opts = {});
    ~BarReader();
    BarReader(BarReader&&) noexcept;
    // Next valid bar; false at the end of the file.
    bool next(Bar& out);
    const ValidationReport& report() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// time,open,high,low,close,volume with ISO-8601 times; read_bars reads it back.
void write_bars_csv(std::ostream& out, std::span<const Bar> bars);

}  // namespace pricecast::data
