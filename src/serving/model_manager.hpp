// Model manager: keeps the registry's champion (and challenger) of each served
// model loaded and swaps in new versions without stopping predictions.
//
//   serving::ModelManager mm(data_dir, models::load_model);  // any loader
//   mm.watch("btc-trend", pipeline.schema().hash());
//   mm.refresh();                       // load what the registry says now
//   mm.start();                         // and re-check every interval (default 1h)
//   auto p = mm.predict("btc-trend", samples);  // p.version: the version that answered
//
// A swap replaces a shared_ptr under a mutex: a prediction copies the pointer
// and runs outside the lock, so in-flight predictions finish on the model they
// started with and the old model is freed when the last one ends. A version
// that fails to load (sha256 or schema mismatch, loader error) is never served:
// the current model stays (a challenger only while it is not the champion by
// now: that slot is emptied instead) and the error is kept in last_error() and
// counted.
// All member functions are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "models/model.hpp"
#include "registry/registry.hpp"

namespace pricecast::serving {

// Nothing to serve (unknown name, nothing loaded yet).
class ServingError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using Loader = std::function<std::unique_ptr<models::Model>(const std::filesystem::path& artifact_dir)>;

enum class Slot { champion, challenger };

struct LoadedModel {
    std::string name;
    Slot slot = Slot::champion;
    registry::ModelVersion version;
    std::unique_ptr<const models::Model> model;
};

struct ModelOutput {
    int version = 0;
    std::vector<models::ClassProbs> probs;
};

struct ManagerOptions {
    std::chrono::milliseconds interval = std::chrono::hours(1);  // background registry check
    bool load_challenger = true;
};

struct ManagerStats {
    std::uint64_t refreshes = 0, loads = 0, load_failures = 0, swaps = 0, predictions = 0, prediction_failures = 0;
};

class ModelManager {
public:
    ModelManager(std::filesystem::path data_dir, Loader loader, ManagerOptions options = {});
    ~ModelManager();
    ModelManager(const ModelManager&) = delete;
    ModelManager& operator=(const ModelManager&) = delete;

    // Serve registered model `name`; every version loaded must have been
    // trained on `schema_hash` (the feature pipeline's).
    void watch(const std::string& name, std::uint64_t schema_hash);

    // Checks the registry now and swaps in changed champions/challengers.
    // Load failures are recorded, not thrown. Returns the number of swaps.
    std::size_t refresh();
    // Background refresh every options.interval until stop() (or destruction).
    void start();
    // Returns promptly even in the middle of a long interval.
    void stop();

    // Null when nothing is loaded in that slot.
    std::shared_ptr<const LoadedModel> current(const std::string& name, Slot slot = Slot::champion) const;
    // Throws ServingError when nothing is loaded; the model's own errors propagate.
    ModelOutput predict(const std::string& name, const models::SampleSet& batch, Slot slot = Slot::champion) const;
    // Predicts with `loaded`, a model got from current(). A caller that shaped
    // `batch` for that model (its steps) uses this one: looking the slot up
    // again could find a version swapped in meanwhile that reads other shapes.
    ModelOutput predict(const LoadedModel& loaded, const models::SampleSet& batch) const;

    // The last refresh problem for `name` (cleared by a refresh without one).
    std::optional<std::string> last_error(const std::string& name) const;
    ManagerStats stats() const;

private:
    struct Entry {
        std::uint64_t schema_hash = 0;
        std::shared_ptr<const LoadedModel> champion, challenger;
        std::optional<std::string> last_error;
    };

    bool refresh_slot(registry::Registry& reg, const std::string& name, std::uint64_t schema_hash, Slot slot,
                      std::vector<std::string>& errors);
    std::shared_ptr<const LoadedModel> load(registry::Registry& reg, const std::string& name, Slot slot,
                                            std::uint64_t schema_hash, const std::string& alias);
    void install(const std::string& name, Slot slot, std::shared_ptr<const LoadedModel> m);
    void run(std::stop_token stop);

    std::filesystem::path data_dir_;
    Loader loader_;
    ManagerOptions options_;

    mutable std::mutex mutex_;  // guards entries_ (held only to copy or swap pointers)
    std::map<std::string, Entry> entries_;

    std::mutex refresh_mutex_;  // one refresh at a time (it owns the registry connection)
    std::unique_ptr<registry::Registry> registry_;

    std::mutex wait_mutex_;
    std::condition_variable_any wake_;
    std::jthread worker_;

    mutable std::atomic<std::uint64_t> refreshes_{0}, loads_{0}, load_failures_{0}, swaps_{0}, predictions_{0},
        prediction_failures_{0};
};

}  // namespace pricecast::serving
