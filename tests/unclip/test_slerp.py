"""slerp over whole vectors (BRIEF: unCLIP notes), with the lerp fallback."""

from __future__ import annotations

import math

import pytest
import torch

from pipelines.unclip import slerp


def _pair(shape=(1, 64), seed=0):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    return a, b * (a.norm() / b.norm())  # equal norms


def test_end_points_are_the_inputs():
    a, b = _pair()
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)


@pytest.mark.parametrize("theta", [0.25, 0.5, 0.75])
def test_norm_is_kept_mid_way_where_lerp_shrinks_it(theta):
    a, b = _pair()
    mid = slerp(a, b, theta)
    assert float(mid.norm()) == pytest.approx(float(a.norm()), rel=1e-5)
    assert float(((1 - theta) * a + theta * b).norm()) < 0.95 * float(a.norm())


def test_angle_moves_linearly_with_theta():
    a, b = _pair(seed=3)
    unit = lambda v: v.flatten() / v.norm()  # noqa: E731
    omega = math.acos(float(unit(a) @ unit(b)))
    for theta in (0.2, 0.5, 0.9):
        angle = math.acos(float(unit(a) @ unit(slerp(a, b, theta))))
        assert angle == pytest.approx(theta * omega, abs=1e-5)


def test_whole_tensor_is_one_vector_not_element_wise():
    a, b = _pair(shape=(1, 4, 8, 8), seed=1)
    out = slerp(a, b, 0.5)
    flat = slerp(a.reshape(1, -1), b.reshape(1, -1), 0.5).reshape(a.shape)
    assert torch.allclose(out, flat, atol=1e-6)
    assert float(out.norm()) == pytest.approx(float(a.norm()), rel=1e-5)


def test_parallel_vectors_fall_back_to_lerp():
    a = torch.randn(1, 64, generator=torch.Generator().manual_seed(2))
    out = slerp(a, 2 * a, 0.5)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, 1.5 * a, atol=1e-5)


def test_antiparallel_vectors_stay_finite():
    a = torch.randn(1, 64, generator=torch.Generator().manual_seed(4))
    assert torch.isfinite(slerp(a, -a, 0.3)).all()


def test_shapes_must_match():
    with pytest.raises(ValueError, match="one shape"):
        slerp(torch.ones(1, 4), torch.ones(1, 5), 0.5)
