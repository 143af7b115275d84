"""Project-specific checks of the Kubernetes manifests, run by scripts/validate_manifests.py.

kustomize (`kubectl kustomize`) checks the kustomizations themselves (fields, files, patches,
YAML) and kubernetes-validate the core kinds' schemas; these modules add what neither knows:

- problems: collects every problem, so one run reports them all
- kustomizations: every file under the manifests folder is applied by some kustomization,
  and none fetches anything remote
- render: renders each kustomization with kubectl
- crds: KEDA's kinds, strictly against their CRDs' schemas and CEL rules
- schemas: every rendered object against its schema (kubernetes-validate or a CRD)
- objects: lookups in a render shared by the checks below
- references: ConfigMaps, Secrets, keys, selectors and targets exist in the render
- ports: the services listen where their probes and Services look
- settings: settings that must agree across objects (grace periods, queue names)
- containers: resources and security settings of every container
"""
