#!/bin/sh
# Builds the AMX enabler's JNI library (spindleamx.c) into the jar's classes, on Linux x86-64 with
# gcc and a JDK's jni.h; elsewhere it says so and leaves nothing (bf16 then falls back to float32).
# Usage: build.sh <source.c> <output.so>
src="$1"
out="$2"
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "spindleamx: not Linux x86-64, AMX library not built"; exit 0 ;;
esac
if ! command -v gcc >/dev/null 2>&1; then
  echo "spindleamx: gcc not found, AMX library not built (model.precision bf16 falls back to float32)"
  exit 0
fi
jdk="${JAVA_HOME:-}"
if [ -z "$jdk" ] || [ ! -f "$jdk/include/jni.h" ]; then
  jdk="$(dirname "$(dirname "$(readlink -f "$(command -v javac || command -v java)")")")"
fi
if [ ! -f "$jdk/include/jni.h" ]; then
  echo "spindleamx: no jni.h under $jdk/include, AMX library not built"
  exit 0
fi
mkdir -p "$(dirname "$out")"
exec gcc -shared -fPIC -O2 -Wall -Wextra -I"$jdk/include" -I"$jdk/include/linux" -o "$out" "$src"
