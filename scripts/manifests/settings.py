"""Settings that must agree across objects: the kubelet SIGKILLs a pod past its
terminationGracePeriodSeconds, so that must exceed the SHUTDOWN_GRACE_SECS in which the
service hands back its work; and KEDA must watch the queue the processor consumes,
"{AMQP_PREFIX}.jobs" (shared/src/topology.rs)."""

from __future__ import annotations

from .objects import containers, env_value, find, pod_spec
from .problems import Problems, describe

DEFAULT_GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds
DEFAULT_AMQP_PREFIX = "imagepipe"  # the services' default


def check(docs: list[dict], where: str, problems: Problems) -> None:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
            for container in containers(doc):
                shutdown = env_value(container, "SHUTDOWN_GRACE_SECS", docs)
                if shutdown is not None and not grace > int(shutdown):
                    problems.add(
                        where,
                        f"{describe(doc)}: terminationGracePeriodSeconds {grace} must exceed "
                        f"SHUTDOWN_GRACE_SECS {shutdown}",
                    )
        if doc.get("kind") == "ScaledObject":
            ref = doc["spec"]["scaleTargetRef"]
            target = find(docs, ref.get("kind", "Deployment"), ref["name"])
            if target is None:
                continue  # references.py reports it
            prefix = env_value(pod_spec(target)["containers"][0], "AMQP_PREFIX", docs)
            queue = f"{prefix or DEFAULT_AMQP_PREFIX}.jobs"
            for trigger in doc["spec"]["triggers"]:
                if trigger.get("type") == "rabbitmq":
                    watched = trigger["metadata"].get("queueName")
                    if watched != queue:
                        problems.add(
                            where,
                            f"{describe(doc)}: queueName {watched!r} but {describe(target)} "
                            f"consumes {queue!r} (AMQP_PREFIX)",
                        )
