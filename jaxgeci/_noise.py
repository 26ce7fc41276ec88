"""Measurement noise models and the likelihood interface.

Every noise model acts on *clean* ΔF/F samples (dimensionless), time-major ``(samples,)`` or
``(samples, rois)``, and offers three things:

- ``sample(key, clean)``: a noisy draw; sample ``m`` uses ``jax.random.fold_in(key, m)`` only,
  so an offline run and a closed loop stepping frame by frame draw the same noise;
- ``moments(clean)``: mean and variance of the noisy ΔF/F given the clean one;
- ``log_likelihood(observed, predicted)``: the log density (natural log, summed over every
  element) of ``observed`` ΔF/F given the ``predicted`` clean ΔF/F; a Gaussian with
  ``moments(predicted)`` (exact for :class:`CleoGaussianNoise`, the moment-matched surrogate for
  :class:`PhotonNoise`). Differentiable in ``predicted`` and in the model's fields; vmap it for
  one value per cell.

:class:`CleoGaussianNoise` is Cleo's white Gaussian ``sigma_noise`` (bit-identical to the
Scope's noise). :class:`PhotonNoise` is the photon-counting chain of a two-photon microscope
(NAOMi, Song et al. 2021, J Neurosci Methods 358:109173): Poisson photons plus dark counts ->
photomultiplier gain with excess noise (gamma-distributed gain per photon, mean 100 and
variance 2300 output units) -> Gaussian read (electronics) noise, σ 2.7 output units per pixel
sample. Its ``sample`` is exact; :class:`PhotonGaussianNoise` samples its Gaussian surrogate.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._validation import _short, is_concrete


NAOMI_GAIN_MEAN = 100.0
"""PMT output units per detected photon, mean (NAOMi default, Song et al. 2021)."""
NAOMI_GAIN_VAR = 2300.0
"""Variance of the PMT output per detected photon (output units², NAOMi default)."""
NAOMI_READ_SIGMA = 2.7
"""Electronics (read) noise std per pixel sample (output units, NAOMi default)."""
NAOMI_DARK_COUNTS = 0.05
"""Dark counts per pixel sample (photons, NAOMi default)."""


def _f(x):
    return jnp.asarray(x, dtype=float)


def _check_nonneg(name, value, unit, *, strict=False):
    if value is None or not is_concrete(value):
        return
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | ((arr <= 0) if strict else (arr < 0))
    if np.any(bad):
        rel = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be finite and {rel} ({unit}), got {_short(value)}.")


def _check_clean(clean):
    if jnp.ndim(clean) not in (1, 2):
        raise ValueError(f"clean ΔF/F must be time-major (samples,) or (samples, rois), got shape {jnp.shape(clean)}.")


def _per_sample_keys(key, n):
    """Key of sample ``m`` = ``fold_in(key, m)`` (the Scope's convention)."""
    return jax.vmap(lambda m: jax.random.fold_in(key, m))(jnp.arange(n))


def gaussian_log_density(observed, mean, var):
    """Sum over all elements of ``log N(observed | mean, var)`` (natural log; var > 0)."""
    r = observed - mean
    return -0.5 * jnp.sum(r * r / var + jnp.log(2.0 * jnp.pi * var))


class NoiseModel(eqx.Module):
    """Abstract measurement noise on ΔF/F (dimensionless); see the module docstring."""

    @abc.abstractmethod
    def sample(self, key, clean):
        """Noisy ΔF/F, same shape and dtype as ``clean``; sample ``m`` from ``fold_in(key, m)``."""

    @abc.abstractmethod
    def moments(self, clean):
        """``(mean, var)`` of the noisy ΔF/F given ``clean`` (dimensionless), broadcast to its shape."""

    def log_likelihood(self, observed, predicted):
        """Gaussian log density of ``observed`` given ``predicted`` (nats, summed over elements)."""
        mean, var = self.moments(predicted)
        return gaussian_log_density(observed, mean, var)


class CleoGaussianNoise(NoiseModel):
    """Cleo's white Gaussian noise: ``clean + sigma * N(0, 1)``.

    Attributes:
        sigma: noise std (dimensionless ΔF/F), scalar or ``(rois,)``.

    ``sample`` is bit-identical to :meth:`jaxgeci.Scope.image`'s noise for the same key and
    per-ROI ``sigma`` (one ``N(0, 1)`` vector of length ``rois`` per sample ``m`` from
    ``fold_in(key, m)``, times ``sigma``).
    """

    sigma: jax.Array = eqx.field(converter=_f)

    def __check_init__(self):
        _check_nonneg("sigma", self.sigma, "dimensionless ΔF/F")
        if jnp.ndim(self.sigma) > 1:
            raise ValueError(f"sigma must be a scalar or (rois,), got shape {jnp.shape(self.sigma)}.")

    @eqx.filter_jit  # compiled like the Scope's own noise step, so the float ops fuse alike
    def sample(self, key, clean):
        _check_clean(clean)
        clean = jnp.asarray(clean)
        row = clean.shape[1:]
        sigma = jnp.broadcast_to(self.sigma, row).astype(clean.dtype)
        keys = _per_sample_keys(key, clean.shape[0])
        # N(0, 1) times sigma per sample, then added: the Scope's operations in its order
        noise = jax.vmap(lambda k: jax.random.normal(k, row, clean.dtype) * sigma)(keys)
        return clean + noise

    def moments(self, clean):
        clean = jnp.asarray(clean)
        return clean, jnp.broadcast_to(self.sigma**2, clean.shape).astype(clean.dtype)


# ----------------------------------------------------------------------------- photon counting
def photon_moments(photons, *, n_pixels=1.0, gain_mean=NAOMI_GAIN_MEAN, gain_var=NAOMI_GAIN_VAR,
                   read_sigma=NAOMI_READ_SIGMA, dark_counts=NAOMI_DARK_COUNTS):  # fmt: skip
    """Mean and variance (output units, output units²) of a ROI's summed PMT output.

    ``photons``: expected detected signal photons per ROI per frame (excluding dark counts).
    ``n_pixels`` pixel samples per ROI per frame each add ``dark_counts`` photons and read noise
    of std ``read_sigma``. The detected photons ``N ~ Poisson(photons + n_pixels * dark_counts)``,
    each amplified by an independent gain (mean ``gain_mean``, variance ``gain_var``): a
    compound Poisson sum, so ``mean = G * lam`` and ``var = lam * (gain_var + G²) + n_pixels *
    read_sigma²``. The photon-transfer curve (var vs mean) has slope ``(gain_var + G²)/G`` =
    ``G * ENF`` (excess noise factor ``ENF = 1 + gain_var/G²``) and intercept ``n_pixels *
    read_sigma²``.
    """
    lam = photons + n_pixels * dark_counts
    return gain_mean * lam, lam * (gain_var + gain_mean**2) + n_pixels * read_sigma**2


def photon_sample(key, photons, *, n_pixels=1.0, gain_mean=NAOMI_GAIN_MEAN, gain_var=NAOMI_GAIN_VAR,
                  read_sigma=NAOMI_READ_SIGMA, dark_counts=NAOMI_DARK_COUNTS):  # fmt: skip
    """Exact draw of a ROI's summed PMT output (output units), shape of ``photons``.

    Poisson photons (with dark counts), then the sum of ``N`` independent Gamma gains, which is
    exactly ``Gamma(N * k, theta)`` with ``k = G²/gain_var`` and ``theta = gain_var/G`` (a
    Gamma's shape adds under sums), then ``N(0, n_pixels * read_sigma²)`` read noise.
    Not differentiable (discrete photons); use :func:`photon_moments` for likelihoods.
    """
    photons = jnp.asarray(photons)
    dtype = photons.dtype if jnp.issubdtype(photons.dtype, jnp.floating) else jnp.result_type(float)
    k_poi, k_gam, k_read = jax.random.split(key, 3)
    lam = jnp.maximum(photons + n_pixels * dark_counts, 0.0)
    n = jax.random.poisson(k_poi, lam, photons.shape).astype(dtype)
    shape_k = gain_mean**2 / gain_var
    theta = gain_var / gain_mean
    g = jax.random.gamma(k_gam, jnp.maximum(n, 1.0) * shape_k, photons.shape, dtype) * theta
    signal = jnp.where(n > 0, g, 0.0)
    read = jax.random.normal(k_read, photons.shape, dtype) * (read_sigma * jnp.sqrt(n_pixels))
    return (signal + read).astype(dtype)


class PhotonNoise(NoiseModel):
    """Photon shot noise, PMT excess noise, dark counts and read noise, on ΔF/F.

    The ROI's expected detected photons per frame are ``photons * (1 + clean)``
    (``photons`` = resting photon budget F0, e.g. from :class:`jaxgeci.LightExcitation`; the
    rate is clipped at 0). The summed PMT output is converted back to ΔF/F with the known gain
    and mean dark offset: ``dff = (out - G * n_pixels * dark_counts) / (G * photons) - 1``.

    ``sample`` is the exact sampler (:func:`photon_sample`); ``moments``/``log_likelihood`` are
    the moment-matched Gaussian surrogate (KS distance <= 0.05 from the exact law at >= 10
    photons per frame; tests/test_noise.py).

    Attributes:
        photons: resting detected photons per ROI per frame (photons), scalar or ``(rois,)``.
        n_pixels: pixel samples summed per ROI per frame (dimensionless, > 0).
        gain_mean: PMT output units per photon, mean (output units; NAOMi: 100).
        gain_var: variance of the per-photon PMT output (output units²; NAOMi: 2300).
        read_sigma: read noise std per pixel sample (output units; NAOMi: 2.7).
        dark_counts: dark counts per pixel sample (photons; NAOMi: 0.05).
    """

    photons: jax.Array = eqx.field(converter=_f)
    n_pixels: jax.Array = eqx.field(converter=_f, default=1.0)
    gain_mean: jax.Array = eqx.field(converter=_f, default=NAOMI_GAIN_MEAN)
    gain_var: jax.Array = eqx.field(converter=_f, default=NAOMI_GAIN_VAR)
    read_sigma: jax.Array = eqx.field(converter=_f, default=NAOMI_READ_SIGMA)
    dark_counts: jax.Array = eqx.field(converter=_f, default=NAOMI_DARK_COUNTS)

    def __check_init__(self):
        _check_nonneg("photons", self.photons, "photons per ROI per frame", strict=True)
        _check_nonneg("n_pixels", self.n_pixels, "pixel samples per ROI per frame", strict=True)
        _check_nonneg("gain_mean", self.gain_mean, "output units per photon", strict=True)
        _check_nonneg("gain_var", self.gain_var, "output units²", strict=True)
        _check_nonneg("read_sigma", self.read_sigma, "output units")
        _check_nonneg("dark_counts", self.dark_counts, "photons per pixel sample")
        if jnp.ndim(self.photons) > 1:
            raise ValueError(f"photons must be a scalar or (rois,), got shape {jnp.shape(self.photons)}.")

    @property
    def excess_noise_factor(self):
        """``1 + gain_var / gain_mean²`` (dimensionless; 1.23 for NAOMi's PMT)."""
        return 1.0 + self.gain_var / self.gain_mean**2

    def _kw(self):
        return dict(
            n_pixels=self.n_pixels,
            gain_mean=self.gain_mean,
            gain_var=self.gain_var,
            read_sigma=self.read_sigma,
            dark_counts=self.dark_counts,
        )

    def expected_photons(self, clean):
        """Expected detected signal photons per frame, ``photons * max(1 + clean, 0)``."""
        clean = jnp.asarray(clean)
        return jnp.broadcast_to(self.photons, clean.shape) * jnp.maximum(1.0 + clean, 0.0)

    def _to_dff(self, out):
        offset = self.gain_mean * self.n_pixels * self.dark_counts
        return (out - offset) / (self.gain_mean * jnp.broadcast_to(self.photons, out.shape)) - 1.0

    @eqx.filter_jit
    def sample(self, key, clean):
        _check_clean(clean)
        clean = jnp.asarray(clean)
        keys = _per_sample_keys(key, clean.shape[0])
        lam = self.expected_photons(clean).astype(clean.dtype)
        out = jax.vmap(lambda k, x: photon_sample(k, x, **self._kw()))(keys, lam)
        return self._to_dff(out).astype(clean.dtype)

    def sample_photons(self, key, expected):
        """Noisy detected photons per frame (photon units, dark offset removed) around the
        *expected* photons ``expected`` (``(frames, rois)``, photons per frame): the draw of
        :meth:`sample` on ``expected / photons - 1``, scaled back by this model's resting
        ``photons``. For raw fluorescence traces whose rest level is ``photons``."""
        expected = jnp.asarray(expected)
        rest = jnp.broadcast_to(self.photons, expected.shape).astype(expected.dtype)
        return rest * (1.0 + self.sample(key, expected / rest - 1.0))

    def moments(self, clean):
        clean = jnp.asarray(clean)
        mean_out, var_out = photon_moments(self.expected_photons(clean), **self._kw())
        scale = self.gain_mean * jnp.broadcast_to(self.photons, clean.shape)
        return self._to_dff(mean_out), var_out / scale**2

    def surrogate(self) -> PhotonGaussianNoise:
        """The moment-matched Gaussian model with the same constants."""
        return PhotonGaussianNoise(**{f: getattr(self, f) for f in ("photons", *self._kw())})


class PhotonGaussianNoise(PhotonNoise):
    """:class:`PhotonNoise`'s moment-matched Gaussian surrogate, also as the sampler
    (``mean + sqrt(var) * N(0, 1)``, per sample ``fold_in(key, m)``)."""

    @eqx.filter_jit
    def sample(self, key, clean):
        _check_clean(clean)
        clean = jnp.asarray(clean)
        mean, var = self.moments(clean)
        keys = _per_sample_keys(key, clean.shape[0])
        z = jax.vmap(lambda k: jax.random.normal(k, clean.shape[1:], clean.dtype))(keys)
        return (mean + jnp.sqrt(var) * z).astype(clean.dtype)
