"""Configuration: YAML files -> validated, frozen dataclasses.

- :mod:`~downhill_live.config.firmware`: firmware profiles (how to find, start and decode a sensor);
  the bundled ones live in the top-level ``firmware_profiles/`` folder and ship as package data.
- :mod:`~downhill_live.config.cue_profile`: the runner's cue profile (rules, thresholds, speech).
- :mod:`~downhill_live.config.yamlio`: YAML loading with file:line:key errors.
"""
