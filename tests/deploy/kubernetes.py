"""Offline validation of Kubernetes manifests: core kinds against the schemas the
`kubernetes-validate` package ships, custom resources against the CRDs' own OpenAPI schemas
(Strimzi, KEDA, Prometheus operator), read from `../shared/crds/` beside the repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO.parent / "shared" / "crds"
KUBERNETES_VERSION = "1.33"


def strict_json_schema(schema: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema, strict as the API server's field
    validation: unknown fields are refused unless the schema preserves them."""
    if isinstance(schema, list):
        return [strict_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_json_schema(v) for k, v in schema.items()
           if k not in ("properties", "additionalProperties")}  # fmt: skip
    if "properties" in schema:
        out["properties"] = {k: strict_json_schema(v) for k, v in schema["properties"].items()}
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        out["additionalProperties"] = (
            extra if isinstance(extra, bool) else strict_json_schema(extra)
        )
    elif "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def crd_schemas(directory: Path = CRDS) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema, for every served version of every CRD there."""
    if not directory.is_dir():
        raise FileNotFoundError(f"no CRDs at {directory} (shared/ must sit beside the repo)")
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text("utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = version["schema"]["openAPIV3Schema"]
                    schemas[(f"{group}/{version['name']}", kind)] = strict_json_schema(schema)
    return schemas


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text("utf-8")):
        if document:
            yield document


def kustomize_resources(directory: Path) -> list[Path]:
    """The manifest files a kustomization includes, following directories recursively (the
    project's kustomizations use `resources` only: no patches, nothing generated)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images"}, (
        f"{directory}: only resources (and namespace, images) are understood here"
    )
    files: list[Path] = []
    for entry in kustomization["resources"]:
        target = (directory / entry).resolve()
        if target.is_dir():
            files += kustomize_resources(target)
        else:
            assert target.is_file(), f"{directory}/kustomization.yaml names missing {entry}"
            files.append(target)
    return files


def validate(document: dict[str, Any], custom: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Raise jsonschema.ValidationError (or kubernetes_validate's) for an invalid manifest."""
    key = (document.get("apiVersion", ""), document.get("kind", ""))
    if key in custom:
        jsonschema.Draft7Validator(custom[key]).validate(document)
        return
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
