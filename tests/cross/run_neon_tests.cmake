# cmake -DSOURCE_DIR=<eigenq> -DWORK_DIR=<dir> [-DEIGEN_INCLUDE_DIR=<dir>] [-DGENERATOR=<g>]
#       [-DMAKE_PROGRAM=<p>] [-DJOBS=<n>] [-DMODE=all|build|run] [-DPROGRAM=<name>] -P run_neon_tests.cmake
#
# Cross-compiles every tests/kernels/*_test.cpp for AArch64 (g++-aarch64-linux-gnu) and runs
# each program under qemu-user, where the tests force the neon_dotprod path against scalar.
# MODE=build only builds; MODE=run runs the program PROGRAM (or all) of a finished build, so
# ctest can run the programs beside other tests (tests/kernels/CMakeLists.txt); all (the
# default) does both. WORK_DIR keeps the cross build, so GoogleTest is built once and later
# runs are incremental. Prints "EIGENQ_SKIP" and succeeds (ctest reports the test as skipped)
# when a tool is missing.
cmake_minimum_required(VERSION 3.16)

foreach(var SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_neon_tests.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED JOBS)
  set(JOBS 2)
endif()
if(NOT DEFINED MODE)
  set(MODE all)
endif()

set(sysroot /usr/aarch64-linux-gnu)
set(gtest_sources /usr/src/googletest)
find_program(cross_cxx aarch64-linux-gnu-g++)
find_program(cross_cc aarch64-linux-gnu-gcc)
find_program(qemu qemu-aarch64)
set(missing)
if(NOT cross_cxx OR NOT cross_cc)
  list(APPEND missing "aarch64-linux-gnu-g++/gcc (Debian: g++-aarch64-linux-gnu)")
endif()
if(NOT qemu)
  list(APPEND missing "qemu-aarch64 (Debian: qemu-user)")
endif()
if(NOT EXISTS "${sysroot}/lib/ld-linux-aarch64.so.1")
  list(APPEND missing "the AArch64 C library in ${sysroot} (Debian: libc6-arm64-cross)")
endif()
if(NOT EXISTS "${gtest_sources}/CMakeLists.txt")
  list(APPEND missing "GoogleTest sources in ${gtest_sources} (Debian: googletest)")
endif()
if(missing)
  list(JOIN missing ", " missing)
  message("EIGENQ_SKIP: NEON tests under qemu need ${missing}")
  return()
endif()

set(build_dir "${WORK_DIR}/build")
set(configure_args
  -S "${CMAKE_CURRENT_LIST_DIR}" -B "${build_dir}"
  "-DCMAKE_TOOLCHAIN_FILE=${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu.toolchain.cmake"
  -DCMAKE_BUILD_TYPE=Release
  "-DEIGENQ_SOURCE_DIR=${SOURCE_DIR}"
  "-DEIGENQ_GTEST_SOURCE_DIR=${gtest_sources}")
if(EIGEN_INCLUDE_DIR)
  list(APPEND configure_args "-DEIGENQ_EIGEN_INCLUDE_DIR=${EIGEN_INCLUDE_DIR}")
endif()
if(GENERATOR AND NOT EXISTS "${build_dir}/CMakeCache.txt")
  list(APPEND configure_args -G "${GENERATOR}")
  if(MAKE_PROGRAM)
    list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
endif()

function(step name)
  string(TIMESTAMP start "%s")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  string(TIMESTAMP stop "%s")
  math(EXPR seconds "${stop} - ${start}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "NEON tests: ${name} failed (${rc}) after ${seconds} s")
  endif()
  message("NEON tests: ${name} took ${seconds} s")
endfunction()

if(NOT MODE STREQUAL "run")
  step("configure" "${CMAKE_COMMAND}" ${configure_args})
  step("cross build" "${CMAKE_COMMAND}" --build "${build_dir}" --parallel ${JOBS})
endif()
if(MODE STREQUAL "build")
  return()
endif()

if(DEFINED PROGRAM)
  set(programs "${PROGRAM}")
  if(NOT EXISTS "${build_dir}/${PROGRAM}")
    message(FATAL_ERROR "NEON tests: ${build_dir}/${PROGRAM} is not built (run MODE=build first)")
  endif()
else()
  file(STRINGS "${build_dir}/test_programs.txt" programs)
endif()
if(NOT programs)
  message(FATAL_ERROR "NEON tests: no tests/kernels/*_test.cpp found under ${SOURCE_DIR}")
endif()
set(failed)
foreach(program IN LISTS programs)
  string(TIMESTAMP start "%s")
  execute_process(
    COMMAND "${qemu}" -cpu max -L "${sysroot}" "${build_dir}/${program}" --gtest_brief=1
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  string(TIMESTAMP stop "%s")
  math(EXPR seconds "${stop} - ${start}")
  message("${out}")
  # A neon_dotprod case that skipped means the emulated CPU lacks the path: a failure here.
  # (--gtest_brief prints the reason of a skip, kernels::unsupported_reason(), not its name.)
  string(REGEX MATCHALL "neon_dotprod is not compiled|lacks [^\n]*\\(neon_dotprod\\)" skipped_neon "${out}")
  if(NOT rc EQUAL 0)
    list(APPEND failed "${program} (exit ${rc})")
  elseif(skipped_neon)
    list(APPEND failed "${program} (NEON cases skipped: does qemu's CPU have asimddp?)")
  endif()
  message("NEON tests: ${program} ran in ${seconds} s under qemu")
endforeach()
if(failed)
  list(JOIN failed "; " failed)
  message(FATAL_ERROR "NEON tests failed: ${failed}")
endif()
message("NEON tests: all passed")
