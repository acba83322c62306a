#include "cli/commands.hpp"

namespace pricecast::cli {

void add_indicators_command(CLI::App& /*app*/) {}

}  // namespace pricecast::cli
