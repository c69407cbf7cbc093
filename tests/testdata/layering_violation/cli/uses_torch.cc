// Fixture for layering_violation_test: a torch-free module that includes LibTorch.
#include <ATen/ATen.h>
