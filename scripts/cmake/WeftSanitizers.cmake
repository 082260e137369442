# Sanitizer and fuzzer flags, global to the build so that every object in a
# sanitized binary is instrumented alike.
set(WEFT_SAN_FLAGS "")
if(WEFT_ASAN)
  list(APPEND WEFT_SAN_FLAGS -fsanitize=address)
endif()
if(WEFT_UBSAN)
  # Any undefined behaviour fails the test instead of printing and going on.
  list(APPEND WEFT_SAN_FLAGS -fsanitize=undefined -fno-sanitize-recover=all)
endif()
if(WEFT_TSAN)
  list(APPEND WEFT_SAN_FLAGS -fsanitize=thread)
endif()
if(WEFT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "WEFT_FUZZ needs clang (cmake -DCMAKE_C_COMPILER=clang)")
  endif()
  # Every object gets coverage instrumentation; only fuzz targets link the
  # libFuzzer main (see tests/fuzz).
  list(APPEND WEFT_SAN_FLAGS -fsanitize=fuzzer-no-link)
endif()
if(WEFT_SAN_FLAGS)
  list(APPEND WEFT_SAN_FLAGS -fno-omit-frame-pointer -g)
  add_compile_options("$<$<COMPILE_LANGUAGE:C>:${WEFT_SAN_FLAGS}>")
  add_link_options(${WEFT_SAN_FLAGS})
endif()
