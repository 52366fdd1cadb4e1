# eigenq_add_header_check(<target> INCLUDE_DIR <dir> [EXCLUDE_REGEX <regex>] [LINK <targets...>])
#
# Builds the object library <target> from one generated translation unit per header under
# <dir>/eigenq/ (recursively, *.hpp). Each unit includes its header twice and nothing else, so the
# build fails when a header misses an include, an include guard, or compiles with warnings
# (eigenq_target_warnings applies). The units are parsed, not compiled to code (-fsyntax-only),
# by clang++ when found (EIGENQ_SYNTAX_COMPILER); GCC compiles the headers in the tests.
# Headers whose path (relative to <dir>) matches EXCLUDE_REGEX are skipped.
set(EIGENQ_HEADER_CHECK_MODULE_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(eigenq_add_header_check target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "INCLUDE_DIR;EXCLUDE_REGEX" "LINK")
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE "${ARG_INCLUDE_DIR}"
    "${ARG_INCLUDE_DIR}/eigenq/*.hpp")
  list(SORT headers)

  set(sources)
  foreach(header IN LISTS headers)
    if(ARG_EXCLUDE_REGEX AND header MATCHES "${ARG_EXCLUDE_REGEX}")
      continue()
    endif()
    string(MAKE_C_IDENTIFIER "${header}" stem)
    set(source "${CMAKE_CURRENT_BINARY_DIR}/${target}/${stem}.cpp")
    set(content "#include <${header}>\n#include <${header}>\n")
    # Rewrite only on change, so reconfiguring does not recompile every unit.
    set(old "")
    if(EXISTS "${source}")
      file(READ "${source}" old)
    endif()
    if(NOT old STREQUAL content)
      file(WRITE "${source}" "${content}")
    endif()
    list(APPEND sources "${source}")
  endforeach()

  if(NOT sources)
    return()
  endif()
  add_library(${target} OBJECT ${sources})
  target_link_libraries(${target} PRIVATE ${ARG_LINK})
  # The standard spelled out (-std=c++17): the launcher may hand the unit to another compiler,
  # whose default standard differs.
  set_target_properties(${target} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  eigenq_target_warnings(${target})
  # Only compiling matters here (self-contained headers, no warnings); the tests build the
  # same headers optimized. -O0, and the units only parsed (-fsyntax-only, by clang++ when it is
  # installed: EigenqSyntaxOnly.cmake), keep this target's share of CI time down.
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -O0)
    find_program(EIGENQ_SYNTAX_COMPILER NAMES clang++ clang++-16 clang++-15 clang++-14
                 DOC "C++ compiler that parses the header check's units (empty: the build's compiler)")
    set(launcher "${CMAKE_COMMAND}")
    if(EIGENQ_SYNTAX_COMPILER)
      list(APPEND launcher "-DSYNTAX_COMPILER=${EIGENQ_SYNTAX_COMPILER}")
    endif()
    list(APPEND launcher -P "${EIGENQ_HEADER_CHECK_MODULE_DIR}/EigenqSyntaxOnly.cmake" --)
    set_target_properties(${target} PROPERTIES CXX_COMPILER_LAUNCHER "${launcher}")
  endif()
endfunction()
