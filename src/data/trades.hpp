// Trade (tick) files: freqtrade's JSON trade lists (optionally gzipped) of
// [timestamp_ms, id, type, side, price, amount, cost], CSV with a header naming
// timestamp/time, price and amount/volume (side optional), and Kraken's
// header-less CSV of unix_seconds,price,volume.
#pragma once

#include <filesystem>
#include <ostream>
#include <span>
#include <vector>

#include "core/types.hpp"

namespace pricecast::data {

// Reads the whole file; symbol defaults to the file name up to its first '.'.
// Throws DataError naming the file and line for a record it cannot read.
std::vector<Trade> read_trades(const std::filesystem::path& path, std::string symbol = {});

// timestamp,price,amount,side with the timestamp in epoch milliseconds (to the
// microsecond); read_trades reads it back.
void write_trades_csv(std::ostream& out, std::span<const Trade> trades);

}  // namespace pricecast::data
