"""Pydantic model of a properties profile (the ``wn-detect --json`` document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from wheelnext.core.metadata_models import FeatureName, Namespace, Value


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProfileFeature(_Model):
    name: FeatureName
    values: list[Value]
    multi_value: bool = False

    @model_validator(mode="after")
    def _unique_values(self) -> ProfileFeature:
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"feature {self.name!r} lists a value twice")
        return self


class ProfileProvider(_Model):
    namespace: Namespace
    status: Literal["ok", "absent", "failed"] = "ok"
    distribution: str = ""
    version: str = ""
    error: str | None = None
    features: list[ProfileFeature]

    @model_validator(mode="after")
    def _unique_features(self) -> ProfileProvider:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"namespace {self.namespace!r} lists a feature twice")
        return self


class Profile(_Model):
    """What a machine supports, per provider: ``{"providers": [...]}``."""

    providers: list[ProfileProvider]

    @model_validator(mode="after")
    def _unique_namespaces(self) -> Profile:
        ok = [p.namespace for p in self.providers if p.status == "ok"]
        if len(set(ok)) != len(ok):
            raise ValueError("a namespace appears twice with status 'ok'")
        return self
