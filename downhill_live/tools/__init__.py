"""Batch tools over recordings and files (not pipeline stages): analysis, import/export, tuning,
reports and cue verification. Each runs the same :class:`~downhill_live.session.Session`."""
