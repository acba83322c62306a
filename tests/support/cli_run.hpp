// One `pricecast` command run to completion through the shell, for the tests
// of what a user sees: its stdout, its stderr and its exit status.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "support/paths.hpp"

namespace pricecast::test {

struct CliRun {
    int status = -1;  // as the shell reports it: 128 + signal for a crash
    std::string out, err;
};

// A shell command, its stderr kept in `scratch`/stderr.txt.
inline CliRun run_shell(const std::string& command, const std::filesystem::path& scratch) {
    const auto err = scratch / "stderr.txt";
    std::filesystem::remove(err);
    CliRun r;
    FILE* p = popen(fmt::format("{} 2>'{}'", command, err.string()).c_str(), "r");
    if (!p) return r;
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
    r.status = WEXITSTATUS(pclose(p));
    std::ifstream in(err);
    std::ostringstream text;
    text << in.rdbuf();
    r.err = text.str();
    return r;
}

// `pricecast ARGS` (shell syntax: quotes work), as run_shell runs it. `env` is
// a prefix of VAR=value assignments; a non-empty `cwd` is the folder it runs in.
inline CliRun run_pricecast(const std::string& args, const std::filesystem::path& scratch, const std::string& env = "",
                            const std::filesystem::path& cwd = {}) {
    const std::string cd = cwd.empty() ? "" : fmt::format("cd '{}' && ", cwd.string());
    return run_shell(fmt::format("{}{} {} {}", cd, env, pricecast_binary().string(), args), scratch);
}

}  // namespace pricecast::test
