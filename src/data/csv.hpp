// RFC 4180 CSV records: quoted fields may hold commas, doubled quotes and
// newlines. Shared by the readers of news and labeled text.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace pricecast::data {

// Reads one record into `fields`; `line` counts the newlines consumed (a record
// may span several lines). Returns false at end of input.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, std::size_t& line);

}  // namespace pricecast::data
