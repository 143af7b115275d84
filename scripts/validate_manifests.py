#!/usr/bin/env python3
"""Offline validation of the Kubernetes manifests (run by scripts/validate-manifests.sh, which
installs the pinned tools); exits non-zero with one line per problem.

Every kustomization is rendered with `kubectl kustomize` (kustomize checks its own files), and
every rendered object is validated strictly for each Kubernetes version given, then checked
for consistency; the modules of the `manifests` package beside this file say what each check
is and why.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from manifests import containers, kustomizations, ports, references, settings
from manifests.crds import CustomKinds
from manifests.problems import Problems
from manifests.render import render
from manifests.schemas import Schemas

CONSISTENCY_CHECKS = (references.check, ports.check, settings.check, containers.check)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, required=True, help="the repository")
    parser.add_argument("--manifests", type=Path, required=True, help="folder of kustomizations")
    parser.add_argument("--crds", type=Path, required=True, help="folder of CRD files (*.yaml)")
    parser.add_argument("--kubernetes-version", action="append", required=True, dest="versions")
    args = parser.parse_args()

    root = args.root.resolve()
    for folder in (args.manifests, args.crds):
        if not folder.is_dir():
            raise SystemExit(f"FATAL {folder} is not a folder")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SystemExit("FATAL kubectl not found: it renders the kustomizations (kustomize)")

    problems = Problems()
    schemas = Schemas(args.versions, CustomKinds(args.crds, problems))
    folders = kustomizations.check(args.manifests.resolve(), root, problems)
    for folder in folders:
        where = f"{folder.relative_to(root)} (rendered)"
        before = len(problems.items)
        docs = render(kubectl, folder, where, problems)
        for doc in docs:
            schemas.validate(doc, where, problems)
        for check in CONSISTENCY_CHECKS:
            check(docs, where, problems)
        if len(problems.items) == before:
            print(f"ok   {folder.relative_to(root)}: {len(docs)} objects rendered and checked")

    if problems.items:
        print(f"FAILED: {len(problems.items)} problem(s) in the manifests", file=sys.stderr)
        return 1
    print(
        f"manifests ok: {len(folders)} kustomization(s), Kubernetes {', '.join(args.versions)}, "
        f"CRDs from {args.crds}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
