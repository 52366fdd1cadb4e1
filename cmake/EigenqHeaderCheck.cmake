# eigenq_add_header_check(<target> INCLUDE_DIR <dir> [EXCLUDE_REGEX <regex>] [LINK <targets...>])
#
# Builds the object library <target> from one generated translation unit per header under
# <dir>/eigenq/ (recursively, *.hpp). Each unit includes its header twice and nothing else, so the
# build fails when a header misses an include, an include guard, or compiles with warnings
# (eigenq_target_warnings applies). Headers whose path (relative to <dir>) matches EXCLUDE_REGEX
# are skipped.
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
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  eigenq_target_warnings(${target})
  # Only compiling matters here (self-contained headers, no warnings); the tests build the
  # same headers optimized. -O0 keeps this target's share of CI time down.
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -O0)
  endif()
endfunction()
