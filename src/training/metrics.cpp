#include "training/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace pricecast::training {

using models::kClasses;

ClassMetrics evaluate(std::span<const models::Trend> truth, std::span<const models::ClassProbs> probs) {
    if (truth.size() != probs.size()) throw std::invalid_argument("evaluate: truth and predictions differ in length");
    ClassMetrics m;
    m.n = truth.size();
    double loss = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const auto& p = probs[i];
        const auto pred = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
        const auto t = static_cast<std::size_t>(truth[i]);
        ++m.confusion[t][pred];
        double sum = 0;
        for (float x : p) sum += x;
        loss -= std::log(std::clamp(static_cast<double>(p[t]) / sum, 1e-15, 1 - 1e-15));
    }
    std::size_t correct = 0, present = 0;
    for (std::size_t c = 0; c < kClasses; ++c) {
        std::size_t predicted = 0, actual = 0;
        for (std::size_t k = 0; k < kClasses; ++k) predicted += m.confusion[k][c], actual += m.confusion[c][k];
        const double tp = static_cast<double>(m.confusion[c][c]);
        correct += m.confusion[c][c];
        m.precision[c] = predicted ? tp / static_cast<double>(predicted) : 0.0;
        m.recall[c] = actual ? tp / static_cast<double>(actual) : 0.0;
        const double s = m.precision[c] + m.recall[c];
        m.f1[c] = s > 0 ? 2 * m.precision[c] * m.recall[c] / s : 0.0;
        m.macro_f1 += m.f1[c] / kClasses;
        if (actual) m.balanced_accuracy += m.recall[c], ++present;
    }
    const auto down = static_cast<std::size_t>(models::Trend::down), up = static_cast<std::size_t>(models::Trend::up);
    m.sign_n = m.confusion[down][down] + m.confusion[up][up] + m.confusion[down][up] + m.confusion[up][down];
    if (m.sign_n)
        m.sign_accuracy = static_cast<double>(m.confusion[down][down] + m.confusion[up][up]) / static_cast<double>(m.sign_n);
    if (m.n) {
        m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);
        m.log_loss = loss / static_cast<double>(m.n);
        m.balanced_accuracy /= static_cast<double>(present);
    }
    return m;
}

BootstrapIntervals bootstrap(std::span<const models::Trend> truth, std::span<const models::ClassProbs> model,
                             std::span<const models::Trend> majority, std::span<const models::Trend> persistence,
                             int resamples, std::size_t block, std::uint64_t seed) {
    const std::size_t n = truth.size();
    if (n == 0 || model.size() != n || majority.size() != n || persistence.size() != n)
        throw std::invalid_argument("bootstrap: predictions and truth differ in length");
    block = std::clamp<std::size_t>(block, 1, n);
    std::vector<std::size_t> pred(n);
    for (std::size_t i = 0; i < n; ++i)
        pred[i] = static_cast<std::size_t>(std::max_element(model[i].begin(), model[i].end()) - model[i].begin());
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> start(0, n - block);
    std::vector<double> acc, f1, d_maj, d_per;
    for (int b = 0; b < resamples; ++b) {
        std::array<std::array<double, kClasses>, kClasses> conf{};
        double hit = 0, hit_maj = 0, hit_per = 0;
        for (std::size_t taken = 0; taken < n;) {
            const std::size_t s = start(rng);
            for (std::size_t i = s; i < s + block && taken < n; ++i, ++taken) {
                const auto t = static_cast<std::size_t>(truth[i]);
                conf[t][pred[i]] += 1;
                hit += pred[i] == t;
                hit_maj += majority[i] == truth[i];
                hit_per += persistence[i] == truth[i];
            }
        }
        double macro = 0;
        for (std::size_t c = 0; c < kClasses; ++c) {
            double predicted = 0, actual = 0;
            for (std::size_t k = 0; k < kClasses; ++k) predicted += conf[k][c], actual += conf[c][k];
            const double p = predicted ? conf[c][c] / predicted : 0, r = actual ? conf[c][c] / actual : 0;
            macro += p + r > 0 ? 2 * p * r / (p + r) / kClasses : 0;
        }
        const double dn = static_cast<double>(n);
        acc.push_back(hit / dn);
        f1.push_back(macro);
        d_maj.push_back((hit - hit_maj) / dn);
        d_per.push_back((hit - hit_per) / dn);
    }
    auto interval = [](std::vector<double>& v) {
        std::sort(v.begin(), v.end());
        const auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
        return Interval{at(0.025), at(0.975)};
    };
    return {interval(acc), interval(f1), interval(d_maj), interval(d_per)};
}

nlohmann::json BootstrapIntervals::to_json() const {
    auto pair = [](const Interval& i) { return nlohmann::json::array({i.low, i.high}); };
    return {{"accuracy", pair(accuracy)}, {"macro_f1", pair(macro_f1)}, {"accuracy_minus_majority", pair(minus_majority)},
            {"accuracy_minus_persistence", pair(minus_persistence)}, {"level", 0.95}, {"method", "moving-block bootstrap"}};
}

nlohmann::json ClassMetrics::to_json() const {
    nlohmann::json j{{"n", n}, {"accuracy", accuracy}, {"macro_f1", macro_f1},
                     {"balanced_accuracy", balanced_accuracy}, {"log_loss", log_loss},
                     {"sign_accuracy", sign_accuracy}, {"sign_n", sign_n}};
    for (std::size_t c = 0; c < kClasses; ++c) {
        const std::string name(models::to_string(static_cast<models::Trend>(c)));
        j["per_class"][name] = {{"precision", precision[c]}, {"recall", recall[c]}, {"f1", f1[c]}};
        j["confusion"][name] = {confusion[c][0], confusion[c][1], confusion[c][2]};
    }
    return j;
}

}  // namespace pricecast::training
