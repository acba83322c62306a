#include "serving/model_manager.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace pricecast::serving {
namespace {

std::string_view alias_of(Slot slot) { return slot == Slot::champion ? registry::kChampion : registry::kChallenger; }

}  // namespace

ModelManager::ModelManager(std::filesystem::path data_dir, Loader loader, ManagerOptions options)
    : data_dir_(std::move(data_dir)), loader_(std::move(loader)), options_(options) {
    if (!loader_) throw std::invalid_argument("ModelManager needs a loader");
}

ModelManager::~ModelManager() { stop(); }

void ModelManager::watch(const std::string& name, std::uint64_t schema_hash) {
    std::lock_guard lock(mutex_);
    auto& e = entries_[name];
    e.schema_hash = schema_hash;
}

std::shared_ptr<const LoadedModel> ModelManager::load(registry::Registry& reg, const std::string& name, Slot slot,
                                                      std::uint64_t schema_hash, const std::string& alias) {
    auto version = reg.resolve(name, alias);
    reg.verify(version, schema_hash);
    auto model = loader_(version.artifact_dir);
    if (!model) throw std::runtime_error("the loader returned no model");
    // The registry row and the files agree; the model must agree too.
    if (model->feature_schema_hash() != schema_hash)
        throw std::runtime_error(fmt::format("the loaded model reports feature schema {}, the pipeline produces {}",
                                             registry::schema_hash_hex(model->feature_schema_hash()),
                                             registry::schema_hash_hex(schema_hash)));
    auto loaded = std::make_shared<LoadedModel>();
    loaded->name = name;
    loaded->slot = slot;
    loaded->version = std::move(version);
    loaded->model = std::move(model);
    return loaded;
}

void ModelManager::install(const std::string& name, Slot slot, std::shared_ptr<const LoadedModel> m) {
    std::shared_ptr<const LoadedModel> old;  // released after the lock: freeing a model can be slow
    {
        std::lock_guard lock(mutex_);
        auto& e = entries_[name];
        auto& target = slot == Slot::champion ? e.champion : e.challenger;
        old = std::exchange(target, std::move(m));
    }
}

// Returns true when the slot changed.
bool ModelManager::refresh_slot(registry::Registry& reg, const std::string& name, std::uint64_t schema_hash,
                                Slot slot, std::vector<std::string>& errors) {
    const auto now_loaded = current(name, slot);
    const std::string alias(alias_of(slot));
    const auto wanted = reg.alias_version(name, alias);
    if (!wanted) {
        if (!now_loaded) return false;
        if (slot == Slot::challenger) {  // the experiment ended
            install(name, slot, nullptr);
            return true;
        }
        errors.push_back(fmt::format("the registry has no champion for '{}'; still serving version {}", name,
                                     now_loaded->version.version));
        return false;
    }
    if (now_loaded && now_loaded->version.version == *wanted) return false;
    try {
        auto loaded = load(reg, name, slot, schema_hash, alias);
        ++loads_;
        install(name, slot, std::move(loaded));
        return true;
    } catch (const std::exception& e) {
        ++load_failures_;
        // A version is champion or challenger, not both: the challenger kept in
        // place of one that failed may be the champion by now (it was promoted,
        // then a new challenger named), and an A/B test against itself is none.
        const auto champion = current(name);
        const bool stale_is_champion = slot == Slot::challenger && now_loaded && champion &&
                                       champion->version.version == now_loaded->version.version;
        if (stale_is_champion) install(name, slot, nullptr);
        errors.push_back(fmt::format("{} version {} of '{}' not loaded: {}; {}", alias, *wanted, name, e.what(),
                                     stale_is_champion ? fmt::format("no challenger served (version {} is the champion)",
                                                                     now_loaded->version.version)
                                     : now_loaded      ? fmt::format("still serving version {}", now_loaded->version.version)
                                                       : std::string("nothing served")));
        return stale_is_champion;
    }
}

std::size_t ModelManager::refresh() {
    std::lock_guard refresh_lock(refresh_mutex_);
    ++refreshes_;
    std::vector<std::pair<std::string, std::uint64_t>> watched;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, e] : entries_) watched.emplace_back(name, e.schema_hash);
    }
    std::size_t swaps = 0;
    for (const auto& [name, schema_hash] : watched) {
        std::vector<std::string> errors;
        try {
            if (!registry_) registry_ = std::make_unique<registry::Registry>(data_dir_);
            swaps += refresh_slot(*registry_, name, schema_hash, Slot::champion, errors) ? 1 : 0;
            if (options_.load_challenger)
                swaps += refresh_slot(*registry_, name, schema_hash, Slot::challenger, errors) ? 1 : 0;
        } catch (const std::exception& e) {  // the registry itself failed
            errors.push_back(fmt::format("registry check for '{}' failed: {}", name, e.what()));
        }
        std::lock_guard lock(mutex_);
        entries_[name].last_error =
            errors.empty() ? std::nullopt : std::optional<std::string>(fmt::format("{}", fmt::join(errors, "; ")));
    }
    swaps_ += swaps;
    return swaps;
}

void ModelManager::run(std::stop_token stop) {
    while (!stop.stop_requested()) {
        {
            // Wakes early only when a stop is requested.
            std::unique_lock lock(wait_mutex_);
            wake_.wait_for(lock, stop, options_.interval, [] { return false; });
        }
        if (stop.stop_requested()) break;
        refresh();  // records its own errors; never throws for a bad version
    }
}

void ModelManager::start() {
    if (worker_.joinable()) return;
    worker_ = std::jthread([this](std::stop_token st) { run(st); });
}

void ModelManager::stop() {
    if (!worker_.joinable()) return;
    worker_.request_stop();
    worker_.join();
}

std::shared_ptr<const LoadedModel> ModelManager::current(const std::string& name, Slot slot) const {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(name);
    if (it == entries_.end()) return nullptr;
    return slot == Slot::champion ? it->second.champion : it->second.challenger;
}

ModelOutput ModelManager::predict(const std::string& name, const models::SampleSet& batch, Slot slot) const {
    const auto m = current(name, slot);
    if (!m) {
        ++prediction_failures_;
        const auto err = last_error(name);
        throw ServingError(fmt::format("no {} loaded for model '{}'{}", alias_of(slot), name,
                                       err ? " (" + *err + ")" : std::string()));
    }
    return predict(*m, batch);
}

ModelOutput ModelManager::predict(const LoadedModel& loaded, const models::SampleSet& batch) const {
    try {
        ModelOutput p{loaded.version.version, loaded.model->predict_proba(batch)};
        ++predictions_;
        return p;
    } catch (...) {
        ++prediction_failures_;
        throw;
    }
}

std::optional<std::string> ModelManager::last_error(const std::string& name) const {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(name);
    return it == entries_.end() ? std::nullopt : it->second.last_error;
}

ManagerStats ModelManager::stats() const {
    return {refreshes_.load(), loads_.load(), load_failures_.load(), swaps_.load(), predictions_.load(),
            prediction_failures_.load()};
}

}  // namespace pricecast::serving
