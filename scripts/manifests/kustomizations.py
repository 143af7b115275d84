"""The kustomization files: which folders to render, and that every file under the manifests
folder is applied by some kustomization (kustomize ignores a file nobody lists, so a
forgotten one would silently never reach a cluster) and none is fetched from the network
(the checks, and deployments, must work offline)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .problems import Problems

FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
REMOTE = re.compile(r"^[a-z]+://|^github\.com/")


class StrictLoader(yaml.SafeLoader):
    """Refuses duplicate keys: kustomize silently keeps the last one in a kustomization."""


def _mapping_without_duplicates(loader: StrictLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def kustomization_file(folder: Path) -> Path | None:
    return next((folder / n for n in FILE_NAMES if (folder / n).is_file()), None)


def _listed_paths(kustomization: dict) -> list[str]:
    """Every path a kustomization names: resources, components, patch and generator files."""
    paths = list(kustomization.get("resources") or []) + list(kustomization.get("components") or [])
    paths += [p["path"] for p in kustomization.get("patches") or [] if "path" in p]
    for generator in ("configMapGenerator", "secretGenerator"):
        for entry in kustomization.get(generator) or []:
            for item in (entry.get("files") or []) + (entry.get("envs") or []):
                paths.append(str(item).split("=", 1)[-1])
            if entry.get("env"):
                paths.append(entry["env"])
    return [str(p) for p in paths]


def _load(file: Path, where: str, problems: Problems) -> dict:
    text = file.read_text()
    try:
        yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as err:
        problems.add(where, f"not valid YAML: {err}")
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}


def check(manifests: Path, root: Path, problems: Problems) -> list[Path]:
    """Checks the files every kustomization lists; returns the folders to render: every
    Kustomization (a Component is rendered within the Kustomizations that use it), or none
    while any reference is remote (kustomize would fetch it)."""
    applied: set[Path] = set()
    to_render: list[Path] = []
    remote = False
    for file in sorted(p for name in FILE_NAMES for p in manifests.rglob(name)):
        where = str(file.relative_to(root))
        kustomization = _load(file, where, problems)
        if kustomization.get("kind", "Kustomization") == "Kustomization":
            to_render.append(file.parent)
            applied.add(file.resolve())
        for entry in _listed_paths(kustomization):
            if REMOTE.match(entry):
                problems.add(where, f"{entry!r} is remote: manifests must work offline")
                remote = True
                continue
            target = (file.parent / entry).resolve()
            # A folder is applied through its own kustomization file.
            applied.add((kustomization_file(target) or target) if target.is_dir() else target)
    if not to_render:
        problems.add(str(manifests.relative_to(root)), "no Kustomization found")
    for path in sorted(p for p in manifests.rglob("*") if p.is_file()):
        if path.suffix != ".md" and path.resolve() not in applied:
            problems.add(
                str(path.relative_to(root)),
                "not listed by any kustomization (it would never be applied)",
            )
    return [] if remote else to_render
