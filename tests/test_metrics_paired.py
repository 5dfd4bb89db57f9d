"""The paired bootstrap every benchmark reports its differences with."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranksuite.shared.metrics.paired import paired_bootstrap


def test_hand_computed_difference_and_wins() -> None:
    res = paired_bootstrap([0.0, 0.0, 1.0, 0.5], [1.0, 0.0, 1.0, 0.25])
    assert res["units"] == 4 and res["diff"] == pytest.approx((1.0 - 0.25) / 4)
    assert res["b_wins"] == 1 and res["a_wins"] == 1
    assert res["mean_a"] == pytest.approx(0.375) and res["mean_b"] == pytest.approx(0.5625)
    lo, hi = res["ci95"]
    assert -0.25 <= lo <= res["diff"] <= hi <= 1.0  # bounded by the smallest and largest per-unit difference
    assert paired_bootstrap([0.0, 1.0], [0.0, 1.0])["ci95"] == [0.0, 0.0]
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=30), st.floats(-0.5, 0.5))
@settings(max_examples=50, deadline=None)
def test_a_constant_shift_is_recovered_exactly(values: list[float], shift: float) -> None:
    a = np.array(values)
    res = paired_bootstrap(a, a + shift, resamples=200)
    assert res["diff"] == pytest.approx(shift, abs=1e-9)
    assert res["ci95"][0] == pytest.approx(shift, abs=1e-9) and res["ci95"][1] == pytest.approx(
        shift, abs=1e-9
    )
