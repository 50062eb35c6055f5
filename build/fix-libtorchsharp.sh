#!/usr/bin/env bash
# Makes TorchSharp's libLibTorchSharp.so (built against GCC 13's libstdc++) load on systems whose
# libstdc++ lacks GLIBCXX_3.4.32 (Debian 12): the version need is marked weak and the one missing
# symbol comes from a tiny library added as DT_NEEDED. Idempotent; a no-op where libstdc++ is new
# enough. Usage: fix-libtorchsharp.sh PATH/TO/libLibTorchSharp.so
set -euo pipefail
lib="$1"
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$lib" ] || exit 0
need=GLIBCXX_3.4.32
readelf -V "$lib" | grep -q "$need" || exit 0
stdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
stdcxx=${stdcxx:-/usr/lib/x86_64-linux-gnu/libstdc++.so.6}
if grep -qa "$need" "$stdcxx"; then exit 0; fi

fail() { echo "fix-libtorchsharp: $*" >&2; exit 1; }
command -v g++ >/dev/null || fail "g++ is required to patch $lib (run ./setup.sh, or apt-get install g++)"
command -v patchelf >/dev/null || fail "patchelf is required to patch $lib (run ./setup.sh, or apt-get install patchelf)"

out="$here/native/out"
mkdir -p "$out"
# Build the helpers once; a lock keeps parallel builds of several projects from racing.
exec 9>"$out/.lock"
flock 9
[ -x "$out/verneed_weak" ] || gcc -O2 -o "$out/verneed_weak" "$here/native/verneed_weak.c"
[ -f "$out/libstdcxx_compat.so" ] || g++ -O2 -shared -fPIC -o "$out/libstdcxx_compat.so" "$here/native/stdcxx_compat.cpp"

dir=$(dirname "$lib")
cp -f "$out/libstdcxx_compat.so" "$dir/libstdcxx_compat.so"
"$out/verneed_weak" "$lib" "$need" || fail "could not mark $need weak in $lib"
if ! readelf -d "$lib" | grep -q 'libstdcxx_compat.so'; then
  patchelf --add-needed libstdcxx_compat.so "$lib" || fail "patchelf failed on $lib"
fi
