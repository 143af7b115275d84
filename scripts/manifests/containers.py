"""Every container states CPU and memory requests (the scheduler places pods by them) and
limits (they bound a runaway pod), and runs non-root, without privilege escalation, on a
read-only root filesystem."""

from __future__ import annotations

from .objects import containers, pod_spec
from .problems import Problems, describe


def check(docs: list[dict], where: str, problems: Problems) -> None:
    for doc in docs:
        pod_security = (pod_spec(doc) or {}).get("securityContext") or {}
        for container in containers(doc):
            owner = f"{describe(doc)} container {container.get('name')}"
            resources = container.get("resources") or {}
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(part) or {}):
                        problems.add(where, f"{owner}: no resources.{part}.{resource}")
            security = container.get("securityContext") or {}
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.add(where, f"{owner}: runAsNonRoot is not set")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.add(where, f"{owner}: allowPrivilegeEscalation must be false")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.add(where, f"{owner}: readOnlyRootFilesystem must be true")
