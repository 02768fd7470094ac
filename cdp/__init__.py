"""cdp: a Spark batch Customer Data Platform engine (land, standardize, resolve, profile, report)."""
from __future__ import annotations

import logging

__version__ = "0.1.0"

logger = logging.getLogger("cdp")
logger.addHandler(logging.NullHandler())


def configure_logging(level: int = logging.INFO) -> None:
    """Send the package's log lines to stderr (used by the CLI and jobs, never on import)."""
    if any(getattr(h, "_cdp", False) for h in logger.handlers):
        logger.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler._cdp = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
