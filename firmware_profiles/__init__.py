"""Bundled firmware profiles (YAML), shipped inside the package as
``downhill_live.firmware_profiles`` and read with :mod:`importlib.resources`."""
