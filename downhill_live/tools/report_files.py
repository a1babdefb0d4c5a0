"""The files ``downhill-live report`` writes next to its page, by name: apart from
:mod:`downhill_live.tools.report` so that the command line can name them in ``--help`` without
importing matplotlib."""

from __future__ import annotations

from pathlib import Path

PNG_NAMES: tuple[str, ...] = ("cadence", "impact", "grade")
"""The PNG files next to ``PAGE.html``: ``PAGE-cadence.png``, ``PAGE-impact.png``,
``PAGE-grade.png`` (see :func:`png_paths`; the ``--help`` text and the README name the same)."""


def png_paths(html_out: str | Path) -> dict[str, Path]:
    """Where the chart PNGs of a report page go.

    >>> [str(p) for p in png_paths("out/run.html").values()]
    ['out/run-cadence.png', 'out/run-impact.png', 'out/run-grade.png']
    """
    p = Path(html_out)
    stem = p.stem if p.suffix.lower() in (".html", ".htm") else p.name
    return {name: p.with_name(f"{stem}-{name}.png") for name in PNG_NAMES}
