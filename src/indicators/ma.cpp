#include "indicators/ma.hpp"

#include <string>

namespace pricecast::indicators {

MovingAverage::MovingAverage(MaType type, int period) {
    // TA-Lib's MA with period 1 is the input itself, whatever the type.
    if (period == 1) type = MaType::sma;
    switch (type) {
        case MaType::sma: kernel_ = SmaState(period); break;
        case MaType::ema: kernel_ = EmaState(period); break;
        case MaType::wma: kernel_ = WmaState(period); break;
        case MaType::dema: kernel_ = MultiEmaState<2>(period); break;
        case MaType::tema: kernel_ = MultiEmaState<3>(period); break;
        case MaType::trima: kernel_ = TrimaState(period); break;
        case MaType::kama: kernel_ = KamaState(period); break;
        // TA-Lib's MA ignores the period for MAMA and uses MAMA's default limits.
        case MaType::mama: kernel_ = MamaState(0.5, 0.05); break;
        case MaType::t3: kernel_ = T3State(period, 0.7); break;
    }
    value_ = std::visit([](const auto& k) { return k.value(); }, kernel_);
    kind_ = kernel_.index();
}

MaType ma_type(double param) {
    int t = static_cast<int>(param);
    if (t < 0 || t > 8) throw IndicatorError("matype must be in [0, 8], got " + std::to_string(t));
    return static_cast<MaType>(t);
}

TrimaState::TrimaState(int period) : period_(period), half_(period >> 1), win_(static_cast<std::size_t>(period)) {
    const double f = period % 2 ? (half_ + 1) * (half_ + 1) : half_ * (half_ + 1);
    factor_ = 1.0 / f;
}

// TA-Lib's first window: the falling half summed from the middle back to the
// oldest input, then the rising half forward to the newest.
void TrimaState::init() noexcept {
    const std::size_t n = win_.size(), middle = static_cast<std::size_t>(period_ % 2 ? half_ : half_ - 1);
    for (std::size_t i = middle + 1; i-- > 0;) {
        sub_ += win_.ago(n - 1 - i);
        numerator_ += sub_;
    }
    for (std::size_t i = middle + 1; i < n; ++i) {
        add_ += win_.ago(n - 1 - i);
        numerator_ += add_;
    }
}

void TrimaState::slide(double trailing, double middle, double x) noexcept {
    numerator_ -= sub_;
    sub_ -= trailing;
    sub_ += middle;
    if (period_ % 2) {
        numerator_ += add_;
        add_ -= middle;
    } else {
        add_ -= middle;
        numerator_ += add_;
    }
    add_ += x;
    numerator_ += x;
}

// The window (period + 1 inputs) tells where the warm-up is, so the snapshot
// needs no separate counter.
bool KamaState::update(double x) noexcept {
    const bool first = win_.size() == 0, was_full = win_.full();
    if (!first && !was_full) sum_roc_ += std::abs(win_.ago(0) - x);
    win_.push(x);
    if (!win_.full()) return false;
    const double oldest = win_.oldest();  // the input `period` steps ago
    if (!was_full) {
        kama_ = win_.ago(1);
    } else {
        sum_roc_ -= std::abs(trailing_ - oldest);
        sum_roc_ += std::abs(x - win_.ago(1));
    }
    trailing_ = oldest;
    const double roc = x - oldest;
    double er = (sum_roc_ <= roc || is_zero(sum_roc_)) ? 1.0 : std::abs(roc / sum_roc_);
    constexpr double kFast = 2.0 / (2.0 + 1.0), kSlow = 2.0 / (30.0 + 1.0);
    er = er * (kFast - kSlow) + kSlow;
    er *= er;
    kama_ = (x - kama_) * er + kama_;
    return true;
}

T3State::T3State(int period, double vfactor) {
    for (auto& e : ema_) e = BasicEmaState<true>(period, 2.0 / (period + 1.0));
    const double a = vfactor, a2 = a * a;
    c1_ = -a2 * a;
    c2_ = 3.0 * (a2 - c1_);
    c3_ = -6.0 * a2 - 3.0 * (a - c1_);
    c4_ = 1.0 + 3.0 * a - c1_ + 3.0 * a2;
}

// ---- MAMA. Expressions keep TA-Lib's operation order so results are bitwise
// equal, not merely close.

namespace {
const double kRad2Deg = 180.0 / (4.0 * std::atan(1));
}  // namespace

void MamaState::Hilbert::transform(double input, bool even, int idx, double adjusted_period) noexcept {
    constexpr double a = 0.0962, b = 0.5769;
    auto& ring = even ? this->even : odd;
    double& prev = even ? prev_even : prev_odd;
    double& prev_input = even ? prev_input_even : prev_input_odd;
    const double t = a * input;
    const auto k = static_cast<std::size_t>(idx);
    // Accumulated in a local: every store into the rings or prev could be
    // `value` as far as the compiler knows, and would force it to memory.
    double v = -ring[k];
    ring[k] = t;
    v += t;
    v -= prev;
    prev = b * prev_input;
    v += prev;
    prev_input = input;
    value = v * adjusted_period;
}

// TA-Lib's price smoother: a 4-bar WMA kept as running sums (DO_PRICE_WMA).
double MamaState::smooth(double x) noexcept {
    double sub = wma_sub_ + x;  // locals, as in Hilbert::transform
    sub -= trailing_;
    const double sum = wma_sum_ + x * 4.0;
    trailing_ = recent_[(n_ + 1) & 3];  // the input 3 steps ago
    wma_sub_ = sub;
    wma_sum_ = sum - sub;
    return sum * 0.1;
}

bool MamaState::update(double x) noexcept {
    recent_[n_ & 3] = x;
    if (n_ < 3) [[unlikely]] {  // the smoother's first three inputs, weights 1, 2, 3
        wma_sub_ += x;
        wma_sum_ += x * static_cast<double>(n_ + 1);
    } else if (n_ < 12) [[unlikely]] {
        smooth(x);
    } else {
        step_cycle(x);
    }
    ++n_;
    return n_ > static_cast<std::size_t>(lookback());
}

// The Hilbert transforms of one bar: quadrature and in-phase components (Q2,
// I2, smoothed) and the phase in degrees. I1 is the detrender 3 bars of the
// same parity ago.
MamaState::Cycle MamaState::transforms(double smoothed, double adjusted) noexcept {
    const bool even = n_ % 2 == 0;
    const double i1 = even ? i1_even_prev3_ : i1_odd_prev3_;
    detrender_.transform(smoothed, even, hilbert_idx_, adjusted);
    q1_.transform(detrender_.value, even, hilbert_idx_, adjusted);
    ji_.transform(i1, even, hilbert_idx_, adjusted);
    jq_.transform(q1_.value, even, hilbert_idx_, adjusted);
    if (even && ++hilbert_idx_ == 3) hilbert_idx_ = 0;
    Cycle c;
    c.q2 = (0.2 * (q1_.value + ji_.value)) + (0.8 * prev_q2_);
    c.i2 = (0.2 * (i1 - jq_.value)) + (0.8 * prev_i2_);
    double& other_prev3 = even ? i1_odd_prev3_ : i1_even_prev3_;
    double& other_prev2 = even ? i1_odd_prev2_ : i1_even_prev2_;
    other_prev3 = other_prev2;
    other_prev2 = detrender_.value;
    c.phase = i1 != 0.0 ? std::atan(q1_.value / i1) * kRad2Deg : 0.0;
    return c;
}

void MamaState::step_cycle(double x) noexcept {
    const double adjusted = (0.075 * period_) + 0.54;
    const Cycle c = transforms(smooth(x), adjusted);
    double delta = prev_phase_ - c.phase;
    prev_phase_ = c.phase;
    if (delta < 1.0) delta = 1.0;
    double alpha = fast_;
    if (delta > 1.0) {
        alpha = fast_ / delta;
        if (alpha < slow_) alpha = slow_;
    }
    mama_ = (alpha * x) + ((1 - alpha) * mama_);
    alpha *= 0.5;
    fama_ = (alpha * mama_) + ((1 - alpha) * fama_);
    adapt_period(c);
}

// The dominant cycle period for the next bar, limited to 0.67x..1.5x of the
// last one and to 6..50 bars, then smoothed.
void MamaState::adapt_period(const Cycle& c) noexcept {
    re_ = (0.2 * ((c.i2 * prev_i2_) + (c.q2 * prev_q2_))) + (0.8 * re_);
    im_ = (0.2 * ((c.i2 * prev_q2_) - (c.q2 * prev_i2_))) + (0.8 * im_);
    prev_q2_ = c.q2;
    prev_i2_ = c.i2;
    const double prev_period = period_;
    double period = period_;  // a local, for the same reason as in Hilbert::transform
    if (im_ != 0.0 && re_ != 0.0) period = 360.0 / (std::atan(im_ / re_) * kRad2Deg);
    if (period > 1.5 * prev_period) period = 1.5 * prev_period;
    if (period < 0.67 * prev_period) period = 0.67 * prev_period;
    if (period < 6) period = 6;
    else if (period > 50) period = 50;
    period_ = (0.2 * period) + (0.8 * prev_period);
}

}  // namespace pricecast::indicators
