"""The services listen where they are looked for: `*_BIND` names a declared container port,
every probe port is declared, long-running containers probe /health/live and
/health/ready, and every Service's targetPort is a port of the workloads it selects."""

from __future__ import annotations

from .objects import containers, env_value, long_running, pod_labels, pod_spec, selects
from .problems import Problems, describe

BIND_VARIABLES = ("INGEST_BIND", "HEALTH_BIND")
HEALTH_PATHS = (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"))


def _check_container(
    container: dict, owner: str, serves: bool, docs: list[dict], where: str, problems: Problems
) -> None:
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    numbers = set(ports.values())
    for bind in BIND_VARIABLES:
        value = env_value(container, bind, docs)
        if value is not None and int(value.rsplit(":", 1)[-1]) not in numbers:
            problems.add(where, f"{owner}: {bind}={value} but the container declares no such port")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = (container.get(probe) or {}).get("httpGet") or {}
        if "port" in http and http["port"] not in ports and http["port"] not in numbers:
            problems.add(where, f"{owner}: {probe} port {http['port']!r} is not a container port")
    if serves:
        for probe, path in HEALTH_PATHS:
            actual = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
            if actual != path:
                problems.add(where, f"{owner}: {probe} must get {path}, not {actual!r}")


def _declared_ports(workload: dict) -> set:
    return {
        value
        for container in pod_spec(workload)["containers"]
        for port in container.get("ports") or []
        for value in (port.get("name"), port["containerPort"])
    }


def check(docs: list[dict], where: str, problems: Problems) -> None:
    workloads = long_running(docs)
    for doc in docs:
        for container in containers(doc):
            owner = f"{describe(doc)} container {container.get('name')}"
            _check_container(container, owner, doc in workloads, docs, where, problems)
        if doc.get("kind") != "Service":
            continue
        matched = [w for w in workloads if selects(doc["spec"].get("selector"), pod_labels(w))]
        for port in doc["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for workload in matched:
                if target not in _declared_ports(workload):
                    problems.add(
                        where,
                        f"{describe(doc)}: targetPort {target!r} is not a port of "
                        f"{describe(workload)}",
                    )
