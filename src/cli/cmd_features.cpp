#include "cli/commands.hpp"

namespace pricecast::cli {

void add_features_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("features", "(being built)");
    cmd->require_subcommand(0);
}

}  // namespace pricecast::cli
