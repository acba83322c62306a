// RFC 4180 CSV records: quoted fields may hold commas, doubled quotes and
// newlines. Shared by the readers of news and labeled text.
//
// A quote that is never closed would make the rest of the file one field, so a
// reader that keeps going past bad records asks CsvReader to read the lines
// after such a record's first line again (reread_after_first_line).
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace pricecast::data {

class CsvReader {
public:
    explicit CsvReader(std::istream& in) : in_(in) {}
    // Reads one record into `fields`; false at end of input.
    bool next(std::vector<std::string>& fields);
    // The 1-based line the last record starts on.
    std::size_t first_line() const { return first_line_; }
    // Newlines consumed so far.
    std::size_t lines() const { return line_; }
    // The last record's quoted field runs past the end of its first line.
    bool spans_lines() const;
    // The input ended inside a quoted field of the last record.
    bool unclosed() const { return unclosed_; }
    // Drops the last record except its first line: the lines after that are read again as records.
    void reread_after_first_line();

private:
    int get();
    int peek();
    std::istream& in_;
    std::string raw_;      // the last record as read, to re-read from
    std::string pending_;  // read before the stream, from pos_
    std::size_t pos_ = 0;
    std::size_t line_ = 0;
    std::size_t first_line_ = 0;
    bool unclosed_ = false;
};

// Reads one record into `fields`; `line` counts the newlines consumed (a record
// may span several lines). Returns false at end of input. For readers that stop
// at the first bad record.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, std::size_t& line);

}  // namespace pricecast::data
