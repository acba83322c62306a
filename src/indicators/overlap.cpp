#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {

void register_overlap(std::vector<IndicatorSpec>& /*out*/) {}

}  // namespace pricecast::indicators
