"""Name comparison helpers: transliteration variants, an Indian-aware phonetic key, token parts.

Pure Python on single strings; the Spark side calls them inside vectorised pandas UDFs over
whole columns (see :mod:`cdp.matching.records` and :mod:`cdp.matching.features`).
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

log = logging.getLogger(__name__)

# Spellings no variants file lists but every Indian export carries.
BUILTIN_VARIANTS: dict[str, str] = {
    "md": "mohammed", "mohd": "mohammed", "mohamed": "mohammed", "mohammad": "mohammed",
    "muhammad": "mohammed", "muhammed": "mohammed", "mohamad": "mohammed",
}

_NON_ALPHA = re.compile(r"[^a-z]")
# Applied in order. Aspirates and retroflex spellings fold to one letter (bh/b, dh/d, th/t...),
# 'ksh' and 'x' meet (Lakshmi/Laxmi), q/k (Qureshi/Kureshi), z/j, w/v, ph/f.
_PHONETIC_RULES: tuple[tuple[str, str], ...] = (
    ("ksh", "x"), ("ks", "x"), ("ph", "f"), ("bh", "b"), ("dh", "d"), ("th", "t"), ("gh", "g"),
    ("kh", "k"), ("jh", "j"), ("ch", "c"), ("sh", "s"), ("zh", "j"), ("ck", "k"), ("q", "k"),
    ("z", "j"), ("w", "v"),
)
_VOWELS = re.compile(r"[aeiouy]")
_REPEATS = re.compile(r"(.)\1+")


def phonetic_key(token: str | None) -> str | None:
    """Indian-aware phonetic key of one name token: first letter kept, then the consonant
    skeleton with aspirates folded, 'h' and vowels dropped and repeats collapsed.

    anoop/anup -> anp, mohammed/muhammad/mohd -> md, srinivas/shrinivas/sreenivas -> srnvs,
    lakshmi/laxmi -> lxm, harpreet/harprit -> hrprt.
    """
    if not token:
        return None
    t = _NON_ALPHA.sub("", token.lower())
    if not t:
        return None
    for a, b in _PHONETIC_RULES:
        t = t.replace(a, b)
    head, rest = t[0], t[1:]
    rest = _VOWELS.sub("", rest.replace("h", ""))
    return _REPEATS.sub(r"\1", head + rest)


def load_name_variants(path: str | Path | None) -> dict[str, str]:
    """Spelling -> canonical spelling, from a TSV of roman spelling TAB native script (a header
    line is allowed): spellings sharing a native form are variants of one name and map to the
    alphabetically first of them. Always includes :data:`BUILTIN_VARIANTS`. A missing file is
    logged and skipped (matching still runs, with phonetic keys only)."""
    variants = dict(BUILTIN_VARIANTS)
    if path is None:
        return variants
    p = Path(path)
    if not p.exists():
        log.warning("name variants file %s not found: transliteration variants are off", p)
        return variants
    # spellings sharing a native form are one name; a spelling listed under two native forms
    # joins their groups (union-find), so every spelling of the group meets on one canonical form
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_of_native: dict[str, str] = {}
    with p.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            roman = _NON_ALPHA.sub("", parts[0].lower())
            native = parts[1].strip()
            if line_no == 1 and roman in ("english", "roman", "name"):
                continue
            if not roman or not native:
                continue
            find(roman)
            if native in first_of_native:
                ra, rb = find(roman), find(first_of_native[native])
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            else:
                first_of_native[native] = roman
    groups: dict[str, set[str]] = defaultdict(set)
    for spelling in parent:
        groups[find(spelling)].add(spelling)
    for spellings in groups.values():
        if len(spellings) > 1:
            canonical = min(spellings)
            for s in spellings:
                variants.setdefault(s, canonical)
    log.info("name variants: %d spellings from %s", len(variants), p)
    return variants


def canonical_tokens(name_key: str | None, variants: dict[str, str]) -> list[str]:
    """Tokens of a folded name (lower case, single spaces) with variant spellings replaced."""
    if not name_key:
        return []
    return [variants.get(t, t) for t in name_key.split() if t]


def name_parts(name_key: str | None, variants: dict[str, str]) -> dict[str, str | None]:
    """canon (canonical tokens joined), first, last (None for a one-token name), their
    phonetic keys (None for an initial) and the sorted phonetic key of every token."""
    tokens = canonical_tokens(name_key, variants)
    if not tokens:
        return {"canon": None, "first": None, "last": None, "first_phonetic": None,
                "last_phonetic": None, "name_phonetic": None}
    first = tokens[0]
    last = tokens[-1] if len(tokens) > 1 else None
    keys = sorted(k for k in (phonetic_key(t) for t in tokens if len(t) > 1) if k)
    return {
        "canon": " ".join(tokens),
        "first": first,
        "last": last,
        "first_phonetic": phonetic_key(first) if len(first) > 1 else None,
        "last_phonetic": phonetic_key(last) if last and len(last) > 1 else None,
        "name_phonetic": " ".join(keys) or None,
    }
