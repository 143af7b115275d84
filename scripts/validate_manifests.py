#!/usr/bin/env python3
"""Offline validation of the Kubernetes manifests under deploy/k8s.

Run by scripts/validate-manifests.sh (which sets up the pinned tools); exits non-zero with
one line per problem. What it checks, and why:

1. Every kustomization.yaml references only files and folders that exist, uses no field
   this script does not know (a typo would otherwise be ignored), and every file under
   deploy/k8s is referenced by some kustomization (a forgotten file is never applied).
2. Every manifest a kustomization lists as a resource is valid for the stated Kubernetes
   versions: core kinds against the schemas kubernetes-validate ships (strict: unknown fields
   are errors, as `kubectl apply` with server-side field validation makes them), KEDA kinds
   against the openAPIV3Schema of KEDA's CRDs (made strict the same way).
3. When kubectl is there (it carries kustomize), every kustomization is rendered and the
   rendered objects are validated again (this covers patches), then checked for consistency:
   references to ConfigMaps, Secrets and their keys, probe and Service ports, selectors,
   the KEDA queue name against AMQP_PREFIX, the termination grace against
   SHUTDOWN_GRACE_SECS, resources and security settings on every container.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import referencing
import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "buildMetadata",
    "sortOptions",
    "replacements",
}
DEPRECATED_FIELDS = {
    "bases": "resources",
    "commonLabels": "labels",
    "patchesStrategicMerge": "patches",
    "patchesJson6902": "patches",
    "vars": "replacements",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
OBJECT_META = (
    "https://kubernetes.io/api/_definitions.json"
    "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
)


class Problems:
    """Collects every problem, so one run reports them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")
        print(f"ERROR {where}: {message}", file=sys.stderr)


# ---------------------------------------------------------------- YAML


class StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_documents(text: str, where: str, problems: Problems) -> list[dict]:
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=StrictLoader) if doc is not None]
    except yaml.YAMLError as err:
        problems.add(where, f"not valid YAML: {err}")
        return []
    for doc in documents:
        if not isinstance(doc, dict):
            problems.add(where, "a document is not a mapping")
            return []
    return documents


def describe(doc: dict) -> str:
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


# ---------------------------------------------------------------- schemas


def schema_dir(version: str) -> Path:
    """The strict schema folder kubernetes-validate uses for `version`."""
    wanted = kv_utils.major_minor(version)
    candidates = [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) <= wanted]
    if not candidates:
        raise SystemExit(f"FATAL kubernetes-validate has no schemas for Kubernetes {version}")
    files = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return Path(str(files / f"v{candidates[-1]}-local-strict"))


def strict_openapi(schema: Any) -> Any:
    """An OpenAPI v3 schema of a CRD as JSON Schema, strict like the API server with field
    validation: an object that lists its properties accepts no other field."""
    if isinstance(schema, list):
        return [strict_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict_openapi(value) for key, value in schema.items()}
    if out.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _min_le_max(spec: dict) -> bool:
    return "minReplicaCount" not in spec or spec["minReplicaCount"] <= spec.get(
        "maxReplicaCount", 100
    )


# The CRDs' CEL rules (x-kubernetes-validations) that this script implements. A rule not
# listed here fails the run, so a newer schema never has a rule silently skipped.
CEL_RULES: dict[str, Callable[[dict], bool]] = {
    "!has(self.minReplicaCount) || self.minReplicaCount <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)": _min_le_max,
}


def cel_rules(schema: Any, pointer: tuple = ()) -> list[tuple[tuple, dict]]:
    """(path within the object, rule) for every CEL rule in a CRD schema."""
    found: list[tuple[tuple, dict]] = []
    if isinstance(schema, dict):
        for rule in schema.get("x-kubernetes-validations", []):
            found.append((pointer, rule))
        for name, sub in (schema.get("properties") or {}).items():
            found.extend(cel_rules(sub, pointer + (name,)))
        if "items" in schema:
            found.extend(cel_rules(schema["items"], pointer + ("*",)))
    return found


class CustomKinds:
    """The kinds defined by the CRDs in a folder, with their strict schemas."""

    def __init__(self, crd_dir: Path, problems: Problems) -> None:
        self.schemas: dict[tuple[str, str], dict] = {}
        self.rules: dict[tuple[str, str], list[tuple[tuple, dict]]] = {}
        files = sorted(crd_dir.glob("*.yaml"))
        if not files:
            raise SystemExit(f"FATAL no CRD files (*.yaml) in {crd_dir}")
        for path in files:
            for crd in load_documents(path.read_text(), str(path), problems):
                if crd.get("kind") != "CustomResourceDefinition":
                    continue
                group = crd["spec"]["group"]
                kind = crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    if not version.get("served", True):
                        continue
                    raw = version["schema"]["openAPIV3Schema"]
                    key = (f"{group}/{version['name']}", kind)
                    schema = strict_openapi(raw)
                    # metadata is `type: object` in a CRD: check it as the API server does.
                    schema["properties"]["metadata"] = {"$ref": OBJECT_META}
                    self.schemas[key] = schema
                    self.rules[key] = cel_rules(raw)
                    for _, rule in self.rules[key]:
                        if rule["rule"] not in CEL_RULES:
                            problems.add(
                                str(path),
                                f"{kind}: CEL rule not implemented by validate_manifests.py: "
                                f"{rule['rule']!r}",
                            )
        if not self.schemas:
            raise SystemExit(f"FATAL no CustomResourceDefinition in {crd_dir}")

    def knows(self, doc: dict) -> bool:
        return (doc.get("apiVersion"), doc.get("kind")) in self.schemas

    def validate(self, doc: dict, definitions: dict, where: str, problems: Problems) -> None:
        key = (doc["apiVersion"], doc["kind"])
        registry = referencing.Registry().with_resource(
            "https://kubernetes.io/api/_definitions.json",
            referencing.Resource.from_contents(definitions),
        )
        validator = jsonschema.Draft202012Validator(
            self.schemas[key],
            registry=registry,
            format_checker=FORMATS,
        )
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            at = ".".join(str(p) for p in error.absolute_path) or "(root)"
            problems.add(where, f"{describe(doc)} {at}: {error.message}")
        for pointer, rule in self.rules[key]:
            for target in walk(doc, pointer):
                if isinstance(target, dict) and not CEL_RULES.get(rule["rule"], lambda _: True)(
                    target
                ):
                    problems.add(where, f"{describe(doc)}: {rule.get('message', rule['rule'])}")


def walk(doc: Any, pointer: tuple) -> list:
    if not pointer:
        return [doc]
    head, rest = pointer[0], pointer[1:]
    if head == "*":
        return [x for item in (doc if isinstance(doc, list) else []) for x in walk(item, rest)]
    if isinstance(doc, dict) and head in doc:
        return walk(doc[head], rest)
    return []


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("int32")
def _int32(value: Any) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value: Any) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


class Validator:
    def __init__(self, versions: list[str], custom: CustomKinds) -> None:
        self.versions = versions
        self.custom = custom
        self.definitions = {
            version: json.loads((schema_dir(version) / "_definitions.json").read_text())
            for version in versions
        }

    def object(self, doc: dict, where: str, problems: Problems) -> None:
        for field in ("apiVersion", "kind"):
            if not isinstance(doc.get(field), str):
                problems.add(where, f"{describe(doc)} has no {field}")
                return
        if not (doc.get("metadata") or {}).get("name"):
            problems.add(where, f"{describe(doc)} has no metadata.name")
        for version in self.versions:
            label = f"{where} (Kubernetes {version})"
            if self.custom.knows(doc):
                self.custom.validate(doc, self.definitions[version], label, problems)
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                at = ".".join(str(p) for p in err.path) or "(root)"
                problems.add(label, f"{describe(doc)} {at}: {err.message}")
            except kv_utils.VersionNotSupportedError:
                raise SystemExit(
                    f"FATAL kubernetes-validate {kubernetes_validate.__version__} "
                    f"does not know Kubernetes {version}"
                )
            except kubernetes_validate.SchemaNotFoundError as err:
                problems.add(
                    label,
                    f"{describe(doc)}: no schema for {doc['apiVersion']} {doc['kind']} "
                    f"({err.message}); add its CRD to the schema folder or fix apiVersion/kind",
                )


# ---------------------------------------------------------------- kustomizations


def kustomization_file(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def check_kustomizations(
    k8s_dir: Path, root: Path, validator: Validator, problems: Problems
) -> list[Path]:
    """Checks references and validates listed resources; returns the folders to render."""
    files = sorted(p for name in KUSTOMIZATION_NAMES for p in k8s_dir.rglob(name))
    if not files:
        problems.add(str(k8s_dir), "no kustomization.yaml found")
    referenced: set[Path] = set()
    to_render: list[Path] = []
    for file in files:
        where = str(file.relative_to(root))
        folder = file.parent
        docs = load_documents(file.read_text(), where, problems)
        if len(docs) != 1:
            problems.add(where, "must hold exactly one YAML document")
            continue
        kustomization = docs[0]
        referenced.add(file.resolve())
        kind = kustomization.get("kind", "Kustomization")
        if kind == "Kustomization":
            to_render.append(folder)
        elif kind != "Component":
            problems.add(where, f"unknown kind {kind!r} (Kustomization or Component)")
        for field in kustomization:
            if field in DEPRECATED_FIELDS:
                problems.add(where, f"{field} is deprecated: use {DEPRECATED_FIELDS[field]}")
            elif field not in KUSTOMIZATION_FIELDS:
                problems.add(where, f"unknown field {field!r}")

        def reference(
            entry: Any, what: str, *, folder_ok: bool, component: bool = False
        ) -> Path | None:
            if not isinstance(entry, str):
                problems.add(where, f"{what} entry {entry!r} is not a path")
                return None
            if re.match(r"^[a-z]+://|^github\.com/", entry):
                problems.add(where, f"{what} {entry!r} is remote: manifests must be offline")
                return None
            target = (folder / entry).resolve()
            if target.is_dir() and folder_ok:
                inner = kustomization_file(target)
                if inner is None:
                    problems.add(
                        where, f"{what} {entry!r} is a folder without a kustomization.yaml"
                    )
                    return None
                inner_kind = (yaml.safe_load(inner.read_text()) or {}).get("kind", "Kustomization")
                if component and inner_kind != "Component":
                    problems.add(where, f"{what} {entry!r} is not a kustomize Component")
                if not component and inner_kind == "Component":
                    problems.add(
                        where, f"{what} {entry!r} is a Component: list it under components"
                    )
                return None
            if not target.is_file():
                problems.add(where, f"{what} {entry!r} does not exist")
                return None
            referenced.add(target)
            return target

        for entry in kustomization.get("resources") or []:
            target = reference(entry, "resource", folder_ok=True)
            if target is not None:
                label = str(target.relative_to(root))
                for doc in load_documents(target.read_text(), label, problems):
                    validator.object(doc, label, problems)
        for entry in kustomization.get("components") or []:
            reference(entry, "component", folder_ok=True, component=True)
        for patch in kustomization.get("patches") or []:
            if not isinstance(patch, dict) or ("path" not in patch and "patch" not in patch):
                problems.add(where, f"patch {patch!r} has neither path nor patch")
            elif "path" in patch:
                reference(patch["path"], "patch", folder_ok=False)
        for generator in ("configMapGenerator", "secretGenerator"):
            for entry in kustomization.get(generator) or []:
                for source in ("files", "envs"):
                    for item in entry.get(source) or []:
                        reference(
                            str(item).split("=", 1)[-1], f"{generator} {source}", folder_ok=False
                        )
                if entry.get("env"):
                    reference(entry["env"], f"{generator} env", folder_ok=False)

    for path in sorted(p for p in k8s_dir.rglob("*") if p.is_file()):
        if path.suffix == ".md" or path.resolve() in referenced:
            continue
        problems.add(
            str(path.relative_to(root)),
            "not referenced by any kustomization.yaml (it would never be applied)",
        )
    return to_render


# ---------------------------------------------------------------- rendered objects


def render(folder: Path, kubectl: str, root: Path, problems: Problems) -> list[dict]:
    where = str(folder.relative_to(root))
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        problems.add(where, f"kubectl kustomize failed: {result.stderr.strip()}")
        return []
    return load_documents(result.stdout, f"{where} (rendered)", problems)


def pod_spec(doc: dict) -> dict | None:
    if doc.get("kind") not in WORKLOAD_KINDS:
        return None
    return ((doc.get("spec") or {}).get("template") or {}).get("spec")


def find(docs: list[dict], kind: str, name: str) -> dict | None:
    for doc in docs:
        if doc.get("kind") == kind and (doc.get("metadata") or {}).get("name") == name:
            return doc
    return None


def selects(selector: dict, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels", selector or {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def env_value(container: dict, name: str, docs: list[dict]) -> str | None:
    """The value a container's variable gets, following configMapKeyRef into the render."""
    for var in container.get("env") or []:
        if var.get("name") != name:
            continue
        if "value" in var:
            return str(var["value"])
        ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            config = find(docs, "ConfigMap", ref["name"])
            if config:
                return (config.get("data") or {}).get(ref["key"])
    return None


def secret_keys(secret: dict) -> set[str]:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def pod_labels(workload: dict) -> dict:
    return ((workload["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}


def check_env_references(
    container: dict, cname: str, docs: list[dict], where: str, problems: Problems
) -> None:
    """Every ConfigMap and key a container reads is in the render; so is every Secret key,
    when the Secret is (a Secret may be created outside the render on purpose)."""
    names = [var.get("name") for var in container.get("env") or []]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.add(where, f"{cname}: sets {dup} more than once")
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        for ref_kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            ref = source.get(field)
            if not ref or ref.get("optional"):
                continue
            target = find(docs, ref_kind, ref.get("name"))
            if target is None:
                if ref_kind == "ConfigMap":
                    problems.add(
                        where,
                        f"{cname}: {var['name']} refers to ConfigMap "
                        f"{ref.get('name')!r}, which is not in the render",
                    )
                continue
            keys = set(target.get("data") or {}) if ref_kind == "ConfigMap" else secret_keys(target)
            if ref.get("key") not in keys:
                problems.add(
                    where,
                    f"{cname}: {var['name']} refers to key {ref.get('key')!r}, "
                    f"missing in {ref_kind} {ref.get('name')!r}",
                )
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref and not ref.get("optional") and find(docs, "ConfigMap", ref.get("name")) is None:
            problems.add(
                where, f"{cname}: envFrom ConfigMap {ref.get('name')!r} is not in the render"
            )


def check_ports_and_probes(
    container: dict,
    cname: str,
    long_running: bool,
    docs: list[dict],
    where: str,
    problems: Problems,
) -> None:
    """The services listen where the probes look: *_BIND names a declared port, every probe
    port is declared, and long-running containers probe /health/live and /health/ready."""
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    numbers = set(ports.values())
    for bind in ("INGEST_BIND", "HEALTH_BIND"):
        value = env_value(container, bind, docs)
        if value is not None and int(value.rsplit(":", 1)[-1]) not in numbers:
            problems.add(where, f"{cname}: {bind}={value} but the container declares no such port")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = (container.get(probe) or {}).get("httpGet") or {}
        if "port" in http and http["port"] not in ports and http["port"] not in numbers:
            problems.add(where, f"{cname}: {probe} port {http['port']!r} is not a container port")
    if long_running:
        for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
            actual = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
            if actual != path:
                problems.add(where, f"{cname}: {probe} must get {path}, not {actual!r}")


def check_limits_and_security(
    container: dict, cname: str, pod_security: dict, where: str, problems: Problems
) -> None:
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(part) or {}):
                problems.add(where, f"{cname}: no resources.{part}.{resource}")
    security = container.get("securityContext") or {}
    if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
        problems.add(where, f"{cname}: runAsNonRoot is not set")
    if security.get("allowPrivilegeEscalation") is not False:
        problems.add(where, f"{cname}: allowPrivilegeEscalation must be false")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.add(where, f"{cname}: readOnlyRootFilesystem must be true")


def check_workloads(docs: list[dict], where: str, problems: Problems) -> None:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        name = describe(doc)
        long_running = doc["kind"] != "Job"
        if long_running and not selects(doc["spec"].get("selector"), pod_labels(doc)):
            problems.add(where, f"{name}: selector does not match its pod labels")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            cname = f"{name} container {container.get('name')}"
            check_env_references(container, cname, docs, where, problems)
            check_ports_and_probes(container, cname, long_running, docs, where, problems)
            check_limits_and_security(
                container, cname, spec.get("securityContext") or {}, where, problems
            )
            # Past the grace period the kubelet SIGKILLs: work in flight must be handed back
            # before that.
            shutdown = env_value(container, "SHUTDOWN_GRACE_SECS", docs)
            if shutdown is not None and not grace > int(shutdown):
                problems.add(
                    where,
                    f"{name}: terminationGracePeriodSeconds {grace} must exceed "
                    f"SHUTDOWN_GRACE_SECS {shutdown}",
                )


def check_links(docs: list[dict], where: str, problems: Problems) -> None:
    """Services, PodDisruptionBudgets and KEDA objects point at what is really there."""
    workloads = [d for d in docs if pod_spec(d) is not None and d["kind"] != "Job"]
    for doc in docs:
        name = describe(doc)
        kind = doc.get("kind")
        if kind in ("PodDisruptionBudget", "Service"):
            selector = doc["spec"].get("selector")
            matched = [w for w in workloads if selects(selector, pod_labels(w))]
            if kind == "PodDisruptionBudget" and len(matched) != 1:
                problems.add(where, f"{name}: selector matches {len(matched)} workloads, not 1")
            if kind == "Service" and not matched:
                problems.add(where, f"{name}: selector matches no workload")
            service_ports = (doc["spec"].get("ports") or []) if kind == "Service" else []
            for port in service_ports:
                target = port.get("targetPort", port.get("port"))
                for workload in matched:
                    declared = set()
                    for container in pod_spec(workload)["containers"]:
                        for p in container.get("ports") or []:
                            declared |= {p.get("name"), p["containerPort"]}
                    if target not in declared:
                        problems.add(
                            where,
                            f"{name}: targetPort {target!r} is not a port of "
                            f"{describe(workload)}",
                        )
        if kind == "ScaledObject":
            check_scaled_object(doc, docs, where, problems)
        if kind == "TriggerAuthentication":
            for ref in doc["spec"].get("secretTargetRef") or []:
                secret = find(docs, "Secret", ref["name"])
                if secret is not None and ref["key"] not in secret_keys(secret):
                    problems.add(
                        where, f"{name}: key {ref['key']!r} missing in Secret {ref['name']!r}"
                    )


def check_scaled_object(doc: dict, docs: list[dict], where: str, problems: Problems) -> None:
    name = describe(doc)
    ref = doc["spec"]["scaleTargetRef"]
    target = find(docs, ref.get("kind", "Deployment"), ref["name"])
    if target is None:
        problems.add(where, f"{name}: scaleTargetRef {ref['name']!r} is not in the render")
    elif "replicas" in target.get("spec", {}):
        problems.add(
            where,
            f"{describe(target)}: sets replicas, which fights the ScaledObject "
            "on every apply; leave it out",
        )
    for trigger in doc["spec"]["triggers"]:
        auth = (trigger.get("authenticationRef") or {}).get("name")
        if auth and find(docs, "TriggerAuthentication", auth) is None:
            problems.add(where, f"{name}: authenticationRef {auth!r} is not in the render")
        if trigger.get("type") == "rabbitmq" and target is not None:
            # The work queue is "{AMQP_PREFIX}.jobs" (shared/src/topology.rs).
            container = pod_spec(target)["containers"][0]
            prefix = env_value(container, "AMQP_PREFIX", docs) or "imagepipe"
            queue = trigger["metadata"].get("queueName")
            if queue != f"{prefix}.jobs":
                problems.add(
                    where,
                    f"{name}: queueName {queue!r} but {describe(target)} "
                    f"consumes {prefix + '.jobs'!r} (AMQP_PREFIX)",
                )


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, required=True, help="the repository")
    parser.add_argument("--manifests", type=Path, required=True, help="folder of kustomizations")
    parser.add_argument("--crds", type=Path, required=True, help="folder of CRD files")
    parser.add_argument("--kubernetes-version", action="append", required=True, dest="versions")
    parser.add_argument("--require-render", action="store_true", help="fail if kubectl is missing")
    args = parser.parse_args()

    root = args.root.resolve()
    for folder in (args.manifests, args.crds):
        if not folder.is_dir():
            raise SystemExit(f"FATAL {folder} is not a folder")
    problems = Problems()
    validator = Validator(args.versions, CustomKinds(args.crds, problems))
    folders = check_kustomizations(args.manifests.resolve(), root, validator, problems)

    kubectl = shutil.which("kubectl")
    rendered = 0
    if kubectl is None:
        message = (
            "kubectl not found: kustomizations not rendered, patches and consistency not checked"
        )
        if args.require_render:
            problems.add("kubectl", message)
        else:
            print(f"WARNING {message}", file=sys.stderr)
    else:
        for folder in folders:
            where = str(folder.relative_to(root))
            docs = render(folder, kubectl, root, problems)
            for doc in docs:
                validator.object(doc, f"{where} (rendered)", problems)
            check_workloads(docs, f"{where} (rendered)", problems)
            check_links(docs, f"{where} (rendered)", problems)
            rendered += 1
            print(f"ok   {where}: {len(docs)} objects rendered and checked")

    if problems.items:
        print(f"FAILED: {len(problems.items)} problem(s) in the manifests", file=sys.stderr)
        return 1
    print(
        f"manifests ok: {len(folders)} kustomization(s), {rendered} rendered, "
        f"Kubernetes {', '.join(args.versions)}, KEDA CRDs from {args.crds}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
