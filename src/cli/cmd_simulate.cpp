#include "cli/commands.hpp"

namespace pricecast::cli {

void add_simulate_command(CLI::App& /*app*/) {}

}  // namespace pricecast::cli
