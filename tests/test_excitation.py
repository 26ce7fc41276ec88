"""LightExcitation: the photon budget's physics (P², spectrum, geometry) and its noise."""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


SPECTRUM = Path(jg.__file__).parent / "spectra" / "egfp_2p.csv"


def _spectrum():
    """wavelength (nm) -> brightness (GM), read from the shipped file's text."""
    lines = [ln for ln in SPECTRUM.read_text().splitlines() if ln and ln[0].isdigit()]
    return {int(ln.split(",")[0]): float(ln.split(",")[2]) for ln in lines}


def test_factor_is_one_and_null_unchanged():
    exc = jg.LightExcitation(power=0.04)
    assert exc.factor(5) == 1.0 and jg.NullExcitation().factor(5) == 1.0


def test_double_power_gives_four_times_photons(x64):
    a = jg.LightExcitation(power=0.02).photons_per_frame()
    b = jg.LightExcitation(power=0.04).photons_per_frame()
    assert float(b / a) == pytest.approx(4.0, rel=1e-12)


def test_double_power_dff_unbiased_noise_halved(x64):
    # 4x photons: the exact sampler's mean ΔF/F stays the clean one and its std halves (up to the
    # read/dark terms, which are < 0.1 % of the variance at these photon counts)
    clean = jnp.full((100_000,), 0.8)
    sds = []
    for p in (0.01, 0.02):
        noise = jg.LightExcitation(power=p).noise_model()
        x = np.asarray(noise.sample(jax.random.key(0), clean))
        # standard error of the mean: sd/sqrt(1e5) ~ 0.3 % of sd
        assert abs(x.mean() - 0.8) < 0.02 * x.std()
        sds.append(x.std())
    # std of a sample std ~ sd/sqrt(2e5): the ratio is known to ~0.5 %
    assert sds[1] / sds[0] == pytest.approx(0.5, rel=0.02)


def test_920_vs_1000_nm_ratio_follows_the_spectrum(x64):
    # photons ∝ φσ₂(λ) <P>²/λ with <P> in photons/s ∝ λ: ratio = (b(920) 920) / (b(1000) 1000)
    spec = _spectrum()
    want = spec[920] * 920 / (spec[1000] * 1000)
    a = jg.LightExcitation(power=0.04, wavelength=920e-9).photons_per_frame()
    b = jg.LightExcitation(power=0.04, wavelength=1000e-9).photons_per_frame()
    assert float(a / b) == pytest.approx(want, rel=1e-9)


def test_geometry_terms(x64):
    exc = jg.LightExcitation(power=0.04, frame_rate=30.0, fov=500e-6, resolution=500, soma_radius=5e-6)
    assert float(exc.dwell_time) == pytest.approx(1 / (30 * 500**2), rel=1e-12)
    assert float(exc.roi_pixels) == pytest.approx(math.pi * 25, rel=1e-12)  # 1 µm pixels
    cone = (1 - math.cos(math.asin(0.8 / 1.33))) / 2
    assert float(exc.collection_efficiency) == pytest.approx(0.3 * cone, rel=1e-12)
    # 2P depth attenuation: photons scale as exp(-2 depth / l)
    deep = jg.LightExcitation(power=0.04, depth=200e-6, attenuation_length=200e-6)
    ratio = deep.photons_per_frame() / jg.LightExcitation(power=0.04).photons_per_frame()
    assert float(ratio) == pytest.approx(math.exp(-2), rel=1e-12)
    # reciprocal pulse width and repetition rate: halving f·τ doubles the photons
    base = jg.LightExcitation(power=0.04).photons_per_frame()
    r = jg.LightExcitation(power=0.04, pulse_width=75e-15).photons_per_frame() / base
    assert float(r) == pytest.approx(2.0, rel=1e-12)


def test_photon_budget_is_differentiable_in_power_and_wavelength(x64):
    f = lambda p, wl: jg.LightExcitation(power=p, wavelength=wl).photons_per_frame()  # noqa: E731
    gp, gw = jax.grad(f, argnums=(0, 1))(0.04, 925e-9)
    assert float(gp) == pytest.approx(2 * float(f(0.04, 925e-9)) / 0.04, rel=1e-9)  # d(P²)/dP
    assert np.isfinite(float(gw))


def test_fallback_spectrum_warns():
    with pytest.warns(UserWarning, match="EGFP"):
        jg.LightExcitation(power=0.04, indicator="jGCaMP8s")


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"power": -1.0}, "power"),
        ({"power": 0.04, "wavelength": 600e-9}, "wavelength"),
        ({"power": 0.04, "na": 1.4}, "na"),
        ({"power": 0.04, "resolution": 0}, "resolution"),
        ({"power": 0.04, "attenuation_length": 0.0}, "attenuation_length"),
    ],
)
def test_bad_settings_are_named(kw, msg):
    with pytest.raises(ValueError, match=msg):
        jg.LightExcitation(**kw)


def test_no_settings_keeps_the_explanation():
    with pytest.raises(NotImplementedError, match="light_dependent=False"):
        jg.LightExcitation()
