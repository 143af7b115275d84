"""Every object against its schema for each Kubernetes version: core kinds with
kubernetes-validate (strict: unknown fields are errors, as with `kubectl apply`'s server-side
field validation), custom kinds against their CRDs."""

from __future__ import annotations

import kubernetes_validate
import kubernetes_validate.utils as kv_utils

from .crds import CustomKinds
from .problems import Problems, describe


def _definitions(version: str) -> dict:
    """Kubernetes' shared definitions (ObjectMeta, ...) as kubernetes-validate ships them."""
    schemas = kv_utils.all_versions()
    chosen = [v for v in schemas if kv_utils.major_minor(v) <= kv_utils.major_minor(version)]
    if not chosen:
        raise SystemExit(f"FATAL kubernetes-validate has no schemas for Kubernetes {version}")
    return kv_utils.schema_contents(
        f"kubernetes-json-schema/v{chosen[-1]}-local-strict/_definitions.json", version
    )


class Schemas:
    def __init__(self, versions: list[str], custom: CustomKinds) -> None:
        self.versions = versions
        self.custom = custom
        self.definitions = {version: _definitions(version) for version in versions}

    def validate(self, doc: dict, where: str, problems: Problems) -> None:
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
                    f"{describe(doc)}: {err.message}; add its CRD to the CRD folder "
                    "or fix apiVersion/kind",
                )
