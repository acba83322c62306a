#include "indicators/families.hpp"
#include "indicators/impl.hpp"

namespace pricecast::indicators {

void register_patterns(std::vector<IndicatorSpec>& /*out*/) {}

}  // namespace pricecast::indicators
