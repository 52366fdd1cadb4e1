# cmake -DKIND=<fetchcontent|find_package|add_subdirectory> -DEIGENQ_SOURCE_DIR=<eigenq tree>
#       -DWORK_DIR=<scratch dir> [-DGENERATOR=..] [-DMAKE_PROGRAM=..] [-DCXX_COMPILER=..]
#       [-DBUILD_TYPE=..] -P run_consumer.cmake
#
# Configures, builds and runs (through its own ctest) the consumer project tests/consumers/<KIND>
# in a fresh WORK_DIR. For find_package, eigenq is first configured on its own (tests, benchmarks,
# examples off) and installed into WORK_DIR/prefix. Any failing step stops with its output.
cmake_minimum_required(VERSION 3.16)

foreach(var KIND EIGENQ_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}/${KIND}")
if(NOT EXISTS "${consumer_dir}/CMakeLists.txt")
  message(FATAL_ERROR "run_consumer.cmake: no consumer project ${consumer_dir}")
endif()

# Arguments every configure step shares: same generator, compiler and build type as the outer build.
set(common_args)
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND common_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND common_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(BUILD_TYPE)
  list(APPEND common_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
  set(config_args --config "${BUILD_TYPE}")
  set(ctest_config_args -C "${BUILD_TYPE}")
endif()

function(run_step name)
  message(STATUS "[consumer ${KIND}] ${name}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR
      "[consumer ${KIND}] step '${name}' failed (${result})\n"
      "command: ${command}\n"
      "---- output ----\n${output}\n----------------")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(consumer_args "-DEIGENQ_SOURCE_DIR=${EIGENQ_SOURCE_DIR}")
if(KIND STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  run_step("configure eigenq for install"
    "${CMAKE_COMMAND}" -S "${EIGENQ_SOURCE_DIR}" -B "${WORK_DIR}/eigenq-build" ${common_args}
      "-DCMAKE_INSTALL_PREFIX=${prefix}"
      -DEIGENQ_BUILD_TESTS=OFF -DEIGENQ_BUILD_BENCHMARKS=OFF -DEIGENQ_BUILD_EXAMPLES=OFF)
  run_step("build eigenq" "${CMAKE_COMMAND}" --build "${WORK_DIR}/eigenq-build" ${config_args})
  run_step("install eigenq" "${CMAKE_COMMAND}" --install "${WORK_DIR}/eigenq-build" ${config_args})

  # The installed package must not point back into the source or build tree.
  file(GLOB_RECURSE installed_cmake_files "${prefix}/*.cmake")
  if(NOT installed_cmake_files)
    message(FATAL_ERROR "[consumer ${KIND}] no CMake package files installed under ${prefix}")
  endif()
  foreach(file IN LISTS installed_cmake_files)
    file(READ "${file}" text)
    foreach(tree IN ITEMS "${EIGENQ_SOURCE_DIR}" "${WORK_DIR}/eigenq-build")
      string(FIND "${text}" "${tree}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "[consumer ${KIND}] installed ${file} refers to ${tree}")
      endif()
    endforeach()
  endforeach()

  list(APPEND consumer_args "-DCMAKE_PREFIX_PATH=${prefix}" "-DEXPECTED_PREFIX=${prefix}")
endif()

run_step("configure consumer"
  "${CMAKE_COMMAND}" -S "${consumer_dir}" -B "${WORK_DIR}/build" ${common_args} ${consumer_args})
run_step("build consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" ${config_args})
# The consumer registers each of its programs with add_test(); an empty test list is an error.
set(ctest_args --output-on-failure ${ctest_config_args})
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.17)
  list(APPEND ctest_args --no-tests=error)
endif()
execute_process(
  COMMAND "${CMAKE_CTEST_COMMAND}" ${ctest_args}
  WORKING_DIRECTORY "${WORK_DIR}/build"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "[consumer ${KIND}] running the consumer's programs failed")
endif()
message(STATUS "[consumer ${KIND}] OK")
