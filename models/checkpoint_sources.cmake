set(ISTAR_CHECKPOINT_SRCS checkpoint.cc checkpoint.h)
