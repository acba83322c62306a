#include "cli/commands.hpp"

namespace pricecast::cli {

void add_demo_command(CLI::App& /*app*/) {}

}  // namespace pricecast::cli
