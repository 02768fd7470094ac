"""Column-level normalisers: each takes and returns a Column, so callers apply them in one select.

Spark built-ins are used wherever they suffice; the two things Spark cannot do (libphonenumber
and Unicode NFC) run in vectorised ``pandas_udf``s. Identifier normalisers return
``struct<value string, is_valid boolean, reason string>`` (see :data:`ID_STRUCT`).

Reasons used: ``null_like``, ``invalid_phone``, ``lossy_scientific``, ``invalid_email``,
``placeholder``. An invalid value keeps its cleaned text in ``value`` so reports can show it;
only ``is_valid`` decides whether it may link anything.
"""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from datetime import date

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from cdp.config import StandardizeConfig
from cdp.constants import TIME_FORMATS_SPECIAL

log = logging.getLogger(__name__)

ID_STRUCT = StructType([
    StructField("value", StringType()),
    StructField("is_valid", BooleanType()),
    StructField("reason", StringType()),
])

REASON_NULL_LIKE = "null_like"
REASON_INVALID_PHONE = "invalid_phone"
REASON_LOSSY_SCIENTIFIC = "lossy_scientific"
REASON_INVALID_EMAIL = "invalid_email"
REASON_PLACEHOLDER = "placeholder"

HONORIFICS = ("mrs", "mr", "ms", "miss", "smt", "shri", "shree", "sri", "dr", "prof", "kumari")
# one or more honorifics at the start, each followed by a dot and/or whitespace
_HONORIFIC_RE = r"(?iU)^\s*(?:(?:" + "|".join(HONORIFICS) + r")(?:\.\s*|\s+))+"
_WS_RE = r"(?U)\s+"
_EDGE_WS_RE = r"(?U)^\s+|\s+$"

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
_EMAIL_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = (
    rf"^{_EMAIL_ATOM}(\.{_EMAIL_ATOM})*@"
    r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$"
)

DOB_PATTERNS = (
    "yyyy-MM-dd", "dd/MM/yyyy", "dd-MM-yyyy", "yyyy/MM/dd", "dd.MM.yyyy",
    # one-digit day/month variants, as typed in spreadsheets
    "yyyy-M-d", "d/M/yyyy", "d-M-yyyy", "yyyy/M/d", "d.M.yyyy",
)
_DOB_MIN = "1900-01-01"

_AMOUNT_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_MAX_EPOCH_S = 253402300799  # 9999-12-31T23:59:59Z


def _id_struct(value: Column, is_valid: Column, reason: Column) -> Column:
    return F.struct(
        value.cast("string").alias("value"),
        is_valid.cast("boolean").alias("is_valid"),
        reason.cast("string").alias("reason"),
    )


def null_like_struct() -> Column:
    """The identifier struct for a null or null-like raw value."""
    return _id_struct(F.lit(None), F.lit(False), F.lit(REASON_NULL_LIKE))


def strip(c: Column) -> Column:
    """Trim all Unicode white space (incl. NBSP) at both ends."""
    return F.regexp_replace(c.cast("string"), _EDGE_WS_RE, "")


def collapse_ws(c: Column) -> Column:
    """Trim and collapse inner runs of white space to one space."""
    return strip(F.regexp_replace(c.cast("string"), _WS_RE, " "))


def _empty_to_null(c: Column) -> Column:
    return F.when(c != "", c)


def let(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(value)`` with ``value`` computed once. A Column is a tree, so an expression used n
    times is copied n times; nested normalisers multiply the copies until the generated code
    passes Janino's 64 KB method limit (Spark then falls back to slower code and logs an error)."""
    return F.element_at(F.transform(F.array(value), body), 1)


def null_if_token(c: Column, tokens: Iterable[str]) -> Column:
    """Trimmed value, or null when it is a null-like token (case-insensitive) or empty."""
    toks = sorted({t.strip().lower() for t in tokens} | {""})
    t = strip(c)
    return F.when(~F.lower(t).isin(toks), t)


# --- phone ------------------------------------------------------------------------------

_SCI_RE = re.compile(r"^\+?(\d+)(?:\.(\d*))?[eE]\+?(\d+)$")
_DOT_ZERO_RE = re.compile(r"^(\+?\d+)\.0+$")


def phone_to_e164(raw: str | None, region: str) -> tuple[str | None, bool, str | None]:
    """(value, is_valid, reason) for one raw phone string; plain Python, used by the UDF."""
    import phonenumbers

    if raw is None:
        return None, False, REASON_NULL_LIKE
    s = raw.strip()
    if not s:
        return None, False, REASON_NULL_LIKE
    sci = _SCI_RE.match(s)
    if sci:
        whole, frac, exp = sci.group(1), sci.group(2) or "", int(sci.group(3))
        if exp > len(frac):  # digits would have to be invented: the sheet rounded them away
            return s, False, REASON_LOSSY_SCIENTIFIC
        if frac[exp:].strip("0"):  # not an integer
            return s, False, REASON_INVALID_PHONE
        candidate = whole + frac[:exp]
    else:
        dz = _DOT_ZERO_RE.match(s)
        candidate = dz.group(1) if dz else s
    try:
        num = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return s, False, REASON_INVALID_PHONE
    if not phonenumbers.is_valid_number(num):
        return s, False, REASON_INVALID_PHONE
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), True, None


@functools.lru_cache(maxsize=None)
def _phone_udf(region: str):
    @pandas_udf(ID_STRUCT)
    def _normalize(s: pd.Series) -> pd.DataFrame:
        cache: dict[str, tuple[str | None, bool, str | None]] = {}
        rows = []
        for raw in s:
            if raw is None or (isinstance(raw, float) and pd.isna(raw)):
                rows.append((None, False, REASON_NULL_LIKE))
                continue
            if raw not in cache:
                cache[raw] = phone_to_e164(raw, region)
            rows.append(cache[raw])
        return pd.DataFrame(rows, columns=["value", "is_valid", "reason"], index=s.index).astype(
            {"is_valid": bool}
        )

    return _normalize


def normalize_phone(c: Column, default_region: str) -> Column:
    """E.164 via libphonenumber (numbers without + are read in ``default_region``)."""
    return _phone_udf(default_region.upper())(strip(c))


def phone_country_code(region: str) -> int:
    """Calling code of a region (IN -> 91); 0 when unknown."""
    import phonenumbers

    return phonenumbers.country_code_for_region(region.upper())


# --- email ------------------------------------------------------------------------------

def normalize_email(c: Column) -> Column:
    """Lower-cased, trimmed; Gmail local parts lose dots and +tags; other domains keep both."""
    return let(F.lower(strip(c)), _email_struct)


def _email_struct(v: Column) -> Column:
    local = F.substring_index(v, "@", 1)
    domain = F.substring_index(v, "@", -1)
    is_gmail = domain.isin(*GMAIL_DOMAINS)
    gmail_local = F.regexp_replace(F.substring_index(local, "+", 1), r"\.", "")
    normalised = F.when(is_gmail, F.concat(gmail_local, F.lit("@gmail.com"))).otherwise(v)
    ok = v.rlike(_EMAIL_RE) & normalised.rlike(_EMAIL_RE)
    return (
        F.when(v.isNull() | (v == ""), null_like_struct())
        .when(ok, _id_struct(normalised, F.lit(True), F.lit(None)))
        .otherwise(_id_struct(v, F.lit(False), F.lit(REASON_INVALID_EMAIL)))
    )


# --- other identifiers ------------------------------------------------------------------

def normalize_generic_id(c: Column) -> Column:
    """customer_id, loyalty_id, device_id, cookie_id, custom: trimmed, inner white space
    collapsed, case kept (ids from different systems may be case-sensitive)."""
    v = collapse_ws(c)
    return F.when(v.isNull() | (v == ""), null_like_struct()).otherwise(
        _id_struct(v, F.lit(True), F.lit(None))
    )


def normalize_identifier(c: Column, id_type: str, std: StandardizeConfig) -> Column:
    """Dispatch on the identifier type, then mark placeholders."""
    if id_type == "phone":
        s = normalize_phone(c, std.default_region)
    elif id_type == "email":
        s = normalize_email(c)
    else:
        s = normalize_generic_id(c)
    return apply_placeholders(s, id_type, std)


def _phone_placeholder_forms(values: Iterable[str], region: str) -> set[str]:
    out = set(values)
    for v in values:
        value, ok, _ = phone_to_e164(v, region)
        if value is not None and value.startswith("+"):
            out.add(value)
    return out


def apply_placeholders(struct_col: Column, id_type: str, std: StandardizeConfig) -> Column:
    """Mark values listed in (or matching a pattern of) the type's placeholders as invalid,
    reason ``placeholder``; the value is kept. Phones are also compared by national digits."""
    values = tuple(std.placeholder_values.get(id_type, ()))
    patterns = tuple(std.placeholder_patterns.get(id_type, ()))
    if not values and not patterns:
        return struct_col
    return let(struct_col, lambda s: _placeholder_checked(s, id_type, values, patterns, std))


def _placeholder_checked(struct_col: Column, id_type: str, values: tuple[str, ...], patterns: tuple[str, ...],
                         std: StandardizeConfig) -> Column:
    value = struct_col.getField("value")
    cond = F.lit(False)
    if values:
        if id_type == "phone":
            forms = _phone_placeholder_forms(values, std.default_region)
            cc = phone_country_code(std.default_region)
            national = F.regexp_replace(value, rf"^\+{cc}", "") if cc else value
            cond = value.isin(*sorted(forms)) | national.isin(*sorted(forms))
        else:
            cond = value.isin(*values)
    for pat in patterns:
        cond = cond | value.rlike(pat)
    is_placeholder = value.isNotNull() & F.coalesce(cond, F.lit(False))
    return F.when(is_placeholder, _id_struct(value, F.lit(False), F.lit(REASON_PLACEHOLDER))).otherwise(
        struct_col
    )


# --- names ------------------------------------------------------------------------------

@pandas_udf(StringType())
def nfc(s: pd.Series) -> pd.Series:
    """Unicode NFC normalisation (vectorised)."""
    return s.str.normalize("NFC")


def _strip_honorifics(c: Column) -> Column:
    return F.regexp_replace(c, _HONORIFIC_RE, "")


def clean_display_name(c: Column) -> Column:
    """NFC, leading honorifics removed, white space collapsed, original case kept."""
    return _empty_to_null(collapse_ws(_strip_honorifics(collapse_ws(nfc(c.cast("string"))))))


def fold_name(c: Column, assume_nfc: bool = False) -> Column:
    """Comparison key for a name: NFC, no honorific, lower-case, .,-' to space, single spaces.

    ``assume_nfc=True`` skips the NFC UDF for input that is already NFC (e.g. the output of
    :func:`clean_display_name`), saving a Python round trip."""
    c = c.cast("string")
    v = F.lower(_strip_honorifics(collapse_ws(c if assume_nfc else nfc(c))))
    v = F.regexp_replace(v, r"[.,\-'’]", " ")
    return _empty_to_null(collapse_ws(v))


# --- places, dates, amounts -------------------------------------------------------------

def normalize_pincode(c: Column, country: str) -> Column:
    """IN: 6 digits, first 1-9 (spaces, '.0' dropped), else null. Others: upper alphanumerics."""
    v = strip(c)
    if (country or "").upper() == "IN":
        digits = F.regexp_replace(F.regexp_replace(v, r"\.0+$", ""), r"\D", "")
        return F.when(digits.rlike(r"^[1-9][0-9]{5}$"), digits)
    return _empty_to_null(F.upper(F.regexp_replace(v, r"[^A-Za-z0-9]", "")))


def normalize_dob(c: Column, dob_min: str = _DOB_MIN) -> Column:
    """'yyyy-MM-dd' from common day-first formats; null when unparseable or outside
    dob_min (default 1900-01-01)..today. Uses try_to_date, so ANSI mode does not matter."""
    v = strip(c)
    # a timestamp-looking value ('1990-05-12 00:00:00', '1990-05-12T00:00:00Z') keeps its date
    v = F.regexp_replace(v, r"^(\d{4}-\d{1,2}-\d{1,2})[ T].*$", "$1")
    d = F.coalesce(*[F.try_to_date(v, p) for p in DOB_PATTERNS])
    ok = (d >= F.lit(dob_min).cast("date")) & (d <= F.current_date())
    return F.when(ok, F.date_format(d, "yyyy-MM-dd"))


def parse_amount(c: Column) -> Column:
    """Double from strings like '₹1,299.00', 'Rs. 450', 'INR 12,000'; invalid -> null."""
    v = F.regexp_replace(strip(c), r"(?i)₹|inr|rs\.?", "")
    v = F.regexp_replace(v, r"[,\s\u00A0]", "")
    return F.when(v.rlike(_AMOUNT_NUMBER_RE), v.try_cast("double"))


# --- event time -------------------------------------------------------------------------

# an offset after a time of day ('...T20:00:00Z', '...20:00+05:30'); a bare date has none
_ISO_OFFSET_RE = r"(?i)\d{2}:\d{2}(:\d{2}(\.\d*)?)?\s*(z|[+-]\d{2}(:?\d{2})?)$"
_PATTERN_ZONE_LETTERS = re.compile(r"[XxZOVz]")


def _pattern_has_zone(fmt: str) -> bool:
    unquoted = re.sub(r"'[^']*'", "", fmt)
    return bool(_PATTERN_ZONE_LETTERS.search(unquoted))


def _wall_clock_in(utc_wall: Column, timezone: str) -> Column:
    """``utc_wall`` holds a local wall-clock time encoded as if it were UTC; reinterpret it in
    ``timezone``. to_utc_timestamp works on the raw microseconds, so no session zone is used."""
    return F.to_utc_timestamp(utc_wall, timezone)


def _epoch_seconds(seconds: Column) -> Column:
    return F.when(F.abs(seconds) <= F.lit(_MAX_EPOCH_S), F.timestamp_seconds(seconds))


def parse_event_time(c: Column, fmt: str, timezone: str) -> Column:
    """TIMESTAMP instant from a string. ``fmt``: Spark datetime pattern | iso8601 | epoch_s |
    epoch_ms. Strings without an offset are local time in ``timezone``; offsets are kept.
    Unparseable -> null. Independent of spark.sql.session.timeZone and of ANSI mode."""
    v = strip(c)
    if fmt == "epoch_s":
        return _epoch_seconds(v.try_cast("decimal(24,6)"))
    if fmt == "epoch_ms":
        return _epoch_seconds(v.try_cast("decimal(27,3)") / F.lit(1000))
    if fmt == "iso8601":
        has_offset = v.rlike(_ISO_OFFSET_RE)
        local = F.when(F.length(v) == 10, F.concat(v, F.lit(" 00:00:00"))).otherwise(v)
        return (
            F.when(has_offset, F.try_to_timestamp(v))
            .otherwise(_wall_clock_in(F.try_to_timestamp(F.concat(local, F.lit("Z"))), timezone))
        )
    if fmt in TIME_FORMATS_SPECIAL:  # pragma: no cover - guarded by the tuple above
        raise ValueError(fmt)
    if _pattern_has_zone(fmt):
        return F.try_to_timestamp(v, F.lit(fmt))
    # parse as UTC wall clock by appending a fixed offset, then move to the source's zone
    utc_wall = F.try_to_timestamp(F.concat(v, F.lit(" +0000")), F.lit(fmt + " Z"))
    return _wall_clock_in(utc_wall, timezone)


EVENT_TIME_UNPARSEABLE = "unparseable"
EVENT_TIME_BEFORE_MIN = "before_min"
EVENT_TIME_FUTURE = "future"


def event_time_issue(value: Column, parsed: Column, event_time_min: date | None,
                     max_days_in_future: int | None) -> Column:
    """Why an event time cannot be used, or null: ``unparseable`` (a value that does not parse),
    ``before_min`` (before ``event_time_min``, UTC midnight: epoch 0 and other defaults) or
    ``future`` (after now + ``max_days_in_future`` days). ``value`` is the raw text with null-like
    tokens already null (a missing time is no issue); ``parsed`` its parse_event_time."""
    issue = F.when(value.isNotNull() & parsed.isNull(), F.lit(EVENT_TIME_UNPARSEABLE))
    if event_time_min is not None:
        floor = F.lit(f"{event_time_min.isoformat()}T00:00:00Z").cast("timestamp")  # explicit zone: session-proof
        issue = issue.when(parsed < floor, F.lit(EVENT_TIME_BEFORE_MIN))
    if max_days_in_future is not None:
        ceiling = F.current_timestamp() + F.expr(f"INTERVAL {int(max_days_in_future)} DAYS")
        issue = issue.when(parsed > ceiling, F.lit(EVENT_TIME_FUTURE))
    return issue


def checked_event_time(value: Column, fmt: str, timezone: str, event_time_min: date | None,
                       max_days_in_future: int | None) -> tuple[Column, Column]:
    """(event time, issue): parse_event_time of ``value``, null whenever event_time_issue names a
    problem, so an implausible time never poses as a real one; the issue says why."""
    parsed = parse_event_time(value, fmt, timezone)
    issue = event_time_issue(value, parsed, event_time_min, max_days_in_future)
    return F.when(issue.isNull(), parsed), issue


__all__ = [
    "ID_STRUCT", "null_if_token", "normalize_phone", "normalize_email", "normalize_generic_id",
    "normalize_identifier", "apply_placeholders", "fold_name", "clean_display_name", "nfc",
    "normalize_pincode", "normalize_dob", "parse_event_time", "parse_amount", "phone_to_e164",
    "strip", "collapse_ws", "null_like_struct", "event_time_issue", "checked_event_time",
]
