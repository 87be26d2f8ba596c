"""report: one self-contained HTML page of every result (`smileynet report INPUT... --out FILE.html`).

Inputs are recognised by the files they hold (`discover`): collect and sample outputs, training runs,
evaluation JSON, transfer results. Each section appears only when its inputs do (`dataset`,
`training`, `transfer`); the paper's published numbers sit in their own rows (`published`).
Images and plots are embedded as data URIs and the page has no scripts, so it works offline.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.report.render import ReportConfig as ReportConfig
    from smileynet.report.render import build_report as build_report

_EXPORTS = {"ReportConfig": "render", "build_report": "render"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
