"""Fault injection for the crash tests: ``CDP_FAULT=<point>`` kills the process with SIGKILL at
that point, exactly as ``kill -9`` would (no cleanup, no flush). Unset, it does nothing."""
from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

ENV_VAR = "CDP_FAULT"
LAND_AFTER_BRONZE = "land:after_bronze"  # a source's bronze commit done, its ledger rows not yet
RESOLVE_AFTER_IDS = "resolve:after_interaction_resolved"  # one silver resolve table written of three
PROFILE_AFTER_FIRST_GOLD = "profile:after_first_gold"  # gold/customer_id_history written, the rest not
POINTS = (LAND_AFTER_BRONZE, RESOLVE_AFTER_IDS, PROFILE_AFTER_FIRST_GOLD)


def crash_point(point: str) -> None:
    """Die here when CDP_FAULT names this point."""
    if os.environ.get(ENV_VAR) == point:
        log.warning("CDP_FAULT=%s: killing the process (SIGKILL)", point)
        os.kill(os.getpid(), signal.SIGKILL)
