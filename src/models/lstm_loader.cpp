// make_lstm and load_lstm for the pricecast binary: they load the LSTM and
// libtorch from libpricecast_lstm.so beside the binary the first time one is
// needed (lstm.hpp says why), and call into it.
#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>

#include "models/lstm.hpp"

namespace pricecast::models {
namespace {

struct LstmModule {
    Model* (*make)(const LstmConfig*) = nullptr;
    Model* (*load)(const std::filesystem::path*) = nullptr;
};

template <class F>
F symbol(void* handle, const char* name, const std::string& path) {
    void* p = dlsym(handle, name);
    if (!p) throw LstmModuleError(path + ": no " + name + " (not a pricecast LSTM module?)");
    return reinterpret_cast<F>(p);
}

LstmModule open_module() {
    const auto path = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "libpricecast_lstm.so").string();
    if (!std::filesystem::exists(path))
        throw LstmModuleError("the LSTM needs libpricecast_lstm.so beside the pricecast binary, built with it: " + path +
                              " does not exist");
    // RTLD_NOW: a symbol the module misses is an error here, not a crash later.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw LstmModuleError(std::string("cannot load the LSTM module: ") + dlerror());
    const std::string build = symbol<const char* (*)()>(handle, "pricecast_lstm_build", path)();
    if (build != PRICECAST_LSTM_BUILD)
        throw LstmModuleError(path + " comes from another build (" + build + ", the binary " + PRICECAST_LSTM_BUILD +
                              "); copy the two files of one build together");
    return {symbol<Model* (*)(const LstmConfig*)>(handle, "pricecast_lstm_make", path),
            symbol<Model* (*)(const std::filesystem::path*)>(handle, "pricecast_lstm_load", path)};
}

// Loaded once per process, on first use; a failure is reported at each use.
const LstmModule& lstm_module() {
    static std::mutex mutex;
    static std::optional<LstmModule> module;
    std::lock_guard lock(mutex);
    if (!module) module = open_module();
    return *module;
}

}  // namespace

std::unique_ptr<Model> make_lstm(const LstmConfig& cfg) { return std::unique_ptr<Model>(lstm_module().make(&cfg)); }

std::unique_ptr<Model> load_lstm(const std::filesystem::path& dir) {
    return std::unique_ptr<Model>(lstm_module().load(&dir));
}

}  // namespace pricecast::models
