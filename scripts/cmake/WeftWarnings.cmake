# Warnings every target gets, as errors (WEFT_WERROR). Applied per target
# with weft_target_warnings() so third-party code pulled in later is not
# held to our rules.
set(WEFT_C_WARNINGS
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wformat=2 -Wundef -Wwrite-strings -Wcast-qual
    -Wno-format-nonliteral -Wvla)
if(WEFT_WERROR)
  list(APPEND WEFT_C_WARNINGS -Werror)
endif()

function(weft_target_warnings target)
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:C>:${WEFT_C_WARNINGS}>")
  if(WEFT_WERROR)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings --compiler-options=-Wall,-Wextra,-Werror>)
  endif()
endfunction()
