#include "cli/commands.hpp"

namespace pricecast::cli {

void add_train_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "(being built)");
    cmd->require_subcommand(0);
}

}  // namespace pricecast::cli
