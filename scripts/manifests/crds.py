"""Custom kinds (KEDA's), validated against the `openAPIV3Schema` of their CRDs as the API
server would with field validation on: strictly, with `metadata` checked as Kubernetes'
ObjectMeta, and with the CRDs' CEL rules. kubernetes-validate knows only the core kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import jsonschema
import referencing
import yaml

from .problems import Problems, describe

DEFINITIONS = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = f"{DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _min_le_max(spec: dict) -> bool:
    return "minReplicaCount" not in spec or spec["minReplicaCount"] <= spec.get(
        "maxReplicaCount", 100
    )


# The CEL rules (x-kubernetes-validations) implemented here. A CRD with any other rule fails
# the run, so a newer CRD never has a rule silently skipped.
CEL_RULES: dict[str, Callable[[dict], bool]] = {
    "!has(self.minReplicaCount) || self.minReplicaCount <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)": _min_le_max,
}

# Formats the API server enforces that jsonschema does not know.
FORMATS = jsonschema.FormatChecker()
FORMATS.checks("int32")(lambda v: not isinstance(v, int) or -(2**31) <= v < 2**31)
FORMATS.checks("int64")(lambda v: not isinstance(v, int) or -(2**63) <= v < 2**63)


def _strict(schema: Any) -> Any:
    """An OpenAPI v3 schema as JSON Schema where an object that lists its properties accepts
    no other field (unless it says it preserves unknown fields) and `nullable` allows null."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if out.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _cel_rules(schema: Any, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """(path within the object, rule) for every CEL rule in a schema; `*` is any list item."""
    if not isinstance(schema, dict):
        return []
    found = [(path, rule) for rule in schema.get("x-kubernetes-validations", [])]
    for name, sub in (schema.get("properties") or {}).items():
        found += _cel_rules(sub, path + (name,))
    if "items" in schema:
        found += _cel_rules(schema["items"], path + ("*",))
    return found


def _at(doc: Any, path: tuple) -> list:
    if not path:
        return [doc]
    head, rest = path[0], path[1:]
    if head == "*":
        return [x for item in (doc if isinstance(doc, list) else []) for x in _at(item, rest)]
    return _at(doc[head], rest) if isinstance(doc, dict) and head in doc else []


class CustomKinds:
    """The served versions of the kinds the CRDs in a folder define."""

    def __init__(self, crd_dir: Path, problems: Problems) -> None:
        self.schemas: dict[tuple[str, str], dict] = {}
        self.rules: dict[tuple[str, str], list[tuple[tuple, dict]]] = {}
        for path in sorted(crd_dir.glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if (crd or {}).get("kind") == "CustomResourceDefinition":
                    self._add(crd, str(path), problems)
        if not self.schemas:
            raise SystemExit(f"FATAL no CustomResourceDefinition in {crd_dir}/*.yaml")

    def _add(self, crd: dict, where: str, problems: Problems) -> None:
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            key = (f"{crd['spec']['group']}/{version['name']}", kind)
            raw = version["schema"]["openAPIV3Schema"]
            schema = _strict(raw)
            schema["properties"]["metadata"] = {"$ref": OBJECT_META}
            self.schemas[key] = schema
            self.rules[key] = _cel_rules(raw)
            for _, rule in self.rules[key]:
                if rule["rule"] not in CEL_RULES:
                    problems.add(where, f"{kind}: CEL rule not implemented: {rule['rule']!r}")

    def knows(self, doc: dict) -> bool:
        return (doc.get("apiVersion"), doc.get("kind")) in self.schemas

    def validate(self, doc: dict, definitions: dict, where: str, problems: Problems) -> None:
        """Validates `doc`, with `definitions` (one Kubernetes version's) for ObjectMeta."""
        key = (doc["apiVersion"], doc["kind"])
        registry = referencing.Registry().with_resource(
            DEFINITIONS, referencing.Resource.from_contents(definitions)
        )
        validator = jsonschema.Draft202012Validator(
            self.schemas[key], registry=registry, format_checker=FORMATS
        )
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            at = ".".join(str(p) for p in error.absolute_path) or "(root)"
            problems.add(where, f"{describe(doc)} {at}: {error.message}")
        for path, rule in self.rules[key]:
            check = CEL_RULES.get(rule["rule"])
            for target in _at(doc, path):
                if check and isinstance(target, dict) and not check(target):
                    problems.add(where, f"{describe(doc)}: {rule.get('message', rule['rule'])}")
