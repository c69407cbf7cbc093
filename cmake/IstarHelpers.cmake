# Helpers that give every module the same shape (docs/architecture.md, "Conventions").
#
#   istar_library(NAME sweeps
#                 HDRS sweep.h            # public headers, relative to the module folder
#                 SRCS sweep.cc ...       # sources (and internal/ headers)
#                 DEPS istar::base        # PUBLIC: types appear in the public headers
#                 PRIVATE_DEPS yaml-cpp)  # PRIVATE: used only inside the .cc files
# creates target istar_<NAME> with alias istar::<NAME>. Includes are spelled from the repository
# root ("sweeps/sweep.h"), so the root is the one include directory every module exports.
#
#   istar_test(NAME regularizers SRCS ... DEPS ...)
# creates the gtest binary istar_<NAME>_test and registers each TEST with ctest.

function(istar_library)
  cmake_parse_arguments(ARG "" "NAME" "HDRS;SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target istar_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(istar::${ARG_NAME} ALIAS ${target})
endfunction()

function(istar_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(target istar_${ARG_NAME}_test)
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  # DISCOVERY_TIMEOUT: a LibTorch test binary can take several seconds just to load.
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 120
                       PROPERTIES LABELS ${ARG_NAME})
endfunction()

# istar_mpiexec_preflags(VAR) sets VAR to the flags before the program in an mpiexec command
# line of the tests: FindMPI's MPIEXEC_PREFLAGS, --oversubscribe (two ranks on a machine that may
# have fewer cores) and, as root, --allow-run-as-root (Open MPI's mpirun refuses root without it).
function(istar_mpiexec_preflags var)
  set(flags ${MPIEXEC_PREFLAGS} --oversubscribe)
  execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(uid STREQUAL "0")
    list(APPEND flags --allow-run-as-root)
  endif()
  set(${var} ${flags} PARENT_SCOPE)
endfunction()

# istar_mpi_test(NAME x SRCS ... DEPS ... [OWN_MAIN] [TIMEOUT s]) builds istar_x_mpi_test and
# registers it as one ctest test run under `mpiexec -n 2` (docs/building.md, "MPI tests"): every
# test of the binary issues collectives, so all of them run on both ranks in one job rather than
# one ctest test per TEST. Without OWN_MAIN the binary uses tests/testing/mpi_test_main.cc (one MPI
# communicator for the whole run, istar::testing::TestGroup()).
function(istar_mpi_test)
  if(NOT ISTAR_WITH_MPI)
    return()  # built without MPI (ISTAR_WITH_MPI=OFF): no mpiexec to run it under
  endif()
  cmake_parse_arguments(ARG "OWN_MAIN" "NAME;TIMEOUT" "SRCS;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set(target istar_${ARG_NAME}_mpi_test)
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest)
  if(NOT ARG_OWN_MAIN)
    target_link_libraries(${target} PRIVATE istar_mpi_test_main)
  endif()
  istar_mpiexec_preflags(preflags)
  add_test(NAME ${ARG_NAME}_mpi_test
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${preflags}
                   $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS})
  set_tests_properties(${ARG_NAME}_mpi_test PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS ${ARG_NAME})
endfunction()
