// Each family file registers its indicators; registry.cpp calls them in order.
#pragma once

#include <vector>

#include "indicators/indicator.hpp"

namespace pricecast::indicators {

void register_overlap(std::vector<IndicatorSpec>& out);     // overlap.cpp: SMA, EMA, ..., BBANDS, SAR
void register_momentum(std::vector<IndicatorSpec>& out);    // momentum.cpp: MACD, RSI, STOCH, ...
void register_directional(std::vector<IndicatorSpec>& out); // directional.cpp: ADX, DI, DM, AROON
void register_volatility(std::vector<IndicatorSpec>& out);  // volatility.cpp: ATR, NATR, TRANGE
void register_volume(std::vector<IndicatorSpec>& out);      // volume.cpp: AD, ADOSC, OBV, MFI
void register_price(std::vector<IndicatorSpec>& out);       // price.cpp: AVGPRICE, MEDPRICE, ...
void register_statistic(std::vector<IndicatorSpec>& out);   // statistic.cpp: STDDEV, VAR, LINEARREG, ...
void register_patterns(std::vector<IndicatorSpec>& out);    // patterns.cpp: CDL*

}  // namespace pricecast::indicators
