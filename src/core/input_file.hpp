// The one place input files are opened, so that every reader names the path
// and says why it cannot read it, instead of failing later with a stream error
// ("basic_filebuf::underflow error reading the file") that names nothing.
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace pricecast {

// A file or directory given as input that cannot be used: bad input, not a
// runtime failure (the CLI exits 2).
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws InputError "<path>: is a directory" or "<path>: cannot open (<why>)".
std::ifstream open_input(const std::filesystem::path& path, std::ios::openmode mode = std::ios::binary);

}  // namespace pricecast
