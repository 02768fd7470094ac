"""Great Expectations quality gates on every layer (cdp.quality.gates runs them).

This package's top level stays free of GX imports: the CLI and the report import from it.
"""
from __future__ import annotations

from typing import Any


class QualityGateError(RuntimeError):
    """A critical quality check failed: the run stops, so the published gold tables stay as they were."""

    def __init__(self, layer: str, failures: list[dict[str, Any]], data_docs: str | None = None) -> None:
        self.layer = layer
        self.failures = failures
        self.data_docs = data_docs
        lines = [f"quality gate failed on the {layer} layer: {len(failures)} critical check(s) failed; "
                 "the run stopped here (published gold tables are unchanged)"]
        lines += [f"  - {layer} check {f['check']} on {f['target']}: observed {f['observed']} "
                  f"vs threshold {f['threshold']}" for f in failures]
        lines.append("details: meta/quality_results" + (f"; Data Docs: {data_docs}" if data_docs else ""))
        super().__init__("\n".join(lines))


__all__ = ["QualityGateError"]
