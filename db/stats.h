// File: db/stats.h
// -----------------------------------------------------------------------------
// The statistics behind `istar compare` (docs/database.md, "The comparison table"): summaries
// of a sample, Student's t distribution, and the Welch and paired intervals on a difference of
// two means.
// Written from the published formulas (the continued fraction of the regularized incomplete beta
// function; the Welch-Satterthwaite equation), with no statistics library: the project has none.
//
// Example:
//
//   const db::SampleSummary istar = db::Summarize(istar_accuracies);
//   const db::SampleSummary baseline = db::Summarize(baseline_accuracies);
//   if (auto ci = db::WelchInterval(istar, baseline, 0.95)) {
//     std::cout << ci->difference << " [" << ci->low << ", " << ci->high << "]\n";
//   }
//
// Thread safety: pure functions.
#ifndef ISTAR_DB_STATS_H_
#define ISTAR_DB_STATS_H_

#include <cstdint>
#include <optional>
#include <span>

namespace istar::db {

// I_x(a, b) = B(x; a, b) / B(a, b) for a > 0, b > 0, 0 <= x <= 1, accurate to about 1e-14.
// Returns NaN outside that domain.
double RegularizedIncompleteBeta(double a, double b, double x);

// P(T <= t) for T with Student's t distribution on df > 0 degrees of freedom (df need not be an
// integer; df = +infinity is the standard normal). NaN for df <= 0 or a NaN argument.
double StudentTCdf(double t, double df);

// The t with StudentTCdf(t, df) = p, for 0 < p < 1 and df > 0 (e.g. p = 0.975 and df = 10 give
// 2.228...). Accurate to about 1e-12 relative. NaN outside the domain.
double StudentTQuantile(double p, double df);

// Size, mean and sample standard deviation (divisor n - 1) of a sample.
struct SampleSummary {
  int64_t n = 0;
  double mean = 0.0;    // NaN when n == 0
  double stddev = 0.0;  // NaN when n < 2
};
SampleSummary Summarize(std::span<const double> values);

// The difference of means a - b with its two-sided `confidence` interval by Welch's t-test:
//   se = sqrt(sa^2/na + sb^2/nb),
//   df = se^4 / ((sa^2/na)^2/(na - 1) + (sb^2/nb)^2/(nb - 1))   (Welch-Satterthwaite),
//   interval = (a - b) +- t_{(1 + confidence)/2, df} * se.
// When both samples have zero variance the interval is the point a - b, with df = na + nb - 2.
struct WelchResult {
  double difference = 0.0;
  double standard_error = 0.0;
  double df = 0.0;
  double low = 0.0;
  double high = 0.0;
};
// nullopt when either sample has fewer than 2 values (no variance to estimate) or confidence is
// not in (0, 1).
std::optional<WelchResult> WelchInterval(const SampleSummary& a, const SampleSummary& b,
                                         double confidence);

// The mean difference of paired values a[i] - b[i] (the same seed under two settings) with its
// two-sided `confidence` interval by the paired t-test on the n differences d:
//   interval = mean(d) +- t_{(1 + confidence)/2, n - 1} * sd(d) / sqrt(n).
// Pairing removes the seed's own effect (its data order, its initial head) from the comparison,
// which Welch's interval keeps as noise.
struct PairedResult {
  int64_t n = 0;  // pairs
  double difference = 0.0;
  double standard_error = 0.0;
  double df = 0.0;  // n - 1
  double low = 0.0;
  double high = 0.0;
};
// nullopt when the spans differ in size, have fewer than 2 pairs, or confidence is not in (0, 1).
std::optional<PairedResult> PairedInterval(std::span<const double> a, std::span<const double> b,
                                           double confidence);

}  // namespace istar::db

#endif  // ISTAR_DB_STATS_H_
