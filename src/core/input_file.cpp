#include "core/input_file.hpp"

#include <cerrno>
#include <cstring>

namespace pricecast {

std::ifstream open_input(const std::filesystem::path& path, std::ios::openmode mode) {
    std::error_code ec;
    // An ifstream opens a directory without complaint on Linux; the first read then fails.
    if (std::filesystem::is_directory(path, ec)) throw InputError(path.string() + ": is a directory");
    std::ifstream in(path, mode | std::ios::in);
    if (!in) throw InputError(path.string() + ": cannot open (" + std::strerror(errno) + ")");
    return in;
}

}  // namespace pricecast
