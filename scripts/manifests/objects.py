"""Lookups in one rendered kustomization, shared by the consistency checks."""

from __future__ import annotations

from typing import Iterator

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def find(docs: list[dict], kind: str, name: str | None) -> dict | None:
    return next(
        (d for d in docs if d.get("kind") == kind and (d.get("metadata") or {}).get("name") == name),
        None,
    )


def pod_spec(doc: dict) -> dict | None:
    if doc.get("kind") not in WORKLOAD_KINDS:
        return None
    return ((doc.get("spec") or {}).get("template") or {}).get("spec")


def long_running(docs: list[dict]) -> list[dict]:
    """The workloads that serve (everything but Jobs): what Services, PDBs and probes target."""
    return [d for d in docs if pod_spec(d) is not None and d["kind"] != "Job"]


def containers(doc: dict) -> Iterator[dict]:
    spec = pod_spec(doc) or {}
    yield from spec.get("containers", []) + spec.get("initContainers", [])


def pod_labels(workload: dict) -> dict:
    return ((workload["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector: dict | None, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels", selector or {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def secret_keys(secret: dict) -> set[str]:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def env_value(container: dict, name: str, docs: list[dict]) -> str | None:
    """The value a container's variable gets, following configMapKeyRef into the render."""
    for var in container.get("env") or []:
        if var.get("name") != name:
            continue
        if "value" in var:
            return str(var["value"])
        ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
        config = find(docs, "ConfigMap", ref["name"]) if ref else None
        if config:
            return (config.get("data") or {}).get(ref["key"])
    return None
