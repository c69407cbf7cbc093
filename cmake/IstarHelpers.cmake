# Helpers that give every module the same shape (STYLE.md convention 1).
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
