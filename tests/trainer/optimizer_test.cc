// The trainer's optimizer step (trainer/internal/optimizer.h) and learning-rate schedules
// (LearningRateFactor, trainer/internal/batches.h), against references written out here:
// transformers' two schedules, and AdamW stepped by hand in double precision with the published
// code's betas and epsilon.
#include "trainer/internal/optimizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "sweeps/sweep.h"
#include "trainer/internal/batches.h"

namespace istar::trainer::internal {
namespace {

using sweeps::LrSchedule;

TEST(LearningRateFactor, LinearWarmsUpThenDecaysToZeroAsTransformersDoes) {
  // get_linear_schedule_with_warmup with 2 warmup steps of 6: s / 2, then (6 - s) / 4.
  const std::vector<double> expected = {0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0};
  for (int64_t step = 0; step < 7; ++step) {
    EXPECT_DOUBLE_EQ(LearningRateFactor(LrSchedule::kLinear, step, 2, 6), expected[step]) << step;
    EXPECT_EQ(LearningRateFactor(LrSchedule::kLinear, step, 2, 6),
              LinearScheduleFactor(step, 2, 6));
  }
}

TEST(LearningRateFactor, ConstantWarmsUpThenHoldsTheRate) {
  // get_constant_schedule_with_warmup with 2 warmup steps: s / 2, then 1.
  const std::vector<double> expected = {0.0, 0.5, 1.0, 1.0, 1.0, 1.0};
  for (int64_t step = 0; step < 6; ++step) {
    EXPECT_DOUBLE_EQ(LearningRateFactor(LrSchedule::kConstant, step, 2, 6), expected[step]);
  }
  // No warmup (warmup_ratio 0, as the published code trains): the rate itself from the first step.
  for (int64_t step = 0; step < 6; ++step) {
    EXPECT_EQ(LearningRateFactor(LrSchedule::kConstant, step, 0, 6), 1.0) << step;
  }
}

// One dense layer under Hugging Face's names: "dense.weight" takes weight decay, "dense.bias"
// none (MakeOptimizer's two groups).
class Dense : public torch::nn::Module {
 public:
  Dense() {
    weight = register_parameter(
        "weight", at::tensor({0.5, -1.25, 2.0, 0.75, -0.3, 1.5}, at::kDouble).reshape({2, 3}));
    bias = register_parameter("bias", at::tensor({0.1, -0.2}, at::kDouble));
  }
  at::Tensor weight, bias;
};

class Layer : public torch::nn::Module {
 public:
  Layer() : dense(register_module("dense", std::make_shared<Dense>())) {}
  std::shared_ptr<Dense> dense;
};

std::vector<double> Values(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.detach().contiguous().reshape({-1}).to(at::kDouble);
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

// AdamW by its published definition (Loshchilov and Hutter; torch.optim.AdamW), one parameter,
// element by element in double: the decoupled decay p <- p (1 - lr wd), the moments m and v, their
// bias corrections, and p <- p - lr m^ / (sqrt(v^) + eps). betas and eps are the published I-STAR
// code's (0.9, 0.999, 1e-6), written here independently of the trainer's constants.
struct HandAdamW {
  static constexpr double kBeta1 = 0.9;
  static constexpr double kBeta2 = 0.999;
  static constexpr double kEps = 1e-6;

  HandAdamW(std::vector<double> initial, double weight_decay)
      : p(std::move(initial)), m(p.size(), 0.0), v(p.size(), 0.0), weight_decay(weight_decay) {}

  void Step(const std::vector<double>& g, double lr) {
    ++t;
    const double correction1 = 1.0 - std::pow(kBeta1, static_cast<double>(t));
    const double correction2 = 1.0 - std::pow(kBeta2, static_cast<double>(t));
    for (size_t i = 0; i < p.size(); ++i) {
      p[i] *= 1.0 - lr * weight_decay;
      m[i] = kBeta1 * m[i] + (1.0 - kBeta1) * g[i];
      v[i] = kBeta2 * v[i] + (1.0 - kBeta2) * g[i] * g[i];
      p[i] -= lr * (m[i] / correction1) / (std::sqrt(v[i] / correction2) + kEps);
    }
  }

  std::vector<double> p, m, v;
  double weight_decay;
  int64_t t = 0;
};

// The gradients of step `step`: fixed values, with global norms from 0.02 to about 45, so that
// their relative sizes (which clipping changes) matter to AdamW.
struct StepGradients {
  std::vector<double> weight, bias;
};

StepGradients GradientsOfStep(int64_t step) {
  static constexpr double kScales[] = {20.0, 0.01, 3.0, 0.2, 8.0, 0.05};
  const double scale = kScales[step % 6];
  StepGradients g;
  for (int i = 0; i < 6; ++i) g.weight.push_back(scale * std::sin(1.0 + i + 3.0 * step));
  for (int i = 0; i < 2; ++i) g.bias.push_back(scale * std::cos(0.5 + i - 2.0 * step));
  return g;
}

double GlobalNorm(const StepGradients& g) {
  double sum = 0.0;
  for (double x : g.weight) sum += x * x;
  for (double x : g.bias) sum += x * x;
  return std::sqrt(sum);
}

// `g` scaled to global norm at most `max_norm`, as torch::nn::utils::clip_grad_norm_ defines it:
// by max_norm / (norm + 1e-6) when that is below 1.
StepGradients Clipped(StepGradients g, double max_norm) {
  const double factor = max_norm / (GlobalNorm(g) + 1e-6);
  if (factor >= 1.0) return g;
  for (double& x : g.weight) x *= factor;
  for (double& x : g.bias) x *= factor;
  return g;
}

void ExpectClose(const std::vector<double>& got, const std::vector<double>& want, double tolerance,
                 const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tolerance * std::max(1.0, std::abs(want[i])))
        << what << "[" << i << "]";
  }
}

double LargestDifference(const std::vector<double>& a, const std::vector<double>& b) {
  double largest = 0.0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, std::abs(a[i] - b[i]));
  return largest;
}

constexpr double kLearningRate = 0.01;
constexpr double kWeightDecay = 0.1;
constexpr int64_t kSteps = 12;

// The trainer's setup and steps on `layer`: MakeOptimizer, then per step the gradients set by
// hand, the schedule's rate and TakeOptimizerStep. Checks after each step that the gradients the
// step used are `expected_gradients(step)` (clipped or not, in place).
template <typename ExpectedGradients>
void TrainAsTheTrainerDoes(Layer& layer, LrSchedule schedule, int64_t warmup_steps,
                           std::optional<double> max_grad_norm,
                           const ExpectedGradients& expected_gradients) {
  std::unique_ptr<torch::optim::AdamW> optimizer =
      MakeOptimizer(layer, kLearningRate, kWeightDecay);
  for (int64_t step = 0; step < kSteps; ++step) {
    const StepGradients g = GradientsOfStep(step);
    layer.dense->weight.mutable_grad() = at::tensor(g.weight, at::kDouble).reshape({2, 3});
    layer.dense->bias.mutable_grad() = at::tensor(g.bias, at::kDouble);
    const double lr = kLearningRate * LearningRateFactor(schedule, step, warmup_steps, kSteps);
    TakeOptimizerStep(*optimizer, layer.parameters(), lr, max_grad_norm);
    const StepGradients used = expected_gradients(step);
    ExpectClose(Values(layer.dense->weight.grad()), used.weight, 1e-12, "weight gradient");
    ExpectClose(Values(layer.dense->bias.grad()), used.bias, 1e-12, "bias gradient");
  }
}

class ConstantScheduleTest : public ::testing::TestWithParam<int64_t> {};

// The published protocol: a constant learning rate (after `warmup_steps`, 0 in the paper's code)
// and no clipping is AdamW itself, step for step, even with gradients of norm up to 45.
TEST_P(ConstantScheduleTest, WithoutClippingTheStepsAreAdamWByHand) {
  const int64_t warmup_steps = GetParam();
  Layer layer;
  HandAdamW weight(Values(layer.dense->weight), kWeightDecay);
  HandAdamW bias(Values(layer.dense->bias), 0.0);  // biases take no weight decay
  TrainAsTheTrainerDoes(layer, LrSchedule::kConstant, warmup_steps, std::nullopt,
                        [](int64_t step) { return GradientsOfStep(step); });
  for (int64_t step = 0; step < kSteps; ++step) {
    // The hand rate: s / W during warmup, then the grid's rate.
    const double lr =
        kLearningRate *
        (step < warmup_steps ? static_cast<double>(step) / static_cast<double>(warmup_steps) : 1.0);
    const StepGradients g = GradientsOfStep(step);
    weight.Step(g.weight, lr);
    bias.Step(g.bias, lr);
  }
  ExpectClose(Values(layer.dense->weight), weight.p, 1e-12, "weight");
  ExpectClose(Values(layer.dense->bias), bias.p, 1e-12, "bias");
  // The weights moved well beyond the tolerance: the comparison means something.
  EXPECT_GT(LargestDifference(weight.p, Values(Dense().weight)), 0.01);
}

INSTANTIATE_TEST_SUITE_P(WarmupSteps, ConstantScheduleTest, ::testing::Values(0, 3));

// With max_grad_norm a step's gradients are scaled to that global norm before AdamW sees them
// (the small ones left alone), which changes where AdamW goes.
TEST(TakeOptimizerStep, ClipsALargeGradientToMaxGradNormBeforeTheStep) {
  constexpr double kMaxNorm = 0.5;
  ASSERT_GT(GlobalNorm(GradientsOfStep(0)), 10.0);      // clipped
  ASSERT_LT(GlobalNorm(GradientsOfStep(1)), kMaxNorm);  // not clipped
  Layer layer;
  HandAdamW weight(Values(layer.dense->weight), kWeightDecay);
  HandAdamW bias(Values(layer.dense->bias), 0.0);
  HandAdamW unclipped_weight(Values(layer.dense->weight), kWeightDecay);
  TrainAsTheTrainerDoes(layer, LrSchedule::kConstant, 0, kMaxNorm,
                        [&](int64_t step) { return Clipped(GradientsOfStep(step), kMaxNorm); });
  for (int64_t step = 0; step < kSteps; ++step) {
    const StepGradients g = Clipped(GradientsOfStep(step), kMaxNorm);
    if (GlobalNorm(GradientsOfStep(step)) > kMaxNorm) {
      EXPECT_NEAR(GlobalNorm(g), kMaxNorm, 1e-5);
    }
    weight.Step(g.weight, kLearningRate);
    bias.Step(g.bias, kLearningRate);
    unclipped_weight.Step(GradientsOfStep(step).weight, kLearningRate);
  }
  ExpectClose(Values(layer.dense->weight), weight.p, 1e-12, "weight");
  ExpectClose(Values(layer.dense->bias), bias.p, 1e-12, "bias");
  EXPECT_GT(LargestDifference(weight.p, unclipped_weight.p), 1e-3)
      << "clipping should have changed the trajectory, or the test shows nothing";
}

// The default, as before max_grad_norm was a setting: the linear schedule and clipping at 1.0.
TEST(TakeOptimizerStep, DefaultsAreTheLinearScheduleAndClippingAtOne) {
  const sweeps::TrainingSettings defaults;
  ASSERT_EQ(defaults.lr_schedule, LrSchedule::kLinear);
  ASSERT_EQ(defaults.max_grad_norm, 1.0);
  constexpr int64_t kWarmup = 2;
  Layer layer;
  HandAdamW weight(Values(layer.dense->weight), kWeightDecay);
  HandAdamW bias(Values(layer.dense->bias), 0.0);
  TrainAsTheTrainerDoes(layer, defaults.lr_schedule, kWarmup, defaults.max_grad_norm,
                        [](int64_t step) { return Clipped(GradientsOfStep(step), 1.0); });
  for (int64_t step = 0; step < kSteps; ++step) {
    // transformers' linear schedule: s / W, then (T - s) / (T - W).
    const double factor =
        step < kWarmup ? static_cast<double>(step) / kWarmup
                       : static_cast<double>(kSteps - step) / static_cast<double>(kSteps - kWarmup);
    const StepGradients g = Clipped(GradientsOfStep(step), 1.0);
    weight.Step(g.weight, kLearningRate * factor);
    bias.Step(g.bias, kLearningRate * factor);
  }
  ExpectClose(Values(layer.dense->weight), weight.p, 1e-12, "weight");
  ExpectClose(Values(layer.dense->bias), bias.p, 1e-12, "bias");
}

}  // namespace
}  // namespace istar::trainer::internal
