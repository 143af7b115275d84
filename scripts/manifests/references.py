"""What the objects of a render refer to is in the render: the ConfigMaps and keys containers
read (and Secret keys, when the Secret is in the render: a Secret may be created outside it
on purpose), the workloads that Services, PodDisruptionBudgets and ScaledObjects target, the
TriggerAuthentications triggers use and the Secret keys those read."""

from __future__ import annotations

from .objects import containers, find, long_running, pod_labels, pod_spec, secret_keys, selects
from .problems import Problems, describe


def _check_env(container: dict, owner: str, docs: list[dict], where: str, problems: Problems):
    names = [var.get("name") for var in container.get("env") or []]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.add(where, f"{owner}: sets {duplicate} more than once")
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            ref = source.get(field)
            if not ref or ref.get("optional"):
                continue
            target = find(docs, kind, ref.get("name"))
            if target is None:
                if kind == "ConfigMap":
                    problems.add(
                        where,
                        f"{owner}: {var['name']} refers to ConfigMap {ref.get('name')!r}, "
                        "which is not in the render",
                    )
                continue
            keys = set(target.get("data") or {}) if kind == "ConfigMap" else secret_keys(target)
            if ref.get("key") not in keys:
                problems.add(
                    where,
                    f"{owner}: {var['name']} refers to key {ref.get('key')!r}, "
                    f"missing in {kind} {ref.get('name')!r}",
                )
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref and not ref.get("optional") and find(docs, "ConfigMap", ref.get("name")) is None:
            problems.add(
                where, f"{owner}: envFrom ConfigMap {ref.get('name')!r} is not in the render"
            )


def _check_scaled_object(doc: dict, docs: list[dict], where: str, problems: Problems) -> None:
    name = describe(doc)
    ref = doc["spec"]["scaleTargetRef"]
    target = find(docs, ref.get("kind", "Deployment"), ref["name"])
    if target is None:
        problems.add(where, f"{name}: scaleTargetRef {ref['name']!r} is not in the render")
    elif "replicas" in target.get("spec", {}):
        problems.add(
            where,
            f"{describe(target)}: sets replicas, which fights the ScaledObject on every "
            "apply; leave it out",
        )
    for trigger in doc["spec"]["triggers"]:
        auth = (trigger.get("authenticationRef") or {}).get("name")
        if auth and find(docs, "TriggerAuthentication", auth) is None:
            problems.add(where, f"{name}: authenticationRef {auth!r} is not in the render")


def check(docs: list[dict], where: str, problems: Problems) -> None:
    workloads = long_running(docs)
    for doc in docs:
        name = describe(doc)
        kind = doc.get("kind")
        for container in containers(doc):
            _check_env(container, f"{name} container {container.get('name')}", docs, where, problems)
        if pod_spec(doc) is not None and kind != "Job":
            if not selects(doc["spec"].get("selector"), pod_labels(doc)):
                problems.add(where, f"{name}: selector does not match its pod labels")
        if kind in ("PodDisruptionBudget", "Service"):
            matched = [w for w in workloads if selects(doc["spec"].get("selector"), pod_labels(w))]
            if kind == "PodDisruptionBudget" and len(matched) != 1:
                problems.add(where, f"{name}: selector matches {len(matched)} workloads, not 1")
            if kind == "Service" and not matched:
                problems.add(where, f"{name}: selector matches no workload")
        if kind == "ScaledObject":
            _check_scaled_object(doc, docs, where, problems)
        if kind == "TriggerAuthentication":
            for ref in doc["spec"].get("secretTargetRef") or []:
                secret = find(docs, "Secret", ref["name"])
                if secret is not None and ref["key"] not in secret_keys(secret):
                    problems.add(
                        where, f"{name}: key {ref['key']!r} missing in Secret {ref['name']!r}"
                    )
