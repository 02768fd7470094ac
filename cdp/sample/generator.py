"""Seeded, Spark-native sample data for an Indian omnichannel retailer (dbldatagen style).

Every value is a pure Spark expression of ``(seed, column tag, row key)``: rows come from
``spark.range`` (persons) and ``explode(sequence(...))`` (a person's events); randomness comes
from ``xxhash64(seed, tag, key)`` turned into uniform ints/doubles; small vocabularies are array
or map literals indexed by those ints. There are no driver-side loops over rows and no Python
UDFs, so the output is the same whatever the partitioning, and it scales with ``persons``.

Rows per person (expected, default rates): crm 0.75, web 3.0, app 2.5, call_centre 0.5,
pos 3.2, whatsapp 1.0, email_events 2.0, orders 1.0 -- about 14 interactions per person, i.e.
~28k rows for ``persons=2000``, ~560k for ``persons=40000`` and ~1M for ``persons=70000``.

Layout written under ``out_dir``::

    landing/crm/*.csv           landing/web/*.json (nested jsonl)   landing/app/*.json (jsonl)
    landing/call_centre/*.csv   landing/pos/*.csv                   landing/whatsapp/*.json
    landing/email_events/*.csv  landing/orders/*.parquet
    truth/truth.csv             (source,record_id,person_id for every generated row; one file)
    truth/persons/*.csv         (the clean person master the noise was derived from)
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.sample import names as N

SOURCES = ("crm", "web", "app", "call_centre", "pos", "whatsapp", "email_events", "orders")
SOURCE_FORMAT = {
    "crm": "csv", "web": "json", "app": "json", "call_centre": "csv", "pos": "csv",
    "whatsapp": "json", "email_events": "csv", "orders": "parquet",
}

# --- population shares (who has what) ------------------------------------------------------
EMAIL_SHARE = 0.85
LOYALTY_SHARE = 0.70
CRM_SHARE = 0.75
APP_SHARE = 0.55

# --- channel volumes: mean rows per person (over all persons), share of eligible persons who
# never use the channel, and the per-person cap (slots) ------------------------------------
CHANNEL_RATES: dict[str, tuple[float, float, int]] = {
    "web": (3.0, 0.20, 24),
    "app": (2.5, 0.10, 24),
    "call_centre": (0.5, 0.55, 8),
    "pos": (3.2, 0.10, 24),
    "whatsapp": (1.0, 0.45, 12),
    "email_events": (2.0, 0.15, 16),
    "orders": (1.0, 0.35, 12),
}
# expected rows per person over all channels at default rates (measured: 28,923 rows / 2,000 persons)
ROWS_PER_PERSON = 14.46
# engagement levels (value, probability): a few heavy users, many light ones
_ENGAGEMENT = [(0.3, 0.35), (1.0, 0.40), (2.0, 0.20), (4.0, 0.05)]
_E_MEAN = sum(v * p for v, p in _ENGAGEMENT)

# --- time window ---------------------------------------------------------------------------
_START_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
_DAYS = 547  # to 2025-06-30
_IST_OFFSET = 19800  # +05:30

# households: a block of 10 consecutive persons is split into households by one of these
_HH_COMPOSITIONS = [
    [1, 1, 2, 2, 4], [3, 3, 4], [2, 2, 2, 4], [1, 2, 3, 4], [1, 1, 1, 3, 4], [2, 4, 4],
    [1, 3, 3, 3], [4, 4, 2], [1, 1, 2, 3, 3], [2, 2, 3, 3], [1, 1, 1, 1, 2, 4], [1, 2, 2, 2, 3],
]
_HH_BLOCK = 10
# numbers a person's mobile must never be (blocklisted / look like placeholders)
_BLOCKED_MOBILES = [int(p) for p in N.PLACEHOLDER_PHONES if p[0] in "6789"] + [
    9876543210, 6666666666, 7777777777, 8888888888, 9999999999,
]


@dataclass(frozen=True)
class NoiseConfig:
    """Rates of the noise real Indian exports carry (each a probability per row or person)."""

    # POS till: what gets typed into CustMobile (applied in this order)
    placeholder_phone_rate: float = 0.03  # 9999999999 / 0000000000 / 1234567890
    blank_phone_rate: float = 0.08  # empty, NA, -
    family_phone_rate: float = 0.04  # household members typing the family phone
    phone_typo_rate: float = 0.02  # one wrong digit
    float_phone_rate: float = 0.01  # spreadsheet float, e.g. 9.812345678E9
    pos_loyalty_rate: float = 0.55  # a card holder's bill carries the card
    family_phone_loyalty_rate: float = 0.10  # ... when the family phone was typed
    walk_in_name_rate: float = 0.5  # placeholder-phone bills named WALK IN / CASH / blank
    # names typed by people
    name_variant_rate: float = 0.12  # Mohammed/Mohd, Lakshmi/Laxmi, Chaudhary/Choudhary
    honorific_rate: float = 0.20  # Mr / Mrs / Smt / Shri
    initials_rate: float = 0.12  # R. Sharma
    upper_case_rate: float = 0.25
    # web
    anonymous_web_share: float = 0.40  # sessions that never log in
    family_cookie_rate: float = 0.02  # sessions on the family laptop
    # call centre
    call_family_phone_rate: float = 0.02
    # email
    email_case_rate: float = 0.30
    email_space_rate: float = 0.10
    gmail_variant_rate: float = 0.10  # dots removed / +tag added
    crm_missing_email_rate: float = 0.10
    guest_checkout_rate: float = 0.10  # online orders without an email


# =========================================================================================
# hashing helpers
# =========================================================================================
def _sql_lit(v: Any) -> str:
    if v is None:
        return "CAST(NULL AS STRING)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}L" if abs(v) > 2**31 - 1 else str(v)
    if isinstance(v, float):
        return f"CAST({v!r} AS DOUBLE)"
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_array(values: list[Any]) -> str:
    return "array(" + ", ".join(_sql_lit(v) for v in values) + ")"


# Literals go to the JVM as one SQL expression each (one py4j call, not one per element).
def _lit_array(values: list[Any]) -> Column:
    return F.expr(_sql_array(values))


def _lit_nested(values: list[list[Any]]) -> Column:
    return F.expr("array(" + ", ".join(_sql_array(v) for v in values) + ")")


def _lit_map(mapping: dict[str, list[str]]) -> Column:
    return F.expr("map(" + ", ".join(f"{_sql_lit(k)}, {_sql_array(v)}" for k, v in mapping.items()) + ")")


def _digits(n: int) -> int:
    return len(str(max(int(n), 1)))


class _Gen:
    """Seeded hash expressions: every value is a pure function of (seed, tag, key columns)."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    # Key columns may be SQL text (a column name such as "k") or Columns. With text keys the
    # whole value is sent to the JVM as one SQL expression, which keeps plan building fast.
    @staticmethod
    def _all_sql(*xs: Any) -> bool:
        return all(isinstance(x, (str, int)) for x in xs)

    @staticmethod
    def _cols(cols: tuple[Any, ...]) -> list[Column]:
        return [F.expr(c) if isinstance(c, str) else c for c in cols]

    def h_sql(self, tag: str, *cols: str) -> str:
        return f"xxhash64({self.seed}, {_sql_lit(tag)}, {', '.join(cols)})"

    def u_sql(self, tag: str, *cols: str) -> str:
        return f"(cast(pmod({self.h_sql(tag, *cols)}, {1 << 52}L) as double) / {float(1 << 52)!r})"

    def i_sql(self, tag: str, n: int | str, *cols: str) -> str:
        return f"pmod({self.h_sql(tag, *cols)}, cast({n} as bigint))"

    def h(self, tag: str, *cols: Column | str) -> Column:
        if self._all_sql(*cols):
            return F.expr(self.h_sql(tag, *cols))
        return F.xxhash64(F.lit(self.seed), F.lit(tag), *self._cols(cols))

    def u(self, tag: str, *cols: Column | str) -> Column:
        """Uniform double in [0, 1)."""
        if self._all_sql(*cols):
            return F.expr(self.u_sql(tag, *cols))
        return F.pmod(self.h(tag, *cols), F.lit(1 << 52)).cast("double") / float(1 << 52)

    def i(self, tag: str, n: int | Column, *cols: Column | str) -> Column:
        """Uniform int in [0, n)."""
        if isinstance(n, int) and self._all_sql(*cols):
            return F.expr(self.i_sql(tag, n, *cols))
        n_col = n if isinstance(n, Column) else F.lit(int(n))
        return F.pmod(self.h(tag, *cols), n_col.cast("long"))

    def pick(self, values: list[Any], tag: str, *cols: Column | str) -> Column:
        if self._all_sql(*cols):
            return F.expr(f"element_at({_sql_array(values)}, cast({self.i_sql(tag, len(values), *cols)} + 1 as int))")
        return F.element_at(_lit_array(values), (self.i(tag, len(values), *cols) + 1).cast("int"))

    def pick_from(self, arr: Column, tag: str, *cols: Column | str) -> Column:
        """A uniform element of an array column (never empty)."""
        return F.element_at(arr, (self.i(tag, F.size(arr), *cols) + 1).cast("int"))

    def affine(self, tag: str, modulus: int, max_x: int) -> Callable[[Column], Column]:
        """A bijection of [0, modulus) (x -> (a*x + b) mod m), seeded; safe from long overflow."""
        rng = random.Random(f"{self.seed}:{tag}")
        hi = max(3, min(modulus - 1, (2**63 - 1 - modulus) // max(max_x, 1)))
        lo = min(hi, max(3, hi // 10))
        while True:
            a = rng.randint(lo, hi)
            if math.gcd(a, modulus) == 1:
                break
        b = rng.randrange(modulus)
        return lambda x: F.pmod(x.cast("long") * F.lit(a) + F.lit(b), F.lit(modulus))

    def mobile_map(self, persons: int) -> Callable[[Column], Column]:
        """Person index -> unique 10-digit mobile starting 6-9 (affine bijection mod 4e9),
        with the offset chosen so no person gets a blocklisted / placeholder-looking number."""
        m = 4_000_000_000
        rng = random.Random(f"{self.seed}:mobile")
        while True:
            a = rng.randint(100_000_000, 999_999_999)
            if math.gcd(a, m) == 1:
                break
        a_inv = pow(a, -1, m)
        for _ in range(1000):
            b = rng.randrange(m)
            pre = [((y - 6_000_000_000 - b) * a_inv) % m for y in _BLOCKED_MOBILES]
            if all(x >= persons for x in pre):
                break
        return lambda x: (F.pmod(x.cast("long") * F.lit(a) + F.lit(b), F.lit(m)) + F.lit(6_000_000_000)).cast("string")


def _weighted(u: Column | str, weights: list[float]) -> Column:
    """Index 0..len-1 drawn by cumulative weights from a uniform (SQL text or Column)."""
    total = float(sum(weights))
    acc = 0.0
    if isinstance(u, str):
        branches = []
        for idx, w in enumerate(weights[:-1]):
            acc += w / total
            branches.append(f"WHEN {u} < {acc!r} THEN {idx}")
        return F.expr(f"CASE {' '.join(branches)} ELSE {len(weights) - 1} END")
    expr = None
    for idx, w in enumerate(weights[:-1]):
        acc += w / total
        expr = F.when(u < acc, F.lit(idx)) if expr is None else expr.when(u < acc, F.lit(idx))
    last = F.lit(len(weights) - 1)
    return last if expr is None else expr.otherwise(last)


# --- time formatting without the session time zone ------------------------------------------
def _date_of(epoch: Column) -> Column:
    days = F.floor(epoch / 86400).cast("int")
    return F.date_add(F.lit("1970-01-01").cast("date"), days)


def _hms(epoch: Column) -> tuple[Column, Column, Column]:
    sod = F.pmod(epoch, F.lit(86400))
    hh = F.lpad(F.floor(sod / 3600).cast("string"), 2, "0")
    mm = F.lpad(F.floor(F.pmod(sod, F.lit(3600)) / 60).cast("string"), 2, "0")
    ss = F.lpad(F.pmod(sod, F.lit(60)).cast("string"), 2, "0")
    return hh, mm, ss


def _fmt_local(epoch: Column, date_pattern: str, with_seconds: bool = True, sep: str = " ") -> Column:
    """Wall-clock string of an epoch-seconds value (the epoch is already shifted to local)."""
    hh, mm, ss = _hms(epoch)
    parts = [F.date_format(_date_of(epoch), date_pattern), F.lit(sep), hh, F.lit(":"), mm]
    if with_seconds:
        parts += [F.lit(":"), ss]
    return F.concat(*parts)


# =========================================================================================
# persons
# =========================================================================================
_COMM_KEYS = [c for c, _ in N.COMMUNITIES]
_CITY_NAMES = [c[0] for c in N.CITIES]
_CITY_INDEX = {c: i for i, c in enumerate(_CITY_NAMES)}


def _household_arrays() -> tuple[list[list[int]], list[list[int]]]:
    heads, sizes = [], []
    for comp in _HH_COMPOSITIONS:
        h, s, start = [], [], 0
        for size in comp:
            h += [start] * size
            s += [size] * size
            start += size
        assert start == _HH_BLOCK, comp
        heads.append(h)
        sizes.append(s)
    return heads, sizes


class _Persons:
    """Adds person attributes (``p_*`` columns) for a 0-based person index column ``pid``."""

    def __init__(self, g: _Gen, persons: int):
        self.g = g
        self.persons = persons
        self.mobile = g.mobile_map(persons)
        w = max(2, _digits(persons - 1))
        self.email_suffix_w = w
        self.email_suffix = g.affine("email_suffix", 10**w, 10**w)
        self.loyalty = g.affine("loyalty", 10**12, 10**12)
        self.crm_w = max(8, _digits(persons) + 1)
        self.crm = g.affine("crm", 10**self.crm_w, 10**self.crm_w)
        self.pid_w = max(6, _digits(persons))

    def person_id(self, pid: Column) -> Column:
        return F.concat(F.lit("P"), F.lpad((pid + 1).cast("string"), self.pid_w, "0"))

    def cookie(self, tag: str, *cols: Column) -> Column:
        g = self.g
        return F.concat(
            F.lit("GA1.2."),
            F.lpad(g.i(tag + "1", 10**10, *cols).cast("string"), 10, "0"),
            F.lit("."),
            (F.lit(1_690_000_000) + g.i(tag + "2", 40_000_000, *cols)).cast("string"),
        )

    def device(self, pid: Column, k: Column) -> Column:
        g = self.g
        h1 = F.lpad(F.lower(F.hex(g.h("dev1", pid, k))), 16, "0")
        h2 = F.lpad(F.lower(F.hex(g.h("dev2", pid, k))), 16, "0")
        s = F.concat(h1, h2)
        uuid = F.concat_ws("-", F.substring(s, 1, 8), F.substring(s, 9, 4), F.substring(s, 13, 4),
                           F.substring(s, 17, 4), F.substring(s, 21, 12))
        return F.when(self.device_os(pid, k) == "iOS", F.upper(uuid)).otherwise(uuid)

    def device_os(self, pid: Column, k: Column) -> Column:
        return self.g.pick(N.APP_OS, "dev_os", pid, k)

    def add(self, df: DataFrame, pid: str = "pid") -> DataFrame:
        g, P = self.g, self.persons
        p = F.col(pid)
        heads, sizes = _household_arrays()
        df = df.withColumns({
            "_comp": (g.i("hh_comp", len(_HH_COMPOSITIONS), F.floor(p / _HH_BLOCK)) + 1).cast("int"),
            "_off": (F.pmod(p, F.lit(_HH_BLOCK)) + 1).cast("int"),
        })
        df = df.withColumns({
            "p_head": (F.floor(p / _HH_BLOCK) * _HH_BLOCK
                       + F.element_at(F.element_at(_lit_nested(heads), F.col("_comp")), F.col("_off"))).cast("long"),
            "_size_raw": F.element_at(F.element_at(_lit_nested(sizes), F.col("_comp")), F.col("_off")),
        })
        head = F.col("p_head")
        df = df.withColumns({
            "p_hh_size": F.least(F.col("_size_raw").cast("long"), F.lit(P) - head).cast("int"),
            "p_member": (p - head).cast("int"),
            "p_comm": _weighted(g.u_sql("community", "p_head"), [w for _, w in N.COMMUNITIES]),
        }).drop("_comp", "_off", "_size_raw")
        comm1 = (F.col("p_comm") + 1).cast("int")
        member = F.col("p_member")
        u_g = g.u("gender", pid)
        gender = (F.when(F.col("p_hh_size") == 1, F.when(u_g < 0.5, "M").otherwise("F"))
                  .when(member == 0, F.when(u_g < 0.85, "M").otherwise("F"))
                  .when(member == 1, F.when(u_g < 0.85, "F").otherwise("M"))
                  .otherwise(F.when(u_g < 0.5, "M").otherwise("F")))
        comm_city = [[_CITY_INDEX[c] for c in N.COMMUNITY_CITIES[k]] for k in _COMM_KEYS]
        df = df.withColumns({
            "p_gender": gender,
            "_surname": g.pick_from(F.element_at(_lit_nested([N.SURNAMES[k] for k in _COMM_KEYS]), comm1),
                                    "surname", "p_head"),
            "_city_idx": g.pick_from(F.element_at(_lit_nested(comm_city), comm1), "city", "p_head").cast("int"),
        })
        male = F.element_at(_lit_nested([N.MALE_NAMES[k] for k in _COMM_KEYS]), comm1)
        female = F.element_at(_lit_nested([N.FEMALE_NAMES[k] for k in _COMM_KEYS]), comm1)
        is_f = F.col("p_gender") == "F"
        ci1 = F.col("_city_idx") + 1
        span = F.element_at(_lit_array([c[3] - c[2] + 1 for c in N.CITIES]), ci1)
        pin_lo = F.element_at(_lit_array([c[2] for c in N.CITIES]), ci1)
        localities = F.element_at(_lit_nested([c[4] for c in N.CITIES]), ci1)
        # age: the couple 26-70, other members 18-32
        age = F.when(member <= 1, F.lit(26) + g.i("age", 45, pid)).otherwise(F.lit(18) + g.i("age", 15, pid))
        dob = F.date_sub(F.lit("2025-01-01").cast("date"),
                         (age * 365 + g.i("dob_day", 365, pid)).cast("int"))
        u_eng = g.u_sql("engagement", pid)
        df = df.withColumns({
            "p_first": F.when(is_f, g.pick_from(female, "first_f", pid)).otherwise(g.pick_from(male, "first_m", pid)),
            "p_last": F.when((F.col("p_comm") == _COMM_KEYS.index("sikh")) & is_f & (g.u("kaur", pid) < 0.4),
                             F.lit("Kaur")).otherwise(F.col("_surname")),
            "p_city": F.element_at(_lit_array(_CITY_NAMES), ci1),
            "p_city_code": F.element_at(_lit_array([c[1] for c in N.CITIES]), ci1),
            "p_pincode": (pin_lo + g.i("pincode", span, "p_head")).cast("string"),
            "p_address": F.concat_ws(", ",
                                     F.concat(F.lit("Flat "), (F.lit(1) + g.i("floor", 14, "p_head")).cast("string"),
                                              F.lpad((F.lit(1) + g.i("flat", 8, "p_head")).cast("string"), 2, "0")),
                                     g.pick(N.BUILDINGS, "building", "p_head"),
                                     g.pick(N.STREETS, "street", "p_head"),
                                     g.pick_from(localities, "locality", "p_head")),
            "p_dob": dob,
            "p_mobile": self.mobile(p),
            "p_family_phone": self.mobile(head),
            "p_has_email": g.u("has_email", pid) < EMAIL_SHARE,
            "p_has_loyalty": g.u("has_loyalty", pid) < LOYALTY_SHARE,
            "p_has_crm": g.u("has_crm", pid) < CRM_SHARE,
            "p_has_app": g.u("has_app", pid) < APP_SHARE,
            "p_n_devices": F.when(g.u("n_devices", pid) < 0.25, 2).otherwise(1),
            "p_n_cookies": (F.lit(1) + g.i("n_cookies", 3, pid)).cast("int"),
            "p_engagement": F.element_at(_lit_array([float(v) for v, _ in _ENGAGEMENT]),
                                         (_weighted(u_eng, [w for _, w in _ENGAGEMENT]) + 1).cast("int")),
            "p_loyalty": F.concat(F.lit("7001"), F.lpad(self.loyalty(p).cast("string"), 12, "0")),
            "p_crm_id": F.concat(F.lit("C"), F.lpad(self.crm(p).cast("string"), self.crm_w, "0")),
            "p_person_id": self.person_id(p),
        }).drop("_surname", "_city_idx")
        # email: name-based local part + a person-unique fixed-width suffix => unique per person
        f = F.lower(F.col("p_first"))
        s = F.lower(F.col("p_last"))
        fmt = g.i("email_fmt", 5, pid)
        local = (F.when(fmt == 0, F.concat(f, F.lit("."), s))
                 .when(fmt == 1, F.concat(f, s))
                 .when(fmt == 2, F.concat(f, F.lit("_"), s))
                 .when(fmt == 3, F.concat(F.substring(f, 1, 1), s))
                 .otherwise(F.concat(s, F.lit("."), f)))
        suffix = F.lpad(self.email_suffix(p).cast("string"), self.email_suffix_w, "0")
        df = df.withColumn("p_email", F.concat(local, suffix, F.lit("@"), g.pick(N.EMAIL_DOMAINS, "email_dom", pid)))
        return df


# =========================================================================================
# noise helpers
# =========================================================================================
_VARIANT_MAP_SQL: str | None = None


def _variant(g: _Gen, name: str, rate: float, tag: str, key: str) -> Column:
    """A spelling variant of ``name`` (when it has one) with probability ``rate``."""
    global _VARIANT_MAP_SQL
    if _VARIANT_MAP_SQL is None:
        _VARIANT_MAP_SQL = "map(" + ", ".join(
            f"{_sql_lit(k)}, {_sql_array(v)}" for k, v in N.NAME_VARIANTS.items()) + ")"
    # the lambda binds the looked-up array once; a name without variants (null) stays itself
    chosen = F.expr(
        f"element_at(transform(array(element_at({_VARIANT_MAP_SQL}, {name})), "
        f"a -> element_at(a, cast(pmod({g.h_sql(tag + '_vi', key)}, greatest(size(a), 1)) + 1 as int))), 1)")
    return F.when(g.u(tag + "_v", key) < rate, F.coalesce(chosen, F.col(name))).otherwise(F.col(name))


def _add_noisy_name(df: DataFrame, g: _Gen, noise: NoiseConfig, tag: str, out: str,
                    honorifics: bool = True, key: str = "k") -> DataFrame:
    """Add column ``out``: the person's name as a person typed it (variants, initials, Mr/Smt,
    upper case). Built in stages so no sub-expression is copied into the next one."""
    f1, l1, nm, nm2 = (f"_{tag}_{x}" for x in ("f1", "l1", "nm", "nm2"))
    df = df.withColumns({
        f1: _variant(g, "p_first", noise.name_variant_rate, tag + "_f", key),
        l1: _variant(g, "p_last", noise.name_variant_rate, tag + "_l", key),
    })
    df = df.withColumn(nm, F.when(g.u(tag + "_init", key) < noise.initials_rate,
                                  F.concat(F.substring(F.col(f1), 1, 1), F.lit(". "), F.col(l1)))
                       .otherwise(F.concat_ws(" ", F.col(f1), F.col(l1))))
    if honorifics:
        hon = F.when(F.col("p_gender") == "F", g.pick(N.FEMALE_HONORIFICS, tag + "_hf", key)).otherwise(
            g.pick(N.MALE_HONORIFICS, tag + "_hm", key))
        df = df.withColumn(nm2, F.when(g.u(tag + "_hon", key) < noise.honorific_rate,
                                       F.concat_ws(" ", hon, F.col(nm))).otherwise(F.col(nm)))
    else:
        df = df.withColumn(nm2, F.col(nm))
    df = df.withColumn(out, F.when(g.u(tag + "_up", key) < noise.upper_case_rate, F.upper(F.col(nm2)))
                       .otherwise(F.col(nm2)))
    return df.drop(f1, l1, nm, nm2)


def _split_mobile(m: Column, sep: str, prefix: str = "") -> Column:
    return F.concat(F.lit(prefix), F.substring(m, 1, 5), F.lit(sep), F.substring(m, 6, 5))


# =========================================================================================
# generator
# =========================================================================================
class _Sample:
    def __init__(self, spark: SparkSession, persons: int, seed: int, noise: NoiseConfig,
                 partitions: int | None):
        self.spark = spark
        self.persons = int(persons)
        self.g = _Gen(seed)
        self.noise = noise
        self.partitions = partitions
        self.P = _Persons(self.g, self.persons)
        self._persons_df: DataFrame | None = None

    # --- base frames ----------------------------------------------------------------------
    def persons_df(self) -> DataFrame:
        if self._persons_df is None:
            self._persons_df = self._build_persons_df()
        return self._persons_df

    def _build_persons_df(self) -> DataFrame:
        if self.partitions:
            df = self.spark.range(0, self.persons, 1, int(self.partitions))
        else:
            df = self.spark.range(0, self.persons)
        return self.P.add(df.withColumnRenamed("id", "pid"))

    def events(self, source: str, eligible: Column | None = None) -> DataFrame:
        """One row per (person, slot) event of a channel; ``k`` is a unique row key."""
        mean, p_zero, cap = CHANNEL_RATES[source]
        g = self.g
        share = {"app": APP_SHARE, "email_events": EMAIL_SHARE}.get(source, 1.0)
        lam = mean / share / (1.0 - p_zero) / _E_MEAN
        p = "pid"
        n = F.floor(F.lit(lam) * F.col("p_engagement") + g.u(source + "_n", p)).cast("int")
        n = F.when(g.u(source + "_zero", p) < p_zero, F.lit(0)).otherwise(F.least(n, F.lit(cap)))
        if eligible is not None:
            n = F.when(eligible, n).otherwise(F.lit(0))
        df = self.persons_df().withColumn("_n", n).filter(F.col("_n") > 0)
        df = df.withColumn("slot", F.explode(F.sequence(F.lit(0), F.col("_n") - 1))).drop("_n")
        df = df.withColumn("k", F.col("pid") * F.lit(cap) + F.col("slot").cast("long"))
        self._key_space = self.persons * cap
        return df

    def rid(self, source: str, df_cap: int) -> Column:
        """A unique, non-sequential number string for row key ``k`` (fixed width)."""
        space = self.persons * df_cap
        w = _digits(space) + 1
        f = self.g.affine(source + "_rid", 10**w, 10**w)
        return F.lpad(f(F.col("k")).cast("string"), w, "0")

    def when_local(self, source: str, lo_h: int, hi_h: int) -> Column:
        """Local (IST) wall-clock epoch seconds of row ``k`` between lo_h and hi_h o'clock."""
        g = self.g
        k = "k"
        return (F.lit(_START_EPOCH) + g.i(source + "_day", _DAYS, k) * 86400
                + F.lit(lo_h * 3600) + g.i(source + "_sod", (hi_h - lo_h) * 3600, k))

    # --- sources ----------------------------------------------------------------------------
    def crm(self) -> DataFrame:
        g, nz = self.g, self.noise
        df = self.persons_df().filter(F.col("p_has_crm"))
        p = "pid"
        m = F.col("p_mobile")
        fmt = g.u("crm_mob_fmt", p)
        mobile = (F.when(fmt < 0.70, m).when(fmt < 0.85, F.concat(F.lit("+91"), m))
                  .when(fmt < 0.95, _split_mobile(m, " ", "+91 ")).otherwise(F.concat(F.lit("0"), m)))
        email = F.when(F.col("p_has_email") & (g.u("crm_email_missing", p) >= nz.crm_missing_email_rate),
                       F.col("p_email"))
        created = F.lit(_START_EPOCH - 3 * 365 * 86400) + g.i("crm_created", 3 * 365 + _DAYS, p) * 86400
        up = g.u("crm_upper", p) < 0.15
        gender = F.when(g.u("crm_gender_fmt", p) < 0.7, F.col("p_gender")).otherwise(
            F.when(F.col("p_gender") == "M", "Male").otherwise("Female"))
        return df.select(
            F.col("p_crm_id").alias("CustomerID"),
            F.when(up, F.upper(F.col("p_first"))).otherwise(F.col("p_first")).alias("FirstName"),
            F.when(up, F.upper(F.col("p_last"))).otherwise(F.col("p_last")).alias("LastName"),
            mobile.alias("Mobile"),
            email.alias("Email"),
            F.date_format(F.col("p_dob"), "dd/MM/yyyy").alias("DOB"),
            gender.alias("Gender"),
            F.col("p_city").alias("City"),
            F.col("p_pincode").alias("Pincode"),
            F.when(F.col("p_has_loyalty"), F.col("p_loyalty")).alias("LoyaltyCardNo"),
            F.date_format(_date_of(created), "yyyy-MM-dd").alias("CreatedDate"),
            F.col("p_person_id").alias("person_id"),
        )

    def web(self) -> DataFrame:
        g, nz = self.g, self.noise
        df = self.events("web")
        k = "k"
        utc = self.when_local("web", 7, 24) - _IST_OFFSET
        fam = (F.col("p_hh_size") > 1) & (g.u("web_fam_cookie", k) < nz.family_cookie_rate)
        own_cookie = self.P.cookie("cookie", F.col("pid"), g.i("web_cookie_k", F.col("p_n_cookies"), k))
        cookie = F.when(fam, self.P.cookie("fam_cookie", F.col("p_head"))).otherwise(own_cookie)
        anon = g.u("web_anon", k) < nz.anonymous_web_share
        how = g.u("web_login_how", k)
        has_e = F.col("p_has_email")
        login_email = F.when(has_e & (how < 0.75), F.col("p_email"))
        login_mobile = F.when(~has_e | (how >= 0.60), F.col("p_mobile"))
        login = F.when(~anon, F.struct(login_email.alias("email"), login_mobile.alias("mobile")))
        ts = F.concat(_fmt_local(utc, "yyyy-MM-dd", sep="T"), F.lit("Z"))
        n_pages = (F.lit(1) + g.i("web_pages", 6, k)).cast("int")
        sid = F.col("_sid")

        def page(i: Column) -> Column:
            t = utc + i.cast("long") * 45 + g.i("web_pg_dt", 40, sid, i)
            return F.struct(
                g.pick(N.WEB_EVENT_TYPES, "web_ev", sid, i).alias("type"),
                g.pick(N.WEB_PAGES, "web_pg", sid, i).alias("page"),
                F.concat(_fmt_local(t, "yyyy-MM-dd", sep="T"), F.lit("Z")).alias("ts"),
            )

        is_mobile = g.u("web_dev", k) < 0.65
        df = df.withColumn("_sid", F.concat(F.lit("ws-"), self.rid("web", CHANNEL_RATES["web"][2])))
        return df.select(
            sid.alias("session_id"),
            cookie.alias("cookie_id"),
            ts.alias("ts"),
            login.alias("login"),
            F.struct(F.when(is_mobile, "mobile").otherwise("desktop").alias("type"),
                     F.when(is_mobile, g.pick(["Chrome Mobile", "Safari Mobile", "Samsung Internet"], "web_br", k))
                     .otherwise(g.pick(["Chrome", "Edge", "Firefox", "Safari"], "web_br", k)).alias("browser"))
            .alias("device"),
            F.transform(F.sequence(F.lit(0), n_pages - 1), page).alias("events"),
            F.col("p_person_id").alias("person_id"),
        )

    def app(self) -> DataFrame:
        g = self.g
        df = self.events("app", F.col("p_has_app"))
        k, p = "k", "pid"
        dk = g.i("app_dev_k", F.col("p_n_devices"), k)
        utc = self.when_local("app", 6, 24) - _IST_OFFSET
        logged = g.u("app_login", k) < 0.55
        return df.select(
            F.concat(F.lit("ae-"), self.rid("app", CHANNEL_RATES["app"][2])).alias("event_id"),
            self.P.device(p, dk).alias("device_id"),
            F.when(F.col("p_has_crm") & (g.u("app_cust", k) < 0.45), F.col("p_crm_id")).alias("customer_id"),
            F.when(logged, F.struct(F.concat(F.lit("+91"), F.col("p_mobile")).alias("mobile"))).alias("login"),
            g.pick(N.APP_EVENTS, "app_event", k).alias("event_name"),
            (utc * 1000 + g.i("app_ms", 1000, k)).alias("event_ts"),
            self.P.device_os(p, dk).alias("os"),
            g.pick(["5.2.1", "5.3.0", "5.4.2", "6.0.0", "6.1.3"], "app_ver", k).alias("app_version"),
            F.col("p_person_id").alias("person_id"),
        )

    def call_centre(self) -> DataFrame:
        g, nz = self.g, self.noise
        df = _add_noisy_name(self.events("call_centre"), g, nz, "cc", "_cc_name")
        k = "k"
        fam = (F.col("p_member") > 0) & (g.u("cc_fam", k) < nz.call_family_phone_rate)
        m = F.when(fam, F.col("p_family_phone")).otherwise(F.col("p_mobile"))
        fmt = g.u("cc_fmt", k)
        number = (F.when(fmt < 0.35, _split_mobile(m, " ", "+91 ")).when(fmt < 0.55, F.concat(F.lit("0"), m))
                  .when(fmt < 0.70, _split_mobile(m, " ")).when(fmt < 0.90, m)
                  .otherwise(F.concat(F.lit("+91"), m)))
        local = self.when_local("call_centre", 9, 21)
        return df.select(
            F.concat(F.lit("CC"), self.rid("call_centre", CHANNEL_RATES["call_centre"][2])).alias("CallID"),
            number.alias("CallerNumber"),
            F.col("_cc_name").alias("CustomerName"),
            F.when(g.u("cc_dob", k) < 0.30, F.date_format(F.col("p_dob"), "dd/MM/yyyy")).alias("DOB"),
            F.when(g.u("cc_pin", k) < 0.40, F.col("p_pincode")).alias("Pincode"),
            _fmt_local(local, "dd-MM-yyyy", with_seconds=False).alias("CallTime"),
            g.pick(N.CALL_REASONS, "cc_reason", k).alias("Reason"),
            (F.lit(30) + g.i("cc_dur", 900, k)).alias("DurationSec"),
            F.col("p_person_id").alias("person_id"),
        )

    def pos(self) -> DataFrame:
        g, nz = self.g, self.noise
        df = _add_noisy_name(self.events("pos"), g, nz, "pos", "_pos_name")
        k = "k"
        m = F.col("p_mobile")
        df = df.withColumn("_u_phone", g.u("pos_phone", k))
        u = F.col("_u_phone")
        c1 = nz.placeholder_phone_rate
        c2 = c1 + nz.blank_phone_rate
        c3 = c2 + nz.family_phone_rate
        c4 = c3 + nz.phone_typo_rate
        c5 = c4 + nz.float_phone_rate
        placeholder = u < c1
        family = (u >= c2) & (u < c3) & (F.col("p_member") > 0)
        pos_d = (F.lit(2) + g.i("pos_typo_pos", 9, k)).cast("int")  # 2..10, keep the leading digit
        old_d = F.substring(m, pos_d, 1).cast("int")
        new_d = F.pmod(old_d + F.lit(1) + g.i("pos_typo_d", 9, k), F.lit(10)).cast("string")
        # one wrong digit at position _tp (2..10): substring(m, 1, _tp-1) || _nd || substring(m, _tp+1)
        typo = F.concat(
            F.expr("substring(p_mobile, 1, _tp - 1)"), F.col("_nd"), F.expr("substring(p_mobile, _tp + 1, 10)"))
        own = F.when(g.u("pos_own_fmt", k) < 0.05, F.concat(F.lit("91"), m)).otherwise(m)
        phone = (F.when(placeholder, g.pick(N.PLACEHOLDER_PHONES, "pos_ph", k))
                 .when(u < c2, g.pick([None, None, None, "NA", "-"], "pos_blank", k))
                 .when(family, F.col("p_family_phone"))
                 .when((u >= c3) & (u < c4), typo)
                 .when((u >= c4) & (u < c5), m.cast("double").cast("string"))
                 .otherwise(own))
        card_rate = F.when(family, F.lit(nz.family_phone_loyalty_rate)).otherwise(F.lit(nz.pos_loyalty_rate))
        card = F.when(F.col("p_has_loyalty") & (g.u("pos_card", k) < card_rate), F.col("p_loyalty"))
        name = F.col("_pos_name")
        walk_in = placeholder & (g.u("pos_walkin", k) < nz.walk_in_name_rate)
        name = F.when(walk_in, g.pick(["WALK IN CUSTOMER", "CASH", "CUSTOMER", None], "pos_walkin_name", k)).otherwise(
            F.when(g.u("pos_noname", k) < 0.05, F.lit(None).cast("string")).otherwise(name))
        # the store: mostly in the customer's city
        city_idx = F.when(g.u("pos_away", k) < 0.10, g.i("pos_city", len(N.CITIES), k) + 1).otherwise(
            F.array_position(_lit_array(_CITY_NAMES), F.col("p_city")))
        store_city = F.element_at(_lit_array(_CITY_NAMES), city_idx.cast("int"))
        store_code = F.concat(F.element_at(_lit_array([c[1] for c in N.CITIES]), city_idx.cast("int")),
                              F.lpad((F.lit(1) + g.i("pos_store", 12, k)).cast("string"), 2, "0"))
        local = self.when_local("pos", 10, 22)
        amount = F.format_string("%.2f", F.round(F.lit(49.0) + F.pow(g.u("pos_amt", k), 2.5) * 9950.0, 2))
        df = df.withColumns({"_tp": pos_d, "_nd": new_d})
        return df.select(
            F.concat(store_code, F.lit("/"), self.rid("pos", CHANNEL_RATES["pos"][2])).alias("TxnNo"),
            _fmt_local(local, "yyyy-MM-dd").alias("BillDate"),
            phone.alias("CustMobile"),
            card.alias("LoyaltyCard"),
            name.alias("CustName"),
            store_city.alias("StoreCity"),
            store_code.alias("StoreCode"),
            amount.alias("Amount"),
            g.pick(N.PAYMENT_MODES, "pos_pay", k).alias("PaymentMode"),
            F.col("p_person_id").alias("person_id"),
        )

    def whatsapp(self) -> DataFrame:
        g = self.g
        df = self.events("whatsapp")
        k = "k"
        utc = self.when_local("whatsapp", 7, 24) - _IST_OFFSET
        f, s = F.col("p_first"), F.col("p_last")
        # the profile name is the person's choice: stable per person
        pf = g.u("wa_profile", F.col("pid"))
        profile = (F.when(pf < 0.30, f).when(pf < 0.65, F.concat_ws(" ", f, s))
                   .when(pf < 0.75, F.concat(f, F.lit(" "), g.pick(N.WA_EMOJI, "wa_emoji", F.col("pid"))))
                   .when(pf < 0.90, F.concat(f, F.lit(" "), F.substring(s, 1, 1)))
                   .otherwise(F.concat(F.substring(f, 1, 1), F.substring(s, 1, 1))))
        mtype = g.pick(N.WA_TYPES, "wa_type", k)
        return df.select(
            F.concat(F.lit("wamid."), F.base64(F.concat(F.lit("HBgM"), self.rid("whatsapp", CHANNEL_RATES["whatsapp"][2]))))
            .alias("message_id"),
            F.concat(F.lit("91"), F.col("p_mobile")).alias("sender_id"),
            profile.alias("profile_name"),
            utc.alias("timestamp"),
            mtype.alias("type"),
            F.when(mtype == "text", F.struct(g.pick(N.WA_TEXTS, "wa_text", k).alias("body"))).alias("text"),
            F.col("p_person_id").alias("person_id"),
        )

    def email_events(self) -> DataFrame:
        g, nz = self.g, self.noise
        df = self.events("email_events", F.col("p_has_email"))
        k = "k"
        e = F.col("p_email")
        local_part = F.substring_index(e, "@", 1)
        domain = F.substring_index(e, "@", -1)
        gm = (domain == "gmail.com") & (g.u("em_gmail", k) < nz.gmail_variant_rate)
        gvar = F.when(g.u("em_gmail_how", k) < 0.5, F.concat(F.regexp_replace(local_part, r"\.", ""), F.lit("@"), domain)) \
            .otherwise(F.concat(local_part, F.lit("+"), g.pick(["offers", "shop", "promo"], "em_tag", k), F.lit("@"), domain))
        df = df.withColumns({"_e1": F.when(gm, gvar).otherwise(e), "_cu": g.u("em_case", k)})
        e1, cu = F.col("_e1"), F.col("_cu")
        df = df.withColumn("_e2", F.when(cu < nz.email_case_rate * 0.6, F.initcap(e1))
                           .when(cu < nz.email_case_rate, F.upper(e1)).otherwise(e1))
        e2 = F.col("_e2")
        e3 = F.when(g.u("em_space", k) < nz.email_space_rate, F.concat(F.lit(" "), e2, F.lit("  "))).otherwise(e2)
        et = g.u("em_type", k)
        local = self.when_local("email_events", 6, 24)
        return df.select(
            F.concat(F.lit("EV"), self.rid("email_events", CHANNEL_RATES["email_events"][2])).alias("EventID"),
            e3.alias("Email"),
            F.when(et < 0.65, "open").when(et < 0.92, "click").otherwise("bounce").alias("EventType"),
            F.concat(_fmt_local(local, "yyyy-MM-dd", sep="T"), F.lit("+05:30")).alias("EventTime"),
            g.pick(N.EMAIL_CAMPAIGNS, "em_campaign", k).alias("CampaignID"),
            F.col("p_person_id").alias("person_id"),
        )

    def orders(self) -> DataFrame:
        g, nz = self.g, self.noise
        df = self.events("orders")
        k = "k"
        utc = self.when_local("orders", 0, 24) - _IST_OFFSET
        email = F.when(F.col("p_has_email") & (g.u("od_guest", k) >= nz.guest_checkout_rate), F.col("p_email"))
        df = df.withColumn("_ship", F.concat_ws(" ", _variant(g, "p_first", nz.name_variant_rate, "od_f", k),
                                                F.col("p_last")))
        ship_name = F.when(g.u("od_up", k) < 0.1, F.upper(F.col("_ship"))).otherwise(F.col("_ship"))
        return df.select(
            F.concat(F.lit("OD"), self.rid("orders", CHANNEL_RATES["orders"][2])).alias("OrderID"),
            email.alias("CustomerEmail"),
            _split_mobile(F.col("p_mobile"), "-", "+91-").alias("CustomerPhone"),
            ship_name.alias("ShippingName"),
            F.concat_ws(", ", F.col("p_address"), F.col("p_city")).alias("ShippingAddress"),
            F.col("p_city").alias("ShippingCity"),
            F.col("p_pincode").alias("ShippingPincode"),
            F.round(F.lit(199.0) + F.pow(g.u("od_amt", k), 2.0) * 24800.0, 2).alias("OrderAmount"),
            F.concat(_fmt_local(utc, "yyyy-MM-dd", sep="T"), F.lit("."),
                     F.lpad(g.i("od_ms", 1000, k).cast("string"), 3, "0"), F.lit("Z")).alias("OrderTime"),
            g.pick(N.PAYMENT_MODES, "od_pay", k).alias("PaymentMode"),
            g.pick(["DELIVERED"] * 7 + ["SHIPPED", "CANCELLED", "RETURNED"], "od_status", k).alias("Status"),
            F.col("p_person_id").alias("person_id"),
        )

    def persons_master(self) -> DataFrame:
        return self.persons_df().select(
            F.col("p_person_id").alias("person_id"),
            F.concat(F.lit("H"), F.lpad((F.col("p_head") + 1).cast("string"), self.P.pid_w, "0")).alias("household_id"),
            F.col("p_member").alias("household_member"),
            F.col("p_hh_size").alias("household_size"),
            F.col("p_first").alias("first_name"), F.col("p_last").alias("last_name"),
            F.col("p_gender").alias("gender"), F.date_format(F.col("p_dob"), "yyyy-MM-dd").alias("dob"),
            F.col("p_city").alias("city"), F.col("p_pincode").alias("pincode"), F.col("p_address").alias("address"),
            F.col("p_mobile").alias("mobile"), F.col("p_family_phone").alias("family_phone"),
            F.when(F.col("p_has_email"), F.col("p_email")).alias("email"),
            F.when(F.col("p_has_loyalty"), F.col("p_loyalty")).alias("loyalty_card"),
            F.when(F.col("p_has_crm"), F.col("p_crm_id")).alias("crm_customer_id"),
        )


RECORD_ID_COLUMN = {
    "crm": "CustomerID", "web": "session_id", "app": "event_id", "call_centre": "CallID", "pos": "TxnNo",
    "whatsapp": "message_id", "email_events": "EventID", "orders": "OrderID",
}


def build_sources(spark: SparkSession, persons: int = 2000, seed: int = 42, noise: NoiseConfig | None = None,
                  partitions: int | None = None) -> dict[str, DataFrame]:
    """The eight source DataFrames (each with a trailing ``person_id`` truth column), unwritten."""
    gen = _Sample(spark, persons, seed, noise or NoiseConfig(), partitions)
    return {name: getattr(gen, name)() for name in SOURCES}


def _single_file(spark: SparkSession, df: DataFrame, tmp_dir: str, target: str) -> None:
    """Write ``df`` as one header CSV file at ``target`` (through the Hadoop FileSystem API)."""
    df.coalesce(1).write.mode("overwrite").option("header", True).csv(tmp_dir)
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop FS is reachable only through py4j
    hconf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    Path = jvm.org.apache.hadoop.fs.Path
    tmp = Path(tmp_dir)
    fs = tmp.getFileSystem(hconf)
    parts = [st.getPath() for st in fs.listStatus(tmp) if st.getPath().getName().startswith("part-")]
    if len(parts) != 1:
        raise RuntimeError(f"expected one part file in {tmp_dir}, found {len(parts)}")
    dst = Path(target)
    if fs.exists(dst):
        fs.delete(dst, True)
    if not fs.rename(parts[0], dst):
        raise RuntimeError(f"could not move {parts[0]} to {target}")
    fs.delete(tmp, True)


def generate_sample(spark: SparkSession, out_dir: str, persons: int = 2000, seed: int = 42,
                    noise: NoiseConfig | None = None, partitions: int | None = None) -> dict:
    """Write the eight landing sources and the truth file under ``out_dir``; return rows per source.

    About 14 rows per person in total (crm 0.75, web 3.0, app 2.5, call_centre 0.5, pos 3.2,
    whatsapp 1.0, email_events 2.0, orders 1.0): ``persons=2000`` gives ~28k rows, 40000 ~560k,
    70000 ~1M. Output is a pure function of (persons, seed, noise): ``partitions`` (the number of
    ``spark.range`` partitions) and shuffle settings only change how files are split.
    """
    if persons < 1:
        raise ValueError("persons must be >= 1")
    out = out_dir.rstrip("/")
    gen = _Sample(spark, persons, seed, noise or NoiseConfig(), partitions)
    frames = {name: getattr(gen, name)() for name in SOURCES}
    truth_parts = []
    for name, df in frames.items():
        path = f"{out}/landing/{name}"
        data = df.drop("person_id")
        fmt = SOURCE_FORMAT[name]
        writer = data.write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", True).csv(path)
        elif fmt == "json":
            writer.json(path)
        else:
            writer.parquet(path)
        truth_parts.append(df.select(F.lit(name).alias("source"), F.col(RECORD_ID_COLUMN[name]).alias("record_id"),
                                     F.col("person_id")))
    truth = truth_parts[0]
    for t in truth_parts[1:]:
        truth = truth.unionByName(t)
    _single_file(spark, truth, f"{out}/truth/_truth_tmp", f"{out}/truth/truth.csv")
    gen.persons_master().write.mode("overwrite").option("header", True).csv(f"{out}/truth/persons")
    counts = {r["source"]: int(r["count"]) for r in
              spark.read.option("header", True).csv(f"{out}/truth/truth.csv").groupBy("source").count().collect()}
    return {name: counts.get(name, 0) for name in SOURCES}
