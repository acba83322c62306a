#include "training/metrics.hpp"

#include <algorithm>
#include <cmath>
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
