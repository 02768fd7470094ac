"""Typed, strict run configuration loaded from YAML.

Unknown keys are refused everywhere, so a typo fails before anything is written, with an
error that names the key and where it was found.
"""
from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp.constants import ATTRIBUTE_NAMES, KNOWN_ID_TYPES, SOURCE_FORMATS


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
    # event times outside [event_time_min (UTC midnight), now + event_time_max_days_in_future] are stored
    # as null, their reason in event_time_issue (before_min | future); null switches a bound off
    event_time_min: date | None = date(1990, 1, 1)
    event_time_max_days_in_future: int | None = Field(default=2, ge=0)
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
            # all the same digit; ascending or descending runs (0123456789, 1234567890, 9876543210)
            "phone": (r"^\+91(\d)\1{9}$", r"^\+91(0123456789|1234567890|9876543210|0987654321)$"),
            "email": (r"@(example\.(com|org|net)|test\.com|mailinator\.com)$",
                      r"^(test|no|none|noemail|nomail|na|null|dummy|abc|xyz|asdf)[0-9]*@"),
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
    # identifier types a source may map besides cdp.constants.KNOWN_ID_TYPES (others are refused as typos)
    custom_id_types: tuple[str, ...] = ()
    checkpoint_interval: int = Field(default=2, ge=1)
    max_iterations: int = Field(default=100, ge=1)
    # an identifier value seen with more distinct names (initial + phonetic surname) than this is
    # suspect and held out of linking, like one over max_interactions_per_identifier
    max_names_per_identifier: dict[str, int] = Field(
        default_factory=lambda: {"phone": 8, "email": 6}
    )
    # uniqueness limits: a customer holds at most this many values of a type. A component over a
    # limit is split by dropping its weakest links (see link_priority) and recomputed alone.
    max_values_per_customer: dict[str, int] = Field(
        default_factory=lambda: {"customer_id": 1, "loyalty_id": 1, "email": 10, "phone": 10}
    )
    # link strength when a component must be split: higher survives; "fuzzy" is the match model's
    # links (among them the lowest score goes first), "steward" a `cdp link` override; then the
    # oldest link goes first. Types not listed get "default".
    link_priority: dict[str, int] = Field(
        default_factory=lambda: {"steward": 1000, "customer_id": 100, "loyalty_id": 90, "email": 80,
                                 "phone": 70, "device_id": 50, "cookie_id": 40, "default": 50, "fuzzy": 10}
    )
    # hard cap: a component with more interactions is split (weakest links first) and reported
    max_customer_interactions: int = Field(default=2000, ge=1)
    # household guard: an interaction whose full name starts with another letter than the name
    # most of a value's interactions carry (its owner, seen at least household_guard_min_owner
    # times, more often than this name) does not link through it: a family member's bill keyed
    # by the head's mobile. It stays a fuzzy-match candidate; silver/guarded_links lists it.
    household_guard_types: tuple[str, ...] = ("phone",)
    household_guard_min_owner: int = Field(default=2, ge=1)

    def cap_for(self, id_type: str) -> int:
        caps = self.max_interactions_per_identifier
        return caps.get(id_type, caps.get("default", 1000))

    def priority_of(self, link_type: str) -> int:
        return self.link_priority.get(link_type, self.link_priority.get("default", 50))


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


Severity = Literal["critical", "warning"]

# Quality checks per layer and their default severity (a failing critical check stops the run;
# a failing warning goes to the report). README "Quality gates" documents each check.
QUALITY_CHECKS: dict[str, dict[str, str]] = {
    "bronze": {"record_id_present": "critical", "row_count_nonzero": "critical",
               "event_time_parseable": "warning"},
    "silver": {"interaction_id_unique": "critical", "phone_present": "warning", "phone_e164": "critical",
               "email_present": "warning", "email_format": "critical", "event_time_window": "warning",
               "valid_identifier_share": "warning"},
    "gold": {"interaction_id_unique": "critical", "row_count_matches_interactions": "critical",
             "customer_id_not_null": "critical", "max_customer_interactions": "critical",
             "match_rate_drop": "critical"},
}


class _LayerQualityConfig(_Strict):
    LAYER: ClassVar[str] = ""
    severity: dict[str, Severity] = Field(default_factory=dict)  # check -> critical | warning

    @field_validator("severity")
    @classmethod
    def _known_checks(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(QUALITY_CHECKS[cls.LAYER]))
        if unknown:
            raise ValueError(f"unknown {cls.LAYER} check(s) {unknown}; checks: {list(QUALITY_CHECKS[cls.LAYER])}")
        return v

    def severity_of(self, check: str) -> str:
        return self.severity.get(check, QUALITY_CHECKS[self.LAYER][check])


class BronzeQualityConfig(_LayerQualityConfig):
    LAYER: ClassVar[str] = "bronze"
    record_id_present_mostly: float = Field(default=1.0, ge=0, le=1)
    # share of a source's bronze rows whose event_time parses (a missing value does not)
    event_time_parseable_mostly: float = Field(default=0.95, ge=0, le=1)
    event_time_parseable_by_source: dict[str, float] = Field(default_factory=dict)

    def event_time_mostly(self, source: str) -> float:
        return self.event_time_parseable_by_source.get(source, self.event_time_parseable_mostly)


class SilverQualityConfig(_LayerQualityConfig):
    LAYER: ClassVar[str] = "silver"
    phone_pattern: str = r"^\+[1-9]\d{6,14}$"  # E.164
    email_pattern: str = r"^[^@\s]+@([a-z0-9-]+\.)+[a-z]{2,63}$"
    identifier_present_mostly: float = Field(default=1.0, ge=0, le=1)  # valid rows with a non-null value
    identifier_pattern_mostly: float = Field(default=1.0, ge=0, le=1)  # non-null valid values matching
    # the window is standardize's: event_time_min and event_time_max_days_in_future
    event_time_window_mostly: float = Field(default=0.99, ge=0, le=1)
    valid_identifier_share_min: float = Field(default=0.5, ge=0, le=1)
    valid_identifier_share_by_source: dict[str, float] = Field(default_factory=dict)

    @field_validator("phone_pattern", "email_pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"{v!r} is not a valid regular expression: {exc}") from None
        return v

    def valid_share_min(self, source: str) -> float:
        return self.valid_identifier_share_by_source.get(source, self.valid_identifier_share_min)


class GoldQualityConfig(_LayerQualityConfig):
    LAYER: ClassVar[str] = "gold"
    max_customer_interactions: int = Field(default=10_000, ge=1)
    max_match_rate_drop_points: float = Field(default=5.0, ge=0, le=100)


class QualityConfig(_Strict):
    """Great Expectations gates after land (bronze), after standardize (silver), before profile (gold)."""
    enabled: bool = True
    # the GX project folder (suites, results, Data Docs); default <storage.root>/gx; must be local
    gx_dir: str | None = None
    bronze: BronzeQualityConfig = Field(default_factory=BronzeQualityConfig)
    silver: SilverQualityConfig = Field(default_factory=SilverQualityConfig)
    gold: GoldQualityConfig = Field(default_factory=GoldQualityConfig)

    @field_validator("gx_dir")
    @classmethod
    def _local_dir(cls, v: str | None) -> str | None:
        if v is not None and "://" in v:
            raise ValueError(f"{v!r}: Great Expectations keeps its project on a local (driver) disk; "
                             "give a local folder")
        return v


class ErasureConfig(_Strict):
    """`cdp forget`: what erasure keeps and how re-landed data of an erased person is treated."""
    # hours of history VACUUM keeps after an erasure; 0 = the erased rows are unreadable at once.
    # Tables touched by an erasure are rewritten without their Delta history (see README "Erasure").
    vacuum_retention_hours: int = Field(default=0, ge=0)
    # key for the salted hashes in meta/suppression; default: the environment variable
    # CDP_ERASURE_SALT, else a random key kept in <storage.root>/meta/_erasure_salt (created once)
    salt_env: str = "CDP_ERASURE_SALT"
    # a re-landed record carrying a suppressed identifier is dropped (counted as suppressed) unless
    # its event time is after the erasure and this is true (the person came back and interacted)
    allow_new_interactions: bool = True


class CdpConfig(_Strict):
    storage: StorageConfig = Field(default_factory=StorageConfig)
    spark: dict[str, Any] = Field(default_factory=dict)
    sources: tuple[SourceConfig, ...] = ()
    sources_file: str | None = None
    standardize: StandardizeConfig = Field(default_factory=StandardizeConfig)
    resolve: ResolveConfig = Field(default_factory=ResolveConfig)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    erasure: ErasureConfig = Field(default_factory=ErasureConfig)
    base_dir: str = "."  # directory of the config file; filled in by load_config

    @model_validator(mode="after")
    def _unique_sources(self) -> "CdpConfig":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self

    @model_validator(mode="after")
    def _known_id_types(self) -> "CdpConfig":
        """Every identifier type used (sources' identifiers, resolve's per-type settings) is built in
        or declared in resolve.custom_id_types, so a typo like `emial` fails instead of linking nothing."""
        allowed = [*KNOWN_ID_TYPES, *self.resolve.custom_id_types]
        used = [(f"sources.{i}({s.name}).identifiers.{t}", t)
                for i, s in enumerate(self.sources) for t in s.identifiers]
        used += [("resolve.known_id_types", t) for t in self.resolve.known_id_types]
        used += [("resolve.max_interactions_per_identifier", t)
                 for t in self.resolve.max_interactions_per_identifier if t != "default"]
        used += [(f"resolve.{key}", t)
                 for key in ("max_names_per_identifier", "max_values_per_customer")
                 for t in getattr(self.resolve, key)]
        used += [("resolve.link_priority", t) for t in self.resolve.link_priority
                 if t not in ("default", "fuzzy", "steward")]
        problems = []
        for where, t in used:
            if t not in allowed:
                close = difflib.get_close_matches(t, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"{where}: unknown identifier type {t!r}{hint}")
        if problems:
            raise ValueError("; ".join(problems) + f" (allowed: {allowed}; to use a type of your own, "
                             "list it in resolve.custom_id_types)")
        return self

    @model_validator(mode="after")
    def _quality_settings(self) -> "CdpConfig":
        names = {s.name for s in self.sources}
        q = self.quality
        for key, by_source in (("bronze.event_time_parseable_by_source", q.bronze.event_time_parseable_by_source),
                               ("silver.valid_identifier_share_by_source", q.silver.valid_identifier_share_by_source)):
            unknown = sorted(set(by_source) - names)
            if unknown:
                raise ValueError(f"quality.{key}: unknown source(s) {unknown}; configured: {sorted(names)}")
            bad = sorted(k for k, v in by_source.items() if not 0 <= v <= 1)
            if bad:
                raise ValueError(f"quality.{key}: shares must be between 0 and 1; check {bad}")
        if q.enabled and q.gx_dir is None and "://" in self.storage.root:
            raise ValueError(
                f"storage.root {self.storage.root!r} is a URI, but Great Expectations keeps its project and "
                "Data Docs on a local disk: set quality.gx_dir to a local folder on the driver "
                "(e.g. /dbfs/cdp/gx on Databricks), or quality.enabled: false")
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
        if not sf.exists():
            raise ConfigError(
                f"{origin}: sources_file {sources_file!r} (resolved to {sf}) does not exist; a relative "
                f"sources_file is relative to the config file's folder {base_dir}: fix the path, or copy "
                "the sources file along with the config (its relative paths are relative to the config file too)")
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
    "BlockingRule", "TrainingConfig", "QualityConfig", "QUALITY_CHECKS",
    "load_config", "config_from_dict", "SOURCE_FORMATS",
]
