"""report: one self-contained HTML page of every result (`smileynet report INPUT... --out FILE.html`).

Inputs are recognised by the files they hold (`inputs`): collect and sample outputs, training runs,
evaluation JSON, transfer results. Each section appears only when its inputs do (`dataset`,
`training`, `transfer`); the paper's published numbers sit in their own rows (`published`).
Images and plots are embedded as data URIs and the page has no scripts, so it works offline.
"""

__all__ = ["ReportConfig", "build_report"]


def __getattr__(name: str):
    # Lazy, so that importing the CLI module (and `smileynet --help`) stays fast.
    if name in __all__:
        from smileynet.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'smileynet.report' has no attribute {name!r}")
