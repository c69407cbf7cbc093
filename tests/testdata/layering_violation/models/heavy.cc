// Fixture for layering_violation_test: a banned, slow-to-compile LibTorch header.
#include <torch/torch.h>
