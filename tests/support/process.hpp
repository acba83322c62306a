// A `pricecast` child process for CLI-level tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/paths.hpp"

extern char** environ;

namespace pricecast::test {

// One `pricecast` process; its stdout and stderr go to a file the test reads.
class Process {
public:
    Process(const std::vector<std::string>& args, const std::filesystem::path& log) : log_(log) {
        std::vector<char*> argv;
        std::vector<std::string> all{pricecast_binary().string()};
        all.insert(all.end(), args.begin(), args.end());
        for (auto& a : all) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        EXPECT_EQ(posix_spawn(&pid_, all.front().c_str(), &actions, nullptr, argv.data(), environ), 0);
        posix_spawn_file_actions_destroy(&actions);
    }
    ~Process() { stop(SIGTERM); }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    void stop(int signal) {
        if (pid_ <= 0) return;
        ::kill(pid_, signal);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    // The first match of `pattern`'s group 1 in the log, waiting up to 60 s.
    std::string wait_for(const std::string& pattern) const {
        const std::regex re(pattern);
        for (int i = 0; i < 3000; ++i) {
            std::ifstream in(log_);
            const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::smatch m;
            if (std::regex_search(text, m, re)) return m[1];
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ADD_FAILURE() << "no '" << pattern << "' in " << log_;
        return {};
    }

private:
    std::filesystem::path log_;
    pid_t pid_ = -1;
};

}  // namespace pricecast::test
