#!/usr/bin/env bash
# Runs the libtorch check (see README.md). TorchSharp 0.107's native library was built against
# libstdc++ from GCC 13 (GLIBCXX_3.4.32); Debian 12 has GCC 12's. This fetches Debian 13's
# libstdc++ (GCC 14) into a cache folder, marks its one reference to glibc 2.38
# (__isoc23_strtoul) weak and supplies that function from a small shim, and puts the folder on
# LD_LIBRARY_PATH for this process only. Needs curl, dpkg, gcc, python3 and patchelf (installed with
# apt-get when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${NETGEN_TORCHCHECK_CACHE:-$HOME/.cache/netgen-torchcheck}"
lib="$cache/lib"
if [ ! -f "$lib/libstdc++.so.6" ]; then
  command -v patchelf > /dev/null || apt-get install -y -q patchelf > /dev/null
  mkdir -p "$cache/deb" "$lib"
  deb="libstdc++6_14.2.0-19_amd64.deb"
  curl -fsSL -o "$cache/$deb" "http://deb.debian.org/debian/pool/main/g/gcc-14/$deb"
  dpkg -x "$cache/$deb" "$cache/deb"
  cp "$cache/deb/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.33" "$lib/libstdc++.so.6"
  printf '#include <stdlib.h>\nunsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }\n' > "$cache/isoc23.c"
  gcc -shared -fPIC -O2 -o "$lib/libisoc23.so" "$cache/isoc23.c"
  patchelf --clear-symbol-version __isoc23_strtoul "$lib/libstdc++.so.6"
  patchelf --add-needed libisoc23.so "$lib/libstdc++.so.6"
  python3 "$here/weak_version.py" "$lib/libstdc++.so.6" GLIBC_2.38
fi
# Built without the folder (the compiler would print the loader's warning, which fails the build),
# run with it. The loader warns once per process that the weak version is absent: filtered out.
dotnet build -c Release "$here" -v quiet -nologo | grep -E "error|Warn|Elapsed" || true
LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" dotnet "$here/bin/Release/net10.0/TorchCheck.dll" "$@" 2> >(grep -v "weak version \`GLIBC_2.38' not found" >&2)
