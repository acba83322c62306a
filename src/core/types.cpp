#include "core/types.hpp"

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

}  // namespace pricecast
