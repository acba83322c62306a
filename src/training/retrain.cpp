#include "training/retrain.hpp"

#include <span>

#include <fmt/format.h>

#include "monitor/monitor.hpp"
#include "registry/sha256.hpp"

namespace pricecast::training {

namespace {

// The rows a model was trained on, in every value: two versions trained on
// the same data have the same hash, whatever files it came from.
std::string matrix_hash(const features::FeatureMatrix& m) {
    registry::Sha256 h;
    for (const auto& c : m.columns) h.update(c + '\n');
    for (const auto& s : m.symbols) h.update(s + '\n');
    h.update(std::as_bytes(std::span(m.times)));
    h.update(std::as_bytes(std::span(m.closes)));
    h.update(std::as_bytes(std::span(m.values)));
    return h.finish_hex();
}

}  // namespace

registry::ModelVersion register_trained(registry::Registry& reg, const std::string& name, const WalkForwardResult& r,
                                        const features::FeatureMatrix& m, Duration short_window,
                                        registry::NewVersion meta) {
    meta.metrics = {{"accuracy", r.model.accuracy}, {"macro_f1", r.model.macro_f1}, {"log_loss", r.model.log_loss}};
    meta.params = r.to_json()["labels"];
    const auto window = fmt::format("{}..{}", format_iso8601(r.folds.front().test_from),
                                    format_iso8601(r.folds.back().test_to));
    meta.eval_window = meta.eval_window.empty() ? window : meta.eval_window + " " + window;
    meta.data_from = m.times.front();
    meta.data_to = m.times.back();
    if (meta.data_hash.empty()) meta.data_hash = matrix_hash(m);
    meta.extra_files[std::string(monitor::Reference::kFile)] =
        monitor::Reference::fit(m, short_window).to_json().dump();
    return registry::register_model(reg, name, *r.last_model, std::move(meta));
}

namespace {

// The champion's rule, so the challenger predicts the same classes; its
// fitted thresholds are not reused: walk-forward fits them on the new rows.
models::LabelConfig champion_labels(registry::Registry& reg, const RetrainOptions& o) {
    const auto champion = reg.alias_version(o.model, std::string(registry::kChampion));
    if (!champion) return o.labels;
    const auto params = reg.get(o.model, *champion).params;
    try {
        return models::Labeler::from_json(params).config();
    } catch (const std::exception&) {  // params of a version registered without a label rule
        return o.labels;
    }
}

}  // namespace

Retrained retrain_challenger(registry::Registry& reg, const features::FeatureMatrix& recent, const RetrainOptions& o,
                             const std::string& reason) {
    WalkForwardConfig wf;
    wf.folds = o.folds;
    auto result = walk_forward_train(recent, champion_labels(reg, o), wf, model_factory(o.spec, recent.schema_hash));
    registry::NewVersion meta;
    meta.eval_window = "retrain";
    meta.description = "retrained on drift: " + reason;
    meta.tags = {{"trigger", "drift"}};
    auto version = register_trained(reg, o.model, result, recent, o.short_window, std::move(meta));
    reg.promote(o.model, version.version, std::string(registry::kChallenger), {}, "retrained on drift: " + reason);
    version = reg.get(o.model, version.version);
    return {std::move(version), std::move(result)};
}

}  // namespace pricecast::training
