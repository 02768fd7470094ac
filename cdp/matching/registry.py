"""MLflow: where runs and the registered match model live, and how the champion is chosen.

The alias ``champion`` on the registered model moves to a new version only when that version
beats the current champion on the same validation pairs; resolve loads
``models:/<model_name>@champion`` (or the version pinned in conf).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from cdp.config import CdpConfig, ConfigError
from cdp.constants import MLFLOW_ARTIFACTS, MLFLOW_DB
from cdp.matching.features import FEATURE_COLUMNS

log = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
TAG_THRESHOLD = "threshold"
TAG_FEATURES = "features"
TAG_MODEL_TYPE = "model_type"


def tracking_uri(conf: CdpConfig) -> str:
    """matching.mlflow.tracking_uri, or a sqlite database under storage.root (MLflow 3 deprecates
    the file store)."""
    uri = conf.matching.mlflow.tracking_uri
    if uri:
        return uri
    return "sqlite:///" + conf.table_path(MLFLOW_DB)


def artifact_location(conf: CdpConfig) -> str:
    return conf.table_path(MLFLOW_ARTIFACTS)


def _client(conf: CdpConfig):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(conf)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(conf: CdpConfig, name: str | None = None) -> str:
    """The id of experiment ``name`` (default matching.mlflow.experiment); a new one keeps its
    artifacts under storage.root, next to the default database."""
    client = _client(conf)
    name = name or conf.matching.mlflow.experiment
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    if conf.matching.mlflow.tracking_uri:  # a configured server keeps its own artifact store
        return client.create_experiment(name)
    return client.create_experiment(name, artifact_location="file://" + artifact_location(conf))


@dataclass(frozen=True)
class MatchModel:
    """A registered match model loaded for scoring."""
    model: Any  # pyspark.ml.PipelineModel
    name: str
    version: str
    threshold: float
    model_type: str


def _version_entity(conf: CdpConfig):
    """The pinned version or the champion's; None when there is none (with the reason)."""
    from mlflow.exceptions import MlflowException

    client = _client(conf)
    name = conf.matching.model_name
    try:
        if conf.matching.model_version is not None:
            return client.get_model_version(name, str(conf.matching.model_version)), None
        return client.get_model_version_by_alias(name, CHAMPION_ALIAS), None
    except MlflowException as exc:
        if conf.matching.model_version is not None:
            # a pinned version that is not there is a config error: falling back to deterministic-only
            # would silently split every earlier fuzzy merge
            raise ConfigError(
                f"matching.model_version: {name} version {conf.matching.model_version} is not registered at "
                f"{tracking_uri(conf)}; registered versions: {_registered_versions(client, name)} "
                "(fix the pin, or remove it to use the @champion alias)") from None
        return None, (f"no registered model {name} alias @{CHAMPION_ALIAS} at {tracking_uri(conf)} "
                      f"({exc.error_code}); run `cdp train --conf FILE` or `cdp run --train --conf FILE`")


def _registered_versions(client, name: str) -> list[int]:
    from mlflow.exceptions import MlflowException

    try:
        return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    except MlflowException:
        return []


def describe_model(conf: CdpConfig) -> tuple[dict[str, Any] | None, str | None]:
    """(version info, None) or (None, reason) without loading the model."""
    mv, reason = _version_entity(conf)
    if mv is None:
        return None, reason
    return {"name": mv.name, "version": mv.version, "tags": dict(mv.tags or {}), "run_id": mv.run_id}, None


def load_match_model(conf: CdpConfig) -> tuple[MatchModel | None, str | None]:
    """(model, None), or (None, why) when no model is registered or it cannot be used."""
    import mlflow.spark

    mv, reason = _version_entity(conf)
    if mv is None:
        return None, reason
    tags = dict(mv.tags or {})
    features = json.loads(tags.get(TAG_FEATURES, "[]"))
    if features != list(FEATURE_COLUMNS):
        return None, (f"model {mv.name} v{mv.version} was trained on features {features}, this engine computes "
                      f"{list(FEATURE_COLUMNS)}; retrain with `cdp train`")
    threshold = conf.matching.threshold if conf.matching.threshold is not None else float(tags[TAG_THRESHOLD])
    model = mlflow.spark.load_model(f"models:/{mv.name}/{mv.version}")
    log.info("match model %s v%s loaded (threshold %r)", mv.name, mv.version, threshold)
    return MatchModel(model=model, name=mv.name, version=str(mv.version), threshold=threshold,
                      model_type=tags.get(TAG_MODEL_TYPE, "?")), None


def set_champion(conf: CdpConfig, version: str) -> None:
    _client(conf).set_registered_model_alias(conf.matching.model_name, CHAMPION_ALIAS, version)


def tag_version(conf: CdpConfig, version: str, tags: dict[str, str]) -> None:
    client = _client(conf)
    for k, v in tags.items():
        client.set_model_version_tag(conf.matching.model_name, version, k, v)
