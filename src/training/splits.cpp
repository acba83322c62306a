#include "training/splits.hpp"

#include <algorithm>
#include <stdexcept>

namespace pricecast::training {

std::vector<Split> walk_forward(std::span<const Timestamp> times, const WalkForwardConfig& cfg) {
    if (cfg.folds < 1) throw std::invalid_argument("walk-forward needs at least 1 fold");
    std::vector<Timestamp> line(times.begin(), times.end());
    std::sort(line.begin(), line.end());
    line.erase(std::unique(line.begin(), line.end()), line.end());
    const auto blocks = static_cast<std::size_t>(cfg.folds) + 1;
    if (line.size() < blocks * 10) throw std::invalid_argument("walk-forward: too few distinct sample times for the folds");
    auto block_start = [&](std::size_t b) { return b >= blocks ? line.back() + 1 : line[b * line.size() / blocks]; };

    std::vector<Split> out;
    for (std::size_t k = 0; k < static_cast<std::size_t>(cfg.folds); ++k) {
        Split s;
        s.test_from = block_start(k + 1);
        s.test_to = block_start(k + 2);
        const std::size_t first_block =
            cfg.expanding ? 0 : (k + 1 > static_cast<std::size_t>(cfg.train_blocks) ? k + 1 - static_cast<std::size_t>(cfg.train_blocks) : 0);
        const Timestamp train_from = block_start(first_block);
        const Timestamp train_to = s.test_from - cfg.purge;  // exclusive
        // The validation tail: the last share of the training time span, purged from the part before it.
        const Timestamp valid_from = train_to - static_cast<Timestamp>(static_cast<double>(train_to - train_from) * cfg.valid_fraction);
        for (std::size_t i = 0; i < times.size(); ++i) {
            const Timestamp t = times[i];
            if (t >= s.test_from && t < s.test_to) s.test.push_back(i);
            else if (t >= valid_from && t < train_to && cfg.valid_fraction > 0) s.valid.push_back(i);
            else if (t >= train_from && t < valid_from - cfg.purge) s.train.push_back(i);
        }
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace pricecast::training
