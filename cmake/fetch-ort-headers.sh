#!/usr/bin/env bash
# Puts the ONNX Runtime C API headers, which ednn's predictor needs at build time only, into a
# folder and prints the folder that holds onnxruntime_c_api.h.
#
# The headers come from Debian's libonnxruntime-dev package: from the configured apt sources when
# they carry it (Debian 13 and later), otherwise from Debian 13 "trixie" through a private apt
# configuration. Only the .deb is downloaded and unpacked into DEST; nothing is installed system-wide.
#
#   cmake/fetch-ort-headers.sh [DEST]
#
# DEST defaults to $EDNN_ORT_HEADERS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/ednn/onnxruntime-headers,
# a place CMakeLists.txt searches by itself. Needs apt-get and dpkg-deb.
set -euo pipefail

dest=${1:-${EDNN_ORT_HEADERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ednn/onnxruntime-headers}}
inc="$dest/include/onnxruntime"
if [ -f "$inc/onnxruntime_c_api.h" ]; then
  echo "$inc"
  exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-ort-headers: $tool is needed (Debian/Ubuntu)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
apt_opts=()
if [ "$(id -u)" = 0 ]; then
  apt_opts+=(-o APT::Sandbox::User=root)
fi

candidate=$(apt-cache policy libonnxruntime-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
  # Not in the configured sources: read Debian 13's package index into a private apt state.
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || { echo "fetch-ort-headers: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb [signed-by=$keyring] http://deb.debian.org/debian trixie main" >"$work/sources.list"
  apt_opts+=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=$work/none"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
  )
  apt-get "${apt_opts[@]}" -qq update >&2
fi
(cd "$work" && apt-get "${apt_opts[@]}" -qq download libonnxruntime-dev >&2)
deb=$(ls "$work"/libonnxruntime-dev_*.deb)
dpkg-deb -x "$deb" "$work/x"
[ -f "$work/x/usr/include/onnxruntime/onnxruntime_c_api.h" ] ||
  { echo "fetch-ort-headers: $(basename "$deb") has no usr/include/onnxruntime/onnxruntime_c_api.h" >&2; exit 1; }
mkdir -p "$dest/include"
rm -rf "$inc"
cp -r "$work/x/usr/include/onnxruntime" "$inc"
basename "$deb" >"$dest/SOURCE"
echo "$inc"
