# Shared by the consumer projects:
#   eigenq_consumer_program(<name> STD <17|20> LINK <targets...>)
# builds tests/consumers/main.cpp as <name> with strict warnings and no -march flag, and registers
# it with add_test() so the driver can run it.
set(EIGENQ_CONSUMER_MAIN "${CMAKE_CURRENT_LIST_DIR}/main.cpp")

function(eigenq_consumer_program name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "STD" "LINK")
  add_executable(${name} "${EIGENQ_CONSUMER_MAIN}")
  set_target_properties(${name} PROPERTIES
    CXX_STANDARD ${ARG_STD}
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF)
  target_compile_definitions(${name} PRIVATE EIGENQ_CONSUMER_STD=${ARG_STD})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  target_link_libraries(${name} PRIVATE ${ARG_LINK})
  add_test(NAME ${name} COMMAND ${name})
endfunction()
