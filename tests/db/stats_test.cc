// The statistics of the comparison table: Student's t quantiles against printed tables, closed
// forms and an independent integration of the density; the incomplete beta function; Welch.
#include "db/stats.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "gtest/gtest.h"

namespace istar::db {
namespace {

// Student's t density, normalised with std::tgamma: written here from the textbook formula,
// sharing no code with db/stats.cc (which goes through the incomplete beta function).
double TDensity(double t, double df) {
  const double c =
      std::tgamma((df + 1) / 2) / (std::sqrt(df * std::numbers::pi) * std::tgamma(df / 2));
  return c * std::pow(1 + t * t / df, -(df + 1) / 2);
}

// The integral of the density over [0, x] by composite Simpson's rule on n intervals.
double IntegrateDensity(double x, double df, int n = 200'000) {
  const double h = x / n;
  double sum = TDensity(0, df) + TDensity(x, df);
  for (int i = 1; i < n; ++i) sum += (i % 2 == 1 ? 4 : 2) * TDensity(i * h, df);
  return sum * h / 3;
}

TEST(StudentTQuantile, MatchesThePrintedTableAtTheTwoSided95PercentLevel) {
  // t_{0.975, df} as printed (3 decimals) in every statistics textbook's t table.
  const struct {
    double df;
    double printed;
  } kTable[] = {{1, 12.706}, {2, 4.303}, {5, 2.571}, {10, 2.228}, {30, 2.042}, {1e6, 1.960}};
  for (const auto& row : kTable) {
    EXPECT_NEAR(StudentTQuantile(0.975, row.df), row.printed, 5e-4) << "df = " << row.df;
  }
}

TEST(StudentTQuantile, AgreesWithTheClosedFormsForOneAndTwoDegreesOfFreedom) {
  // df = 1 is the Cauchy distribution: t_p = tan(pi (p - 1/2)).
  // df = 2: t_p = (2p - 1) / sqrt(2 p (1 - p)).
  for (const double p : {0.6, 0.9, 0.975, 0.995, 0.9995}) {
    EXPECT_NEAR(StudentTQuantile(p, 1), std::tan(std::numbers::pi * (p - 0.5)),
                1e-10 * StudentTQuantile(p, 1))
        << p;
    EXPECT_NEAR(StudentTQuantile(p, 2), (2 * p - 1) / std::sqrt(2 * p * (1 - p)), 1e-10) << p;
  }
}

TEST(StudentTQuantile, MatchesHighPrecisionValues) {
  // From mpmath 1.3.0 at 30 digits (quadrature of the density, then a root finder).
  EXPECT_NEAR(StudentTQuantile(0.975, 5), 2.57058183563631551, 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.975, 10), 2.22813885198627475, 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.975, 30), 2.04227245630123831, 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.975, 7.5), 2.33303962686497461, 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.9, 4), 1.53320627405894391, 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.995, 3), 5.84090930973335726, 1e-9);
  EXPECT_NEAR(StudentTQuantile(0.975, 1e6), 1.95996635681410704, 1e-8);
}

TEST(StudentTQuantile, ANonIntegerDfMatchesAnIndependentIntegrationOfTheDensity) {
  for (const double df : {7.5, 3.7230769230769231, 2.5}) {
    const double q = StudentTQuantile(0.975, df);
    EXPECT_NEAR(IntegrateDensity(q, df), 0.475, 1e-10) << "df = " << df;
  }
}

TEST(StudentTQuantile, IsSymmetricAndInvertsTheCdf) {
  for (const double df : {1.0, 3.3, 12.0, 250.0}) {
    for (const double p : {0.01, 0.3, 0.5, 0.8, 0.999}) {
      const double t = StudentTQuantile(p, df);
      EXPECT_NEAR(StudentTCdf(t, df), p, 1e-12) << p << " " << df;
      EXPECT_NEAR(StudentTQuantile(1 - p, df), -t, 1e-9 * std::max(1.0, std::fabs(t)));
    }
  }
  EXPECT_EQ(StudentTQuantile(0.5, 4), 0.0);
  EXPECT_TRUE(std::isnan(StudentTQuantile(1.0, 4)));
  EXPECT_TRUE(std::isnan(StudentTQuantile(0.9, 0)));
  EXPECT_NEAR(StudentTCdf(1.959963984540054, INFINITY), 0.975, 1e-12);
}

TEST(RegularizedIncompleteBeta, MatchesItsClosedForms) {
  for (const double x : {0.0, 0.1, 0.5, 0.77, 1.0}) {
    EXPECT_NEAR(RegularizedIncompleteBeta(1, 1, x), x, 1e-14);
    EXPECT_NEAR(RegularizedIncompleteBeta(3, 1, x), x * x * x, 1e-14);
    EXPECT_NEAR(RegularizedIncompleteBeta(1, 4, x), 1 - std::pow(1 - x, 4), 1e-14);
    EXPECT_NEAR(RegularizedIncompleteBeta(2.5, 0.7, x),
                1 - RegularizedIncompleteBeta(0.7, 2.5, 1 - x), 1e-14);
  }
  EXPECT_NEAR(RegularizedIncompleteBeta(6.5, 6.5, 0.5), 0.5, 1e-14);
  // I_x(1/2, 1/2) = (2 / pi) asin(sqrt(x)).
  EXPECT_NEAR(RegularizedIncompleteBeta(0.5, 0.5, 0.3),
              2 / std::numbers::pi * std::asin(std::sqrt(0.3)), 1e-13);
  EXPECT_TRUE(std::isnan(RegularizedIncompleteBeta(1, 1, 1.5)));
}

TEST(Summarize, UsesTheSampleStandardDeviation) {
  const std::vector<double> values = {1, 2, 3, 4};
  const SampleSummary summary = Summarize(values);
  EXPECT_EQ(summary.n, 4);
  EXPECT_DOUBLE_EQ(summary.mean, 2.5);
  EXPECT_NEAR(summary.stddev, std::sqrt(5.0 / 3.0), 1e-15);  // squares 5 over n - 1 = 3
  const std::vector<double> one = {7};
  EXPECT_TRUE(std::isnan(Summarize(one).stddev));
}

TEST(WelchInterval, MatchesAHandComputation) {
  // a = {1, 2, 3, 4}: mean 2.5, s^2 = 5/3; b = {2, 4, 6}: mean 4, s^2 = 4.
  // sa^2/na = 5/12, sb^2/nb = 4/3, se^2 = 21/12 = 1.75.
  // df = 1.75^2 / ((5/12)^2 / 3 + (4/3)^2 / 2) = (49/16) / (409/432) = 21168/6544 = 3.2347188...
  // t_{0.975, df} = 3.05571271042589818 (mpmath), interval = -1.5 +- t sqrt(1.75).
  const std::vector<double> a = {1, 2, 3, 4};
  const std::vector<double> b = {2, 4, 6};
  const std::optional<WelchResult> welch = WelchInterval(Summarize(a), Summarize(b), 0.95);
  ASSERT_TRUE(welch.has_value());
  EXPECT_NEAR(welch->difference, -1.5, 1e-12);
  EXPECT_NEAR(welch->standard_error, std::sqrt(1.75), 1e-12);
  EXPECT_NEAR(welch->df, 21168.0 / 6544.0, 1e-12);
  EXPECT_NEAR(welch->low, -5.54232795492302688, 1e-9);
  EXPECT_NEAR(welch->high, 2.54232795492302688, 1e-9);
}

TEST(WelchInterval, NeedsTwoValuesOnEachSide) {
  const std::vector<double> one = {1};
  const std::vector<double> two = {1, 2};
  EXPECT_FALSE(WelchInterval(Summarize(one), Summarize(two), 0.95).has_value());
  EXPECT_FALSE(WelchInterval(Summarize(two), Summarize(two), 1.0).has_value());
}

TEST(WelchInterval, ZeroVarianceOnBothSidesGivesAPoint) {
  const std::vector<double> a = {3, 3};
  const std::vector<double> b = {1, 1, 1};
  const std::optional<WelchResult> welch = WelchInterval(Summarize(a), Summarize(b), 0.95);
  ASSERT_TRUE(welch.has_value());
  EXPECT_EQ(welch->low, 2.0);
  EXPECT_EQ(welch->high, 2.0);
  EXPECT_EQ(welch->df, 3.0);
}

}  // namespace
}  // namespace istar::db
