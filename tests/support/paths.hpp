// Where tests find data: ../shared/data (real public data, may be absent) and
// tests/data (small files kept in the repo).
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace pricecast::test {

inline std::filesystem::path shared_data() { return PRICECAST_SHARED_DATA; }
inline std::filesystem::path test_data() { return PRICECAST_TEST_DATA; }
inline std::filesystem::path pricecast_binary() { return PRICECAST_BINARY; }

}  // namespace pricecast::test

// Skips the current test, with a message, when a shared data file is absent.
#define PRICECAST_REQUIRE_SHARED(relpath)                                                           \
    do {                                                                                            \
        if (!std::filesystem::exists(::pricecast::test::shared_data() / (relpath)))                 \
            GTEST_SKIP() << "shared data file absent: " << (relpath) << " (see ../shared/data)";    \
    } while (0)
