"""Blocking keys: derived columns of a match record (see :mod:`cdp.matching.records`).

A blocking rule names some of these keys; two records are a candidate pair when every key of
the rule is present and equal on both.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F


def _digits(c: Column) -> Column:
    return F.regexp_replace(c, r"\D", "")


def _phone_head(c: Column) -> Column:
    d = _digits(c)
    return F.when(F.length(d) > 8, d.substr(F.lit(1), F.length(d) - 5))


def _phone_tail(c: Column) -> Column:
    d = _digits(c)
    return F.when(F.length(d) > 8, F.substring(d, -5, 5))


def _email_local(c: Column) -> Column:
    local = F.regexp_replace(F.substring_index(c, "@", 1), r"[^a-z0-9]", "")
    return F.when(F.length(local) >= 4, local)


def _long_token(c: Column) -> Column:
    return F.when(F.length(c) > 1, c)


# key name -> expression over the record's columns. A phone's head (all digits but the last
# five) and tail (the last five) split it so that one mistyped digit leaves one of them intact.
BLOCKING_KEYS: dict[str, Callable[[], Column]] = {
    "first_name": lambda: _long_token(F.col("first")),
    "first_phonetic": lambda: F.col("first_phonetic"),
    "first_initial": lambda: F.substring(F.col("first"), 1, 1),
    "surname": lambda: _long_token(F.col("last")),
    "surname_phonetic": lambda: F.col("last_phonetic"),
    "name_phonetic": lambda: F.col("name_phonetic"),
    "dob": lambda: F.col("dob"),
    "dob_year": lambda: F.substring(F.col("dob"), 1, 4),
    "pincode": lambda: F.col("pincode"),
    "city": lambda: F.col("city"),
    "phone_head": lambda: _phone_head(F.col("phone")),
    "phone_tail": lambda: _phone_tail(F.col("phone")),
    "email_local": lambda: _email_local(F.col("email")),
}


def blocking_key(name: str) -> Column:
    """The expression of one blocking key (ValueError naming the allowed keys when unknown)."""
    if name not in BLOCKING_KEYS:
        raise ValueError(f"unknown blocking key {name!r}; allowed: {sorted(BLOCKING_KEYS)}")
    return BLOCKING_KEYS[name]()
