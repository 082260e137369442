#!/bin/sh
# Fails when a C, header or CUDA file (kernels and their headers, bench/ too)
# differs from what .clang-format says.
# Fix with: make format
# Usage: format.sh CLANG_FORMAT SOURCE_ROOT
cf=${1:?usage: format.sh CLANG_FORMAT SOURCE_ROOT}
root=${2:?usage: format.sh CLANG_FORMAT SOURCE_ROOT}
cd "$root" || exit 1
find src include tests bench -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) \
    -not -path '*/node_modules/*' -print0 2>/dev/null |
    xargs -0 "$cf" --dry-run --Werror
