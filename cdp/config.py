"""Typed, strict run configuration loaded from YAML.

Unknown keys are refused everywhere, so a typo fails before anything is written, with an
error that names the key and where it was found.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp.constants import ATTRIBUTE_NAMES, SOURCE_FORMATS


class ConfigError(ValueError):
    """A configuration problem, with a message that says how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Strict):
    root: str = "./warehouse"


class EventTimeConfig(_Strict):
    column: str
    format: str = "iso8601"  # a Spark datetime pattern | iso8601 | epoch_s | epoch_ms
    timezone: str | None = None  # default: standardize.default_timezone


class EventTypeConfig(_Strict):
    value: str | None = None
    column: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "EventTypeConfig":
        if (self.value is None) == (self.column is None):
            raise ValueError("event_type takes exactly one of {value: CONSTANT} or {column: NAME}")
        return self


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SourceConfig(_Strict):
    name: str
    channel: str
    format: Literal["csv", "json", "jsonl", "parquet", "delta"]
    path: str
    options: dict[str, Any] = Field(default_factory=dict)
    record_id: str
    event_time: EventTimeConfig | None = None
    event_type: EventTypeConfig | None = None
    identifiers: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    measures: dict[str, str] = Field(default_factory=dict)
    country: str | None = None  # default: standardize.default_country

    @field_validator("name", "channel")
    @classmethod
    def _identifier_like(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"{v!r} must be lower-case letters, digits and _ (it names a table)")
        return v

    @field_validator("attributes")
    @classmethod
    def _known_attributes(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(ATTRIBUTE_NAMES))
        if unknown:
            raise ValueError(f"unknown attribute(s) {unknown}; allowed: {list(ATTRIBUTE_NAMES)}")
        return v

    @field_validator("identifiers")
    @classmethod
    def _id_type_names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not _NAME_RE.match(k)]
        if bad:
            raise ValueError(f"identifier type names {bad} must be lower-case letters, digits and _")
        return v


class StandardizeConfig(_Strict):
    default_region: str = "IN"
    default_country: str = "IN"
    default_timezone: str = "Asia/Kolkata"
    dob_min: str = "1900-01-01"  # earlier dates of birth are treated as invalid (null)
    null_tokens: tuple[str, ...] = ("null", "nan", "na", "n/a", "none", "-", "", "nil", "undefined")
    placeholder_values: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "phone": ("9999999999", "0000000000", "1234567890", "9876543210", "1111111111"),
            "email": ("test@test.com", "na@na.com", "unknown@example.com", "noemail@noemail.com",
                      "none@none.com", "abc@abc.com", "no@email.com"),
        }
    )
    # A value of a type matching one of these (after normalisation) is a placeholder too.
    placeholder_patterns: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "phone": (r"^\+91(\d)\1{9}$",),
            "email": (r"@(example\.(com|org|net)|test\.com|mailinator\.com)$",),
        }
    )


class ResolveConfig(_Strict):
    engine: Literal["auto", "graphframes", "spark"] = "auto"
    algorithm: Literal["two_phase", "graphx", "randomized_contraction"] = "two_phase"
    # an identifier value linked to more interactions than this is held out of linking
    max_interactions_per_identifier: dict[str, int] = Field(
        default_factory=lambda: {"default": 1000, "phone": 500, "email": 500}
    )
    known_id_types: tuple[str, ...] = ("email", "phone", "customer_id", "loyalty_id")
    checkpoint_interval: int = Field(default=2, ge=1)
    max_iterations: int = Field(default=100, ge=1)

    def cap_for(self, id_type: str) -> int:
        caps = self.max_interactions_per_identifier
        return caps.get(id_type, caps.get("default", 1000))


class BlockingRule(_Strict):
    """Candidate pairs share every key of a rule (keys: see cdp.matching.blocking.BLOCKING_KEYS)."""
    name: str
    keys: tuple[str, ...] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _rule_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"{v!r} must be lower-case letters, digits and _")
        return v

    @field_validator("keys")
    @classmethod
    def _known_keys(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from cdp.matching.keys import BLOCKING_KEYS

        unknown = [k for k in v if k not in BLOCKING_KEYS]
        if unknown:
            raise ValueError(f"unknown blocking key(s) {unknown}; allowed: {sorted(BLOCKING_KEYS)}")
        return v


def _default_blocking_rules() -> tuple[BlockingRule, ...]:
    return (
        BlockingRule(name="surname_pincode", keys=("surname_phonetic", "pincode")),
        BlockingRule(name="first_dob", keys=("first_phonetic", "dob")),
        BlockingRule(name="phone_head_initial", keys=("phone_head", "first_initial")),
        BlockingRule(name="phone_tail_initial", keys=("phone_tail", "first_initial")),
        BlockingRule(name="email_local", keys=("email_local",)),
        BlockingRule(name="surname_city", keys=("surname_phonetic", "city")),
    )


class TruthLabelsConfig(_Strict):
    """A truth table (CSV with header): records with the same entity are the same person."""
    path: str
    entity_column: str = "person_id"
    source_column: str = "source"
    record_id_column: str = "record_id"
    source: str | None = None  # for a file without a source column: the source all its rows belong to


class TrainingConfig(_Strict):
    truth: TruthLabelsConfig | None = None
    # CSV: left_source,left_record_id,right_source,right_record_id,label (1 = same person)
    labels: str | None = None
    # positives: pairs already joined by identifiers; negatives: in-block pairs whose customers
    # hold different values of a weak_negative_id_types identifier
    weak_labels: bool = True
    weak_negative_id_types: tuple[str, ...] = ("customer_id", "loyalty_id")
    model_types: tuple[Literal["gbt", "logistic_regression"], ...] = ("gbt", "logistic_regression")
    validation_fraction: float = Field(default=0.3, gt=0, lt=1)
    # the threshold: best cluster-level validation F1 (matches followed transitively) among
    # thresholds whose cluster-level precision over the labelled validation pairs is >= this
    min_precision: float = Field(default=0.99, gt=0, le=1)
    max_training_pairs: int = Field(default=300_000, ge=100)
    seed: int = 42

    @model_validator(mode="after")
    def _some_labels(self) -> "TrainingConfig":
        if self.truth is None and self.labels is None and not self.weak_labels:
            raise ValueError("training needs labels: set truth:, labels: or weak_labels: true")
        return self


class MlflowConfig(_Strict):
    tracking_uri: str | None = None  # default: sqlite:///<storage.root>/mlflow.db
    experiment: str = "cdp_match"


class MatchingConfig(_Strict):
    enabled: bool = True  # false: deterministic links only
    model_name: str = "cdp_match_model"
    model_version: int | None = None  # pin a registered version; default: the 'champion' alias
    threshold: float | None = Field(default=None, ge=0, le=1)  # default: the model version's own
    # TSV of roman spelling TAB native script: spellings sharing the native form are variants
    name_variants: str | None = None
    max_block_size: int = Field(default=300, ge=2)
    blocking_rules: tuple[BlockingRule, ...] = Field(default_factory=_default_blocking_rules)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)

    @model_validator(mode="after")
    def _unique_rules(self) -> "MatchingConfig":
        names = [r.name for r in self.blocking_rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"blocking rule names must be unique; repeated: {dupes}")
        return self


class ReportConfig(_Strict):
    largest_customers: int = Field(default=10, ge=1)


class CdpConfig(_Strict):
    storage: StorageConfig = Field(default_factory=StorageConfig)
    spark: dict[str, Any] = Field(default_factory=dict)
    sources: tuple[SourceConfig, ...] = ()
    sources_file: str | None = None
    standardize: StandardizeConfig = Field(default_factory=StandardizeConfig)
    resolve: ResolveConfig = Field(default_factory=ResolveConfig)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    base_dir: str = "."  # directory of the config file; filled in by load_config

    @model_validator(mode="after")
    def _unique_sources(self) -> "CdpConfig":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self

    @property
    def root(self) -> str:
        return self.resolve_path(self.storage.root)

    def resolve_path(self, path: str) -> str:
        """Paths in the config are relative to the config file; URIs (s3://, hdfs://) are kept."""
        if "://" in path or path.startswith("/"):
            return path
        return str((Path(self.base_dir) / path).resolve())

    def table_path(self, table: str) -> str:
        return f"{self.root.rstrip('/')}/{table}"

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r}; configured: {[s.name for s in self.sources]}")


def _format_validation_error(err: ValidationError, origin: str, data: dict[str, Any]) -> str:
    lines = [f"invalid configuration in {origin}:"]
    sources = data.get("sources") if isinstance(data.get("sources"), list) else []
    for e in err.errors():
        parts = [str(p) for p in e["loc"]]
        if len(parts) >= 2 and parts[0] == "sources" and parts[1].isdigit() and int(parts[1]) < len(sources):
            entry = sources[int(parts[1])]
            name = entry.get("name") if isinstance(entry, dict) else None
            parts[1] = f"{parts[1]}({name})" if name else parts[1]
        loc = ".".join(parts) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see README 'Configuration')"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc


def config_from_dict(data: dict[str, Any], base_dir: str = ".", origin: str = "<dict>") -> CdpConfig:
    """Validate a config mapping (as loaded from YAML)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping, got {type(data).__name__}")
    data = dict(data)
    data["base_dir"] = base_dir
    sources_file = data.get("sources_file")
    if sources_file:
        if data.get("sources"):
            raise ConfigError(f"{origin}: give either sources: or sources_file:, not both")
        sf = Path(sources_file) if Path(sources_file).is_absolute() else Path(base_dir) / sources_file
        loaded = _read_yaml(sf)
        if isinstance(loaded, dict) and "sources" in loaded:
            loaded = loaded["sources"]
        if not isinstance(loaded, list):
            raise ConfigError(f"{sf}: expected a list of sources")
        data["sources"] = loaded
    try:
        return CdpConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin, data)) from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> CdpConfig:
    """Load and validate a YAML config file. Relative paths inside it are relative to it."""
    path = Path(path).resolve()
    data = _read_yaml(path) or {}
    if overrides:
        data = _deep_merge(data, overrides)
    return config_from_dict(data, base_dir=str(path.parent), origin=str(path))


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


__all__ = [
    "CdpConfig", "ConfigError", "SourceConfig", "StandardizeConfig", "ResolveConfig", "MatchingConfig",
    "BlockingRule", "TrainingConfig",
    "load_config", "config_from_dict", "SOURCE_FORMATS",
]
