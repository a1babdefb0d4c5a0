"""The scoring of the accuracy figures (downhill_live.tools.accuracy), on hand-made times."""

from __future__ import annotations

import numpy as np

from downhill_live.tools.accuracy import match_strikes


def test_each_reference_matches_one_detection_nearest_first() -> None:
    m = match_strikes(np.array([1.00, 1.03, 2.2, 5.0]), np.array([1.02, 2.0, 3.0]), 0.1)
    assert (m.tp, m.fp, m.fn) == (1, 3, 2)  # 1.03 takes 1.02; 1.00 is left over
    assert np.allclose(m.err_s, [0.01])


def test_a_detection_inside_an_ignored_span_still_matches_the_contact_outside() -> None:
    det = np.array([1.0, 1.96, 3.0])
    ref = np.array([1.01, 2.02, 3.02])
    # the detection at 1.96 lies in a span left out of scoring that ends at 2.0; the contact
    # at 2.02 is outside it: found, not missed, and the detection is no false positive
    m = match_strikes(det, ref, 0.1, det_ignored=np.array([False, True, False]))
    assert (m.tp, m.fp, m.fn) == (3, 0, 0)
    # an ignored detection that matches nothing counts nowhere; an unmatched reference outside
    # the span is missed
    m = match_strikes(
        np.array([1.0, 1.5]), np.array([1.01, 2.5]), 0.1, det_ignored=np.array([False, True])
    )
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)
    # both of a pair ignored: it counts nowhere
    m = match_strikes(np.array([1.0]), np.array([1.01]), 0.1, np.array([True]), np.array([True]))
    assert (m.tp, m.fp, m.fn) == (0, 0, 0)
