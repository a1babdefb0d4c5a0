"""The built-in decoders, by the name firmware profiles give in ``decoder:``.

Adding a built-in decoder: write its module (a :class:`~downhill_live.decode.base.Decoder`
named ``DECODER`` beside its parser, encoder and handshake), then add it to the tuple below.
Everything else (the firmware profile parser, stream settings, the session, live mode's
start/stop) asks this registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from downhill_live.decode import ftms, layout, polar_pmd, rsc, thingy
from downhill_live.decode.base import Decoder, Setting

#: decoder name -> Decoder, in the order the docs list them
DECODERS: Mapping[str, Decoder] = MappingProxyType(
    {
        d.name: d
        for d in (layout.DECODER, polar_pmd.DECODER, rsc.DECODER, ftms.DECODER, thingy.DECODER)
    }
)


def stream_settings() -> dict[str, Setting]:
    """Every stream setting a decoder accepts: key -> :class:`Setting`, merged over decoders.

    A key several decoders accept (``rate_hz``) is checked against the tightest limit, whatever
    streams a profile has, so a setting is valid or not independently of the profile.
    """
    merged: dict[str, Setting] = {}
    for decoder in DECODERS.values():
        for key, setting in decoder.settings.items():
            known = merged.get(key)
            if known is None:
                merged[key] = setting
                continue
            if known.boolean != setting.boolean:
                raise TypeError(f"decoders disagree on whether setting {key!r} is true/false")
            limits = [v for v in (known.max_value, setting.max_value) if v is not None]
            merged[key] = Setting(
                f"{known.help}; {setting.help}",
                boolean=known.boolean,
                max_value=min(limits) if limits else None,
            )
    return merged


__all__ = ["DECODERS", "stream_settings"]
