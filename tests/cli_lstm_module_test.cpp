// The pricecast binary does not link libtorch: it loads the LSTM module
// (libpricecast_lstm.so, beside it) when an LSTM is trained or read back.
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast {
namespace {

class CliLstmModule : public testing::Test {
protected:
    test::CliRun run(const std::string& args, const std::string& env = "") {
        return test::run_pricecast(args, dir_.path(), env, dir_.path());
    }
    // Every library the dynamic loader maps for it, not only its own NEEDED entries.
    std::string libraries(const std::filesystem::path& elf) {
        return test::run_shell(fmt::format("ldd '{}'", elf.string()), dir_.path()).out;
    }
    test::TempDir dir_{"lstm-module"};
};

TEST_F(CliLstmModule, TheBinaryLinksNoLibtorchAndItsModuleDoes) {
    const auto binary = libraries(test::pricecast_binary());
    ASSERT_NE(binary.find("libc.so"), std::string::npos) << binary;
    EXPECT_EQ(binary.find("libtorch"), std::string::npos) << binary;
    EXPECT_EQ(binary.find("libc10"), std::string::npos) << binary;
    const auto module = libraries(test::pricecast_binary().parent_path() / "libpricecast_lstm.so");
    EXPECT_NE(module.find("libtorch_cpu"), std::string::npos) << module;
}

TEST_F(CliLstmModule, AnLstmIsTrainedAndReadBackThroughTheModule) {
    ASSERT_EQ(run("simulate --symbols ACME --bars 3000 --seed 5 --no-trades --out sim").status, 0);
    const auto train = run("train --prices sim/ACME.csv --model lstm --epochs 1 --steps 8 --walk-forward 1 --out m",
                           "PRICECAST_FEATURES_TIMEFRAMES=1m,5m");
    ASSERT_EQ(train.status, 0) << train.err;
    EXPECT_TRUE(std::filesystem::exists(dir_ / "m" / "weights.pt")) << train.err;
    const auto back = run("evaluate --model m --prices sim/ACME.csv", "PRICECAST_FEATURES_TIMEFRAMES=1m,5m");
    ASSERT_EQ(back.status, 0) << back.err;
    EXPECT_NE((back.out + back.err).find("accuracy"), std::string::npos) << back.out << back.err;
}

// A binary copied without its module trains everything but an LSTM, and says
// what is missing when it needs one.
TEST_F(CliLstmModule, ABinaryWithoutItsModuleNamesIt) {
    std::filesystem::create_directory(dir_ / "bin");
    std::filesystem::copy_file(test::pricecast_binary(), dir_ / "bin" / "pricecast");
    ASSERT_EQ(run("simulate --symbols ACME --bars 300 --no-trades --out sim").status, 0);
    const auto copied = [&](const std::string& args) {
        return test::run_shell(
            fmt::format("cd '{}' && '{}' {}", dir_.path().string(), (dir_ / "bin" / "pricecast").string(), args),
            dir_.path());
    };
    const auto train = copied("train --prices sim/ACME.csv --model lstm --epochs 1 --out m");
    EXPECT_EQ(train.status, 1) << train.err;
    EXPECT_NE(train.err.find("the LSTM needs libpricecast_lstm.so beside the pricecast binary"), std::string::npos)
        << train.err;
    EXPECT_NE(train.err.find((dir_ / "bin" / "libpricecast_lstm.so").string() + " does not exist"), std::string::npos)
        << train.err;
    // Reading a saved LSTM back: the installation's failure (1), not a bad --model folder (2).
    std::filesystem::create_directory(dir_ / "saved");
    std::ofstream(dir_ / "saved" / "model.json") << R"({"kind": "lstm"})";
    const auto read = copied("evaluate --model saved --prices sim/ACME.csv");
    EXPECT_EQ(read.status, 1) << read.err;
    EXPECT_NE(read.err.find("the LSTM needs libpricecast_lstm.so"), std::string::npos) << read.err;
}

}  // namespace
}  // namespace pricecast
