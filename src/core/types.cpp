#include "core/types.hpp"

#include <algorithm>
#include <cmath>

namespace pricecast {

std::string_view to_string(BarProblem p) {
    switch (p) {
        case BarProblem::none: return "ok";
        case BarProblem::non_finite: return "non-finite value";
        case BarProblem::non_positive_price: return "price <= 0";
        case BarProblem::high_below_open_close: return "high < max(open, close)";
        case BarProblem::low_above_open_close: return "low > min(open, close)";
        case BarProblem::negative_volume: return "volume < 0";
    }
    return "unknown";
}

BarProblem check_bar(double open, double high, double low, double close, double volume) noexcept {
    if (!std::isfinite(open) || !std::isfinite(high) || !std::isfinite(low) || !std::isfinite(close) ||
        !std::isfinite(volume))
        return BarProblem::non_finite;
    if (open <= 0 || high <= 0 || low <= 0 || close <= 0) return BarProblem::non_positive_price;
    if (high < std::max(open, close)) return BarProblem::high_below_open_close;
    if (low > std::min(open, close)) return BarProblem::low_above_open_close;
    if (volume < 0) return BarProblem::negative_volume;
    return BarProblem::none;
}

}  // namespace pricecast
