"""Excitation submodels: the ΔF/F factor (1) and the two-photon photon budget.

Cleo's maintainers concluded that imaging power, the excitation spectrum at the wavelength and the
dwell time change the *noise* of a recording, not its ΔF/F. So every excitation model here has
ΔF/F factor 1; :class:`LightExcitation` also computes the photon budget (expected detected
photons per ROI per frame at rest), which sets the photon noise (:class:`jaxgeci.PhotonNoise`)
and photobleaching (:func:`jaxgeci.bleach_rate`).
"""

from __future__ import annotations

import abc
import functools
import importlib.resources
import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._noise import PhotonNoise
from ._validation import check_number


H_PLANCK = 6.62607015e-34  # J s (exact, SI 2019)
C_LIGHT = 299792458.0  # m/s (exact)
N_AVOGADRO = 6.02214076e23  # 1/mol (exact)
GM = 1e-58  # m^4 s per photon: 1 Goeppert-Mayer = 1e-50 cm^4 s
G_P_GAUSSIAN = 0.664  # second-order temporal coherence of Gaussian pulses (Xu & Webb 1996)

SPECTRA = {"egfp": "egfp_2p.csv"}
"""Measured 2P spectra shipped in ``jaxgeci/spectra/`` (lower-case indicator name -> file)."""


@functools.cache
def load_spectrum(name: str):
    """``(wavelength (m), action cross section φσ₂ (m⁴ s))`` of a shipped 2P spectrum, NumPy.

    ``name`` is a key of :data:`SPECTRA` (case-insensitive). The file header gives the source.
    """
    key = str(name).lower()
    if key not in SPECTRA:
        raise ValueError(f"no 2P spectrum named {name!r}; shipped: {sorted(SPECTRA)}.")
    text = importlib.resources.files("jaxgeci").joinpath("spectra", SPECTRA[key]).read_text()
    rows = [ln for ln in text.splitlines() if ln and not ln.startswith("#")][1:]  # skip column names
    arr = np.array([[float(v) for v in ln.split(",")] for ln in rows])
    return arr[:, 0] * 1e-9, arr[:, 2] * GM


def spectrum_for(indicator: str, *, warn: bool = True):
    """The 2P spectrum used for ``indicator``: its own if shipped, else EGFP's (Drobizhev et al.
    2011) with a warning naming the fallback (GCaMPs carry EGFP's chromophore)."""
    key = str(indicator).lower()
    if key in SPECTRA:
        return load_spectrum(key)
    if warn:
        warnings.warn(
            f"no measured 2P spectrum for {indicator!r} is shipped; using EGFP's (Drobizhev et al. 2011) "
            "for the wavelength dependence and scale of the photon budget.",
            stacklevel=3,
        )
    return load_spectrum("egfp")


class ExcitationModel(eqx.Module):
    """Abstract base: the dimensionless excitation factor multiplying ΔF/F."""

    @abc.abstractmethod
    def factor(self, n_neurons: int):
        """Excitation factor (dimensionless), scalar or ``(neurons,)``."""


class NullExcitation(ExcitationModel):
    """Excitation is not modelled: factor 1 (every preset; all of Cleo's reference data)."""

    def factor(self, n_neurons):
        return 1.0


def _f(x):
    return jnp.asarray(x, dtype=float)


class LightExcitation(ExcitationModel):
    """Two-photon excitation: ΔF/F factor 1, and the resting photon budget of a ROI.

    Detected photons per ROI per frame at rest (:meth:`photons_per_frame`)::

        emission rate  F = ½ g_p C (φσ₂)(λ) · 8 n <P>² / (π λ f τ)      (photons/s)
        photons        = F · η_collect · t_dwell · n_roi_pixels · rest_brightness

    the thick-sample two-photon fluorescence of Xu & Webb (1996, J Opt Soc Am B 13:481; also
    Zipfel, Williams & Webb 2003, Nat Biotechnol 21:1369) with ``<P>`` the time-averaged power at
    the focus in photons/s (``P λ / (h c)``), ``g_p`` = 0.664 (Gaussian pulses), ``C`` the
    indicator concentration (molecules/m³), ``φσ₂`` the action cross section from the spectrum
    at ``wavelength``, ``n`` the immersion index, ``f`` the repetition rate and ``τ`` the pulse
    width. So photons ∝ σ₂(λ) P² / (f τ): twice the power gives 4× the photons (the formula
    assumes no excitation saturation: fine for the few-% per-pulse excitation of imaging).

    - dwell time ``t_dwell = fill_fraction / (frame_rate · resolution²)`` (s);
    - ROI pixels ``π soma_radius² / pixel²``, ``pixel = fov / resolution`` (m);
    - collection ``η_collect = detection_efficiency · (1 - cos(asin(NA/n))) / 2`` (the solid
      angle of the objective's cone);
    - optional depth attenuation of the excitation: ``P_focus = P exp(-depth /
      attenuation_length)`` (``attenuation_length=None``: none);
    - ``rest_brightness``: the indicator's brightness at rest relative to the spectrum's
      fluorophore (a GCaMP at rest is much dimmer than EGFP).

    Defaults: NAOMi's laser and objective (Song et al. 2021: 40 mW, 920 nm, 80 MHz, 150 fs,
    NA 0.8), a 30 Hz 512 × 512 frame of 500 µm. ``concentration`` (10 µM),
    ``rest_brightness`` (0.1) and ``detection_efficiency`` (0.3: optics × PMT quantum
    efficiency) are coarse assumptions, not measurements: calibrate the photon budget on a
    recording (:func:`jaxgeci.calibrate_measurement`) when absolute numbers matter.

    Attributes (SI): power (W at the sample surface), wavelength (m), rep_rate (Hz),
    pulse_width (s), na, immersion_index, frame_rate (Hz), fov (m), resolution (pixels per
    line), fill_fraction, soma_radius (m), concentration (M), rest_brightness,
    detection_efficiency, depth (m), attenuation_length (m or None), indicator (spectrum name).
    """

    power: jax.Array
    wavelength: jax.Array
    rep_rate: jax.Array
    pulse_width: jax.Array
    na: jax.Array
    immersion_index: jax.Array
    frame_rate: jax.Array
    fov: jax.Array
    resolution: int = eqx.field(static=True)
    fill_fraction: jax.Array
    soma_radius: jax.Array
    concentration: jax.Array
    rest_brightness: jax.Array
    detection_efficiency: jax.Array
    depth: jax.Array
    attenuation_length: jax.Array | None
    indicator: str = eqx.field(static=True)
    spectrum_wavelength: tuple = eqx.field(static=True, repr=False)
    spectrum_brightness: tuple = eqx.field(static=True, repr=False)

    def __init__(
        self,
        power=None,
        wavelength=920e-9,
        rep_rate=80e6,
        pulse_width=150e-15,
        na=0.8,
        immersion_index=1.33,
        frame_rate=30.0,
        fov=500e-6,
        resolution=512,
        fill_fraction=1.0,
        soma_radius=10e-6,
        concentration=10e-6,
        rest_brightness=0.1,
        detection_efficiency=0.3,
        depth=0.0,
        attenuation_length=None,
        indicator="EGFP",
    ):
        if power is None:
            raise NotImplementedError(
                "LightExcitation needs the laser settings: LightExcitation(power=0.04, wavelength=920e-9, ...) "
                "(W, m). geci(light_dependent=True) cannot choose them; use light_dependent=False (NullExcitation, "
                "factor 1) and pass a LightExcitation to the measurement instead."
            )
        for name, v, unit, strict in (
            ("power", power, "W", False),
            ("wavelength", wavelength, "m", True),
            ("rep_rate", rep_rate, "Hz", True),
            ("pulse_width", pulse_width, "s", True),
            ("na", na, "1", True),
            ("immersion_index", immersion_index, "1", True),
            ("frame_rate", frame_rate, "Hz", True),
            ("fov", fov, "m", True),
            ("fill_fraction", fill_fraction, "1", True),
            ("soma_radius", soma_radius, "m", True),
            ("concentration", concentration, "M", False),
            ("rest_brightness", rest_brightness, "1", False),
            ("detection_efficiency", detection_efficiency, "1", False),
            ("depth", depth, "m", False),
        ):
            if not isinstance(v, jax.core.Tracer):
                check_number(name, v, unit=unit, strict=strict)
        if not isinstance(na, jax.core.Tracer) and not isinstance(immersion_index, jax.core.Tracer):
            if float(na) >= float(immersion_index):
                raise ValueError(f"na must be < immersion_index ({immersion_index!r}), got {na!r}.")
        if not isinstance(fill_fraction, jax.core.Tracer) and float(fill_fraction) > 1:
            raise ValueError(f"fill_fraction must be in (0, 1] (dimensionless), got {fill_fraction!r}.")
        if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
            raise ValueError(f"resolution must be an integer >= 1 (pixels per line), got {resolution!r}.")
        if attenuation_length is not None:
            check_number("attenuation_length", attenuation_length, unit="m", strict=True)
        wl, br = spectrum_for(indicator)
        lo, hi = float(wl[0]), float(wl[-1])
        if not isinstance(wavelength, jax.core.Tracer) and not lo <= float(wavelength) <= hi:
            raise ValueError(
                f"wavelength must lie within the {indicator} spectrum, {lo * 1e9:.0f}-{hi * 1e9:.0f} nm (in m), "
                f"got {wavelength!r}."
            )
        self.power, self.wavelength, self.rep_rate, self.pulse_width = map(
            _f, (power, wavelength, rep_rate, pulse_width)
        )
        self.na, self.immersion_index, self.frame_rate, self.fov = map(_f, (na, immersion_index, frame_rate, fov))
        self.resolution = int(resolution)
        self.fill_fraction, self.soma_radius, self.concentration = map(_f, (fill_fraction, soma_radius, concentration))
        self.rest_brightness, self.detection_efficiency, self.depth = map(
            _f, (rest_brightness, detection_efficiency, depth)
        )
        self.attenuation_length = None if attenuation_length is None else _f(attenuation_length)
        self.indicator = str(indicator)
        self.spectrum_wavelength, self.spectrum_brightness = tuple(map(float, wl)), tuple(map(float, br))

    def factor(self, n_neurons):
        """ΔF/F factor: 1 (excitation changes the noise and bleaching, not ΔF/F)."""
        return 1.0

    # ------------------------------------------------------------------ photon budget
    def action_cross_section(self, wavelength=None):
        """φσ₂ at ``wavelength`` (m; default the laser's), in m⁴ s (linear interpolation)."""
        wl = self.wavelength if wavelength is None else _f(wavelength)
        return jnp.interp(wl, jnp.asarray(self.spectrum_wavelength), jnp.asarray(self.spectrum_brightness))

    @property
    def dwell_time(self):
        """Pixel dwell time (s): ``fill_fraction / (frame_rate * resolution**2)``."""
        return self.fill_fraction / (self.frame_rate * self.resolution**2)

    @property
    def pixel_size(self):
        """Pixel size (m): ``fov / resolution``."""
        return self.fov / self.resolution

    @property
    def roi_pixels(self):
        """Pixels of a ROI (dimensionless): ``π soma_radius² / pixel_size²``."""
        return math.pi * self.soma_radius**2 / self.pixel_size**2

    @property
    def collection_efficiency(self):
        """Fraction of emitted photons detected (dimensionless)."""
        half_angle = jnp.arcsin(self.na / self.immersion_index)
        return self.detection_efficiency * (1.0 - jnp.cos(half_angle)) / 2.0

    @property
    def power_at_focus(self):
        """Excitation power reaching the focus (W)."""
        if self.attenuation_length is None:
            return self.power
        return self.power * jnp.exp(-self.depth / self.attenuation_length)

    def emission_rate(self, wavelength=None):
        """Fluorescence photons emitted per second from the focus at rest brightness 1 (1/s)."""
        wl = self.wavelength if wavelength is None else _f(wavelength)
        photon_flux = self.power_at_focus * wl / (H_PLANCK * C_LIGHT)  # photons/s
        c = self.concentration * 1e3 * N_AVOGADRO  # molecules/m^3
        geom = 8.0 * self.immersion_index / (math.pi * wl)
        return (
            0.5
            * G_P_GAUSSIAN
            * c
            * self.action_cross_section(wl)
            * geom
            * photon_flux**2
            / (self.rep_rate * self.pulse_width)
        )

    def photons_per_frame(self, wavelength=None):
        """Expected detected photons per ROI per frame at rest (photons)."""
        return (
            self.emission_rate(wavelength)
            * self.collection_efficiency
            * self.dwell_time
            * self.roi_pixels
            * self.rest_brightness
        )

    def noise_model(self, **pmt) -> PhotonNoise:
        """:class:`jaxgeci.PhotonNoise` with this photon budget and ``n_pixels = roi_pixels``
        (``pmt``: gain_mean, gain_var, read_sigma, dark_counts)."""
        return PhotonNoise(self.photons_per_frame(), n_pixels=self.roi_pixels, **pmt)
