# eigenq_target_warnings(<target>)
# The warning set for eigenq's own tests, benchmarks and examples. eigenq's headers are not
# system headers there, so this checks the headers too. -Werror unless EIGENQ_WERROR=OFF.
function(eigenq_target_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive- $<$<BOOL:${EIGENQ_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE
      -Wall -Wextra -Wpedantic $<$<BOOL:${EIGENQ_WERROR}>:-Werror>)
  endif()
endfunction()
