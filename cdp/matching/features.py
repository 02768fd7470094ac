"""Comparison features for candidate pairs, computed in one select.

Every field keeps "both missing" (2), "one missing" (1) and "both present" (0) apart in its
``*_missing`` feature, and its similarity features are 0 unless both values are present, so a
missing value never looks like agreement. String similarities (Jaro-Winkler, token set) come
from rapidfuzz inside one vectorised pandas UDF; the rest are Spark built-ins.
"""
from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import DoubleType, StructField, StructType

from cdp.matching.names import phonetic_key
from cdp.matching.records import RECORD_COLUMNS

STRING_FEATURES = ("name_jw", "name_token_set", "name_initials", "first_sim", "first_is_initial",
                   "last_sim", "email_local_sim")
FEATURE_COLUMNS: tuple[str, ...] = (
    "name_missing", "name_jw", "name_token_set", "name_initials", "first_sim", "first_is_initial",
    "last_sim",
    "dob_missing", "dob_exact", "dob_swapped", "dob_year", "dob_edits",
    "phone_missing", "phone_edits",
    "email_missing", "email_local_sim", "email_domain_eq",
    "pincode_missing", "pincode_eq", "pincode_prefix_eq", "pincode_edits",
    "city_missing", "city_eq",
    "address_missing", "address_overlap",
    "gender_missing", "gender_eq",
    "anchored_sides", "name_anchors", "name_city_anchors", "first_frequency", "last_frequency",
)
MAX_EDITS = 4
MAX_ANCHORS = 10
_STRING_TYPE = StructType([StructField(n, DoubleType()) for n in STRING_FEATURES])


# --- pure Python similarities (also used directly by tests) ---------------------------------

def jaro_winkler(a: str | None, b: str | None) -> float:
    from rapidfuzz.distance import JaroWinkler

    if not a or not b:
        return 0.0
    return float(JaroWinkler.similarity(a, b))


def _tokens_agree(a: str, b: str) -> bool:
    """Same token, an initial of it, the same phonetic key, or Jaro-Winkler >= 0.92."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return phonetic_key(a) == phonetic_key(b) or jaro_winkler(a, b) >= 0.92


def initials_agreement(a: str | None, b: str | None) -> float:
    """Share of the shorter name's tokens that agree with a distinct token of the other name, in
    any order, an initial agreeing with a token it starts (R Sharma ~ Rahul Sharma = 1.0).
    Symmetric: full tokens are paired with full tokens first, initials then take what is left."""
    ta, tb = (a or "").split(), (b or "").split()
    if not ta or not tb:
        return 0.0
    left, right = list(ta), list(tb)
    matched = 0
    for full_only in (True, False):  # full tokens pair with full tokens first
        for tok in list(left):
            for i, other in enumerate(right):
                if full_only and (len(tok) == 1 or len(other) == 1):
                    continue
                if _tokens_agree(tok, other):
                    matched += 1
                    left.remove(tok)
                    del right[i]
                    break
    return matched / min(len(ta), len(tb))


def name_features(a: str | None, b: str | None) -> dict[str, float]:
    """Similarities of two canonical names (lower case, variant spellings replaced)."""
    from rapidfuzz import fuzz

    out = {"name_jw": 0.0, "name_token_set": 0.0, "name_initials": 0.0, "first_sim": 0.0,
           "first_is_initial": 0.0, "last_sim": 0.0}
    if not a or not b:
        return out
    ta, tb = a.split(), b.split()
    out["name_jw"] = jaro_winkler(a, b)
    out["name_token_set"] = fuzz.token_set_ratio(a, b) / 100.0
    out["name_initials"] = initials_agreement(a, b)
    fa, fb = ta[0], tb[0]
    if len(fa) == 1 or len(fb) == 1:
        out["first_is_initial"] = 1.0
        out["first_sim"] = 1.0 if fa[0] == fb[0] else 0.0
    else:
        out["first_sim"] = jaro_winkler(fa, fb)
    if len(ta) > 1 and len(tb) > 1:
        out["last_sim"] = jaro_winkler(ta[-1], tb[-1])
    return out


@pandas_udf(_STRING_TYPE)
def _string_features(l_name: pd.Series, r_name: pd.Series, l_email: pd.Series, r_email: pd.Series) -> pd.DataFrame:
    rows = []
    for a, b, ea, eb in zip(l_name, r_name, l_email, r_email):
        row = name_features(a if isinstance(a, str) else None, b if isinstance(b, str) else None)
        row["email_local_sim"] = jaro_winkler(ea if isinstance(ea, str) else None,
                                              eb if isinstance(eb, str) else None)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(STRING_FEATURES))


# --- Spark expressions ----------------------------------------------------------------------

def _l(name: str) -> Column:
    return F.col(f"l.{name}")


def _r(name: str) -> Column:
    return F.col(f"r.{name}")


def missing_state(a: Column, b: Column) -> Column:
    """0 both present, 1 one missing, 2 both missing."""
    return (a.isNull().cast("int") + b.isNull().cast("int")).cast("double")


def _both(a: Column, b: Column, value: Column) -> Column:
    return F.when(a.isNotNull() & b.isNotNull(), value.cast("double")).otherwise(F.lit(0.0))


def _flag(c: Column) -> Column:
    return F.coalesce(c.cast("double"), F.lit(0.0))


def _email_local(c: Column) -> Column:
    return F.regexp_replace(F.substring_index(c, "@", 1), r"[^a-z0-9]", "")


def _dob_swapped(a: Column, b: Column) -> Column:
    """yyyy-MM-dd with day and month exchanged (and not equal)."""
    swapped = F.concat_ws("-", F.substring(a, 1, 4), F.substring(a, 9, 2), F.substring(a, 6, 2))
    return (swapped == b) & (a != b)


def _tokens(c: Column) -> Column:
    return F.array_distinct(F.split(c, " "))


def _jaccard(a: Column, b: Column) -> Column:
    inter = F.size(F.array_intersect(_tokens(a), _tokens(b)))
    union = F.size(F.array_union(_tokens(a), _tokens(b)))
    return F.when(union > 0, inter / union)


def feature_columns() -> list[Column]:
    """The FEATURE_COLUMNS expressions over a frame with record structs ``l`` and ``r``."""
    s = _string_features(_l("canon"), _r("canon"), _email_local(_l("email")), _email_local(_r("email")))
    la, ra = _l("dob"), _r("dob")
    lp, rp = F.regexp_replace(_l("phone"), r"\D", ""), F.regexp_replace(_r("phone"), r"\D", "")
    exprs = {
        "name_missing": missing_state(_l("canon"), _r("canon")),
        **{n: s.getField(n) for n in STRING_FEATURES},
        "dob_missing": missing_state(la, ra),
        "dob_exact": _both(la, ra, la == ra),
        "dob_swapped": _both(la, ra, _dob_swapped(la, ra)),
        "dob_year": _both(la, ra, (F.substring(la, 1, 4) == F.substring(ra, 1, 4)) & (la != ra)),
        "dob_edits": _both(la, ra, F.least(F.levenshtein(la, ra), F.lit(MAX_EDITS))),
        "phone_missing": missing_state(lp, rp),
        "phone_edits": _both(lp, rp, F.least(F.levenshtein(lp, rp), F.lit(MAX_EDITS))),
        "email_missing": missing_state(_l("email"), _r("email")),
        "email_domain_eq": _both(_l("email"), _r("email"),
                                 F.substring_index(_l("email"), "@", -1) == F.substring_index(_r("email"), "@", -1)),
        "pincode_missing": missing_state(_l("pincode"), _r("pincode")),
        "pincode_eq": _both(_l("pincode"), _r("pincode"), _l("pincode") == _r("pincode")),
        "pincode_prefix_eq": _both(_l("pincode"), _r("pincode"),
                                   F.substring(_l("pincode"), 1, 3) == F.substring(_r("pincode"), 1, 3)),
        "pincode_edits": _both(_l("pincode"), _r("pincode"),
                               F.least(F.levenshtein(_l("pincode"), _r("pincode")), F.lit(MAX_EDITS))),
        "city_missing": missing_state(_l("city"), _r("city")),
        "city_eq": _both(_l("city"), _r("city"), _l("city") == _r("city")),
        "address_missing": missing_state(_l("address"), _r("address")),
        "address_overlap": _both(_l("address"), _r("address"), F.coalesce(_jaccard(_l("address"), _r("address")), F.lit(0.0))),
        "gender_missing": missing_state(_l("gender"), _r("gender")),
        "gender_eq": _both(_l("gender"), _r("gender"), _l("gender") == _r("gender")),
        # ambiguity: how many identified customers already carry either side's name
        "anchored_sides": _l("anchored") + _r("anchored"),
        "name_anchors": F.least(F.greatest(_l("name_anchors"), _r("name_anchors")), F.lit(MAX_ANCHORS)),
        "name_city_anchors": F.least(F.greatest(_l("name_city_anchors"), _r("name_city_anchors")),
                                     F.lit(MAX_ANCHORS)),
        # log10 of the larger side's name frequency: agreement on a common name is weaker evidence
        "first_frequency": _both(_l("first"), _r("first"),
                                 F.log10(F.greatest(_l("first_frequency"), _r("first_frequency"), F.lit(1)))),
        "last_frequency": _both(_l("last"), _r("last"),
                                F.log10(F.greatest(_l("last_frequency"), _r("last_frequency"), F.lit(1)))),
    }
    return [_flag(exprs[n]).alias(n) for n in FEATURE_COLUMNS]


def pair_features(pairs: DataFrame, records: DataFrame) -> DataFrame:
    """``pairs`` (pair_id, left_record_id, right_record_id, ...) with both records attached and
    FEATURE_COLUMNS added; keeps every column of ``pairs``."""
    rec = records.select(F.col("record_id"), F.struct(*[c for c in RECORD_COLUMNS]).alias("rec"))
    joined = (pairs
              .join(rec.select(F.col("record_id").alias("left_record_id"), F.col("rec").alias("l")), "left_record_id")
              .join(rec.select(F.col("record_id").alias("right_record_id"), F.col("rec").alias("r")), "right_record_id"))
    return joined.select(*[F.col(c) for c in pairs.columns],
                         F.col("l.component").alias("left_component"), F.col("r.component").alias("right_component"),
                         *feature_columns())
