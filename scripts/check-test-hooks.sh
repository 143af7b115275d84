#!/usr/bin/env bash
# Prove that the production builds lack the processor's test hooks (its `test-hooks` feature,
# services/processor/src/test_hooks.rs). It resolves the features of a `--bins` build of the
# whole workspace, which is what scripts/run.sh builds and includes everything
# deploy/Dockerfile builds, and fails if the feature is on there. Dev-dependencies are left
# out, as such a build leaves them out. Resolving only (`cargo tree`): no build, under a second.
# The test build turns the feature on with the flag below; resolving that too shows the check
# can see the feature at all.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

TEST_HOOKS=(--features imagepipe-processor/test-hooks)

# The features imagepipe-processor is built with, for a --bins build with these arguments.
processor_features() {
  cargo tree --locked --workspace -e normal,build --prefix none --format '{p}|{f}' "$@" |
    awk -F'|' '$1 ~ /^imagepipe-processor / { print $2 }'
}

production=$(processor_features)
if grep -qw test-hooks <<<"$production"; then
  log "FAIL: a production build turns on imagepipe-processor's test-hooks feature, through:"
  cargo tree --locked --workspace -e features,normal,build -i imagepipe-processor >&2
  exit 1
fi
if ! grep -qw test-hooks <<<"$(processor_features "${TEST_HOOKS[@]}")"; then
  log "FAIL: cargo tree does not show the test-hooks feature even with ${TEST_HOOKS[*]}"
  exit 1
fi
log "production builds lack the processor's test hooks; the test build has them"
