# cmake -DOUT=file.c -DDIR=dir -DFILES=a,b -DHEADER=h.h -DTYPE=t -DTABLE=name
#       -DROOT=/ -DBASE=/ -P embed.cmake
# Writes OUT: each of DIR's FILES as a byte array in TABLE[] (struct TYPE
# of HEADER: path, content type, bytes, length), with TABLE_n the count;
# index.html is served at ROOT, every other file at BASE<name>. For the
# pages weftd and the scheduler serve: embedded at build time, nothing
# fetched, no other build step.
string(REPLACE "," ";" FILES "${FILES}")
set(body "/* Generated from ${DIR} by scripts/cmake/embed.cmake: do not edit. */\n")
string(APPEND body "#include \"${HEADER}\"\n\n")
set(table "")
set(i 0)
foreach(f IN LISTS FILES)
  file(READ "${DIR}/${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const unsigned char a${i}[] = {${bytes}};\n")
  if(f MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(f MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(f MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  else()
    set(type "application/octet-stream")
  endif()
  if(f STREQUAL "index.html")
    set(path "${ROOT}")
  else()
    set(path "${BASE}${f}")
  endif()
  string(APPEND table "    {\"${path}\", \"${type}\", a${i}, sizeof a${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst struct ${TYPE} ${TABLE}[] = {\n${table}};\n")
string(APPEND body "const int ${TABLE}_n = ${i};\n")
file(WRITE "${OUT}" "${body}")
