"""Renders a kustomization with `kubectl kustomize`: what `kubectl apply -k` would send.

kustomize itself rejects unknown fields, missing files and patches and malformed YAML; its
warnings (deprecated fields, for one) count as problems too, so they are fixed, not ignored.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from .problems import Problems


def render(kubectl: str, folder: Path, where: str, problems: Problems) -> list[dict]:
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        problems.add(where, f"kubectl kustomize failed: {result.stderr.strip()}")
        return []
    for line in result.stderr.splitlines():
        if line.strip():
            problems.add(where, f"kustomize: {line.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
