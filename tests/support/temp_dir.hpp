// A fresh, empty folder for one test under the system's temporary folder,
// removed with everything in it when the object goes: the one way the tests
// make a scratch folder.
//
//     test::TempDir dir("registry");        // /tmp/pricecast-registry-<pid>-<n>
//     std::ofstream(dir / "a.csv") << text;
//     registry::Registry reg(dir.path());
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace pricecast::test {

class TempDir {
public:
    // `name` says which test the folder is for; the process id and a counter
    // keep two folders apart, in one process or in tests run side by side.
    explicit TempDir(std::string_view name) {
        static std::atomic<unsigned> counter{0};
        const auto root = std::filesystem::temp_directory_path();
        do {
            path_ = root / fmt::format("pricecast-{}-{}-{}", name, ::getpid(), counter++);
        } while (!std::filesystem::create_directory(path_));  // taken (a crashed run's leftovers): the next one
    }
    ~TempDir() { remove(); }

    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
    TempDir& operator=(TempDir&& other) noexcept {
        if (this != &other) {
            remove();
            path_ = std::exchange(other.path_, {});
        }
        return *this;
    }

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

private:
    // Never throws: a folder that cannot be removed is left behind, not a
    // second failure in a destructor.
    void remove() noexcept {
        if (path_.empty()) return;
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
        path_.clear();
    }

    std::filesystem::path path_;
};

}  // namespace pricecast::test
