#include "cli/commands.hpp"

namespace pricecast::cli {

void add_data_command(CLI::App& /*app*/) {}

}  // namespace pricecast::cli
