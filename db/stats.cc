#include "db/stats.h"

#include <cmath>
#include <limits>
#include <vector>

namespace istar::db {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEpsilon = 1e-16;
constexpr double kTiny = 1e-300;
// The continued fraction needs about sqrt(max(a, b)) terms; beyond df = 1e9 the t distribution
// differs from the normal by less than 1e-9 and the normal is used instead.
constexpr int kMaxTerms = 1'000'000;
constexpr double kNormalDf = 1e9;

// log B(a, b).
double LogBeta(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

// Note [Incomplete beta by continued fraction]
// For x < (a + 1) / (a + b + 2) the continued fraction
//   I_x(a, b) = x^a y^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...))),   y = 1 - x,
//   d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
//   d_{2m}   = m (b - m) x / ((a + 2m - 1)(a + 2m)),
// converges quickly (Abramowitz & Stegun 26.5.8); above that point the symmetry
// I_x(a, b) = 1 - I_y(b, a) brings x back below it. The fraction is evaluated forwards by the
// modified Lentz method. x and y are both passed so that neither is computed as 1 - the other
// (t near 0 makes x = df / (df + t^2) round to 1, but y = t^2 / (df + t^2) stays exact).
double IncompleteBetaFraction(double a, double b, double x, double y) {
  const double front = std::exp(a * std::log(x) + b * std::log(y) - LogBeta(a, b)) / a;
  double f = 1.0;  // b0 = 1; every partial denominator b_j is 1 and the numerators are d_j
  double c = 1.0;
  double d = 0.0;
  for (int j = 1; j <= kMaxTerms; ++j) {
    const int m = j / 2;
    const double numerator = j % 2 == 1
                                 ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                                 : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1.0 + numerator * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + numerator / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = c * d;
    f *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return front / f;
}

// I_x(a, b) with y = 1 - x given separately. See Note [Incomplete beta by continued fraction].
double IncompleteBeta(double a, double b, double x, double y) {
  if (x <= 0.0) return 0.0;
  if (y <= 0.0) return 1.0;
  if (x < (a + 1.0) / (a + b + 2.0)) return IncompleteBetaFraction(a, b, x, y);
  return 1.0 - IncompleteBetaFraction(b, a, y, x);
}

// P(T > |t|): half of I_{df / (df + t^2)}(df / 2, 1 / 2).
double UpperTail(double t, double df) {
  if (df >= kNormalDf) return 0.5 * std::erfc(std::fabs(t) / std::sqrt(2.0));
  const double t2 = t * t;
  return 0.5 * IncompleteBeta(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2));
}

}  // namespace

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0)) return kNaN;
  return IncompleteBeta(a, b, x, 1.0 - x);
}

double StudentTCdf(double t, double df) {
  if (!(df > 0.0) || std::isnan(t)) return kNaN;
  const double tail = UpperTail(t, df);
  return t >= 0.0 ? 1.0 - tail : tail;
}

double StudentTQuantile(double p, double df) {
  if (!(p > 0.0) || !(p < 1.0) || !(df > 0.0)) return kNaN;
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -StudentTQuantile(1.0 - p, df);
  // Solve UpperTail(t) = 1 - p for t > 0 by bisection: the tail falls monotonically from 1/2,
  // so doubling `high` brackets the root, and halving the bracket 60 more times or so reaches
  // the spacing of doubles. Slow next to Newton's method, but it cannot diverge, and a table
  // needs a few dozen quantiles.
  const double target = 1.0 - p;
  double low = 0.0;
  double high = 1.0;
  while (UpperTail(high, df) > target && high < 1e300) high *= 2.0;
  for (int i = 0; i < 2000 && high - low > 4 * std::numeric_limits<double>::epsilon() * high; ++i) {
    const double middle = low + (high - low) / 2.0;
    (UpperTail(middle, df) > target ? low : high) = middle;
  }
  return low + (high - low) / 2.0;
}

SampleSummary Summarize(std::span<const double> values) {
  SampleSummary summary{.n = static_cast<int64_t>(values.size()), .mean = kNaN, .stddev = kNaN};
  if (values.empty()) return summary;
  double sum = 0.0;
  for (const double v : values) sum += v;
  summary.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return summary;
  // Two passes: the sum of squared deviations from the mean, not E[x^2] - mean^2, which cancels
  // badly for accuracies that agree to several digits.
  double squares = 0.0;
  for (const double v : values) squares += (v - summary.mean) * (v - summary.mean);
  summary.stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return summary;
}

std::optional<WelchResult> WelchInterval(const SampleSummary& a, const SampleSummary& b,
                                         double confidence) {
  if (a.n < 2 || b.n < 2 || !(confidence > 0.0) || !(confidence < 1.0)) return std::nullopt;
  const double va = a.stddev * a.stddev / static_cast<double>(a.n);
  const double vb = b.stddev * b.stddev / static_cast<double>(b.n);
  WelchResult result;
  result.difference = a.mean - b.mean;
  result.standard_error = std::sqrt(va + vb);
  if (result.standard_error == 0.0) {
    result.df = static_cast<double>(a.n + b.n - 2);
    result.low = result.high = result.difference;
    return result;
  }
  result.df = (va + vb) * (va + vb) /
              (va * va / static_cast<double>(a.n - 1) + vb * vb / static_cast<double>(b.n - 1));
  const double t = StudentTQuantile((1.0 + confidence) / 2.0, result.df);
  result.low = result.difference - t * result.standard_error;
  result.high = result.difference + t * result.standard_error;
  return result;
}

std::optional<PairedResult> PairedInterval(std::span<const double> a, std::span<const double> b,
                                           double confidence) {
  if (a.size() != b.size() || a.size() < 2 || !(confidence > 0.0) || !(confidence < 1.0)) {
    return std::nullopt;
  }
  std::vector<double> differences(a.size());
  for (size_t i = 0; i < a.size(); ++i) differences[i] = a[i] - b[i];
  const SampleSummary d = Summarize(differences);
  PairedResult result{.n = d.n, .difference = d.mean, .df = static_cast<double>(d.n - 1)};
  result.standard_error = d.stddev / std::sqrt(static_cast<double>(d.n));
  const double t = StudentTQuantile((1.0 + confidence) / 2.0, result.df);
  result.low = result.difference - t * result.standard_error;
  result.high = result.difference + t * result.standard_error;
  return result;
}

}  // namespace istar::db
