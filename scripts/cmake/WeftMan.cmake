# Manual pages made from each program's own --help and --version by
# help2man, so a page cannot drift from what the program says of itself.
# Only in a plain build: the sanitizer and fuzz builds are for tests.
find_program(HELP2MAN help2man)
if(HELP2MAN AND NOT (WEFT_ASAN OR WEFT_TSAN OR WEFT_FUZZ OR CMAKE_CROSSCOMPILING))
  set(WEFT_MAN_PAGES "")
  function(weft_man target section what)
    if(NOT TARGET ${target})
      return()
    endif()
    set(page ${CMAKE_BINARY_DIR}/man/${target}.${section})
    add_custom_command(
      OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --section=${section} --name=${what} --version-string=${PROJECT_VERSION}
              --include=${PROJECT_SOURCE_DIR}/docs/man/see-also.h2m
              --output=${page} $<TARGET_FILE:${target}>
      DEPENDS ${target} ${PROJECT_SOURCE_DIR}/docs/man/see-also.h2m
      VERBATIM)
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
    set(WEFT_MAN_PAGES ${WEFT_MAN_PAGES} ${page} PARENT_SCOPE)
  endfunction()
  weft_man(weftd 8 "Weft home node: solar-gated LLM inference for a regional scheduler")
  weft_man(weft-scheduler 8 "Weft regional scheduler: OpenAI-compatible API and home node coordination")
  weft_man(weftctl 1 "administer a Weft region and set up a home node")
  weft_man(weft-energy 1 "read a home's inverter over Modbus, or replay an energy policy over a profile")
  weft_man(weft-panelsim 1 "simulate a home's inverter and battery as a Modbus TCP server")
  weft_man(weft-infer 1 "run, tokenize, inspect and benchmark GGUF models with Weft's engine")
  weft_man(weft-convert 1 "convert llama2.c checkpoints to GGUF, or write synthetic models")
  add_custom_target(weft_man ALL DEPENDS ${WEFT_MAN_PAGES})
endif()
