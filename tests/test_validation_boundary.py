"""Property-based tests of the one validation boundary (jaxgeci._validation, jaxgeci._constants):
real Python/NumPy/JAX scalars and arrays are accepted; bool (except spike arrays), str,
complex and object values are refused with the argument named; never a TypeError from deep
inside JAX. ``max_examples`` is capped so the suite's time budget holds."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jaxgeci as jg
from jaxgeci._constants import constant_fields, likely_unit, UnitWarning
from jaxgeci._targeting import unit_vector
from jaxgeci._validation import check_int, check_number, coerce_real, real_array, real_kind


FEW = settings(max_examples=25, deadline=None)

_REAL_TYPES = [float, np.float32, np.float64, np.int64, lambda v: jnp.asarray(v, dtype=jnp.float32)]


def _bad_scalars():
    return st.one_of(
        st.booleans(),
        st.booleans().map(np.bool_),
        st.text(max_size=5),
        st.floats(1e-6, 1e3).map(lambda v: str(v)),
        st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e3),
        st.floats(1e-6, 1e3).map(np.complex128),
        st.just(None),
        st.just(object()),
    )


@FEW
@given(st.floats(1.0, 1e6), st.sampled_from(range(len(_REAL_TYPES))))  # >= 1: int types stay > 0
def test_real_scalars_of_every_kind_are_numbers(v, which):
    x = _REAL_TYPES[which](v)
    assert real_kind(x) == "real"
    got = check_number("sample_rate", x, unit="Hz", strict=True)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, float(np.asarray(x, dtype=float)), rtol=0)


@FEW
@given(_bad_scalars())
def test_non_real_scalars_are_refused_naming_the_argument(x):
    with pytest.raises(TypeError, match="sample_rate"):
        check_number("sample_rate", x, unit="Hz", strict=True)


@FEW
@given(_bad_scalars())
def test_dt_refuses_non_real(x):
    with pytest.raises(TypeError, match="dt"):
        jg.simulate(jg.gcamp6f(), np.zeros((5, 1)), x)


@FEW
@given(_bad_scalars(), st.sampled_from(["K_d", "n_H", "gamma", "dCa_T", "tau_on", "sigma_noise"]))
def test_constants_refuse_non_real_naming_the_constant(x, name):
    if x is None and name != "K_d":
        return  # None means "not given" for geci(); the preset's value is used
    with pytest.raises((TypeError, ValueError)) as err:
        jg.gcamp6f(**{name: x})
    assert name in str(err.value)


_DTYPES = st.sampled_from([np.int8, np.int32, np.int64, np.uint16, np.float16, np.float32, np.float64])
_BAD_DTYPES = st.sampled_from([np.complex64, np.complex128, np.bool_, np.str_, object])


@FEW
@given(_DTYPES, st.integers(0, 4), st.booleans())
def test_real_arrays_accepted(dtype, n, as_jax):
    a = np.arange(n).astype(dtype)
    x = jnp.asarray(a) if as_jax and dtype not in (np.uint16,) else a
    out = real_array("coords", x, expected="an array")
    assert np.asarray(out).shape == (n,)


@FEW
@given(_BAD_DTYPES, st.integers(1, 4))
def test_non_real_arrays_refused(dtype, n):
    a = np.ones(n).astype(dtype)
    with pytest.raises(TypeError, match="coords"):
        real_array("coords", a, expected="an (n, 3) array of positions in m")


@FEW
@given(st.integers(1, 4))
def test_bool_arrays_only_where_allowed(n):
    a = np.ones(n, dtype=bool)
    assert real_array("spikes", a, expected="counts", allow_bool=True).dtype == bool
    with pytest.raises(TypeError, match="rho_rel"):
        real_array("rho_rel", a, expected="a scalar or (neurons,) array")


@FEW
@given(st.integers(0, 10**6), st.sampled_from([int, np.int32, np.int64, float]))
def test_check_int_accepts_integers_of_every_kind(v, typ):
    assert check_int("n_steps", typ(v)) == v


@FEW
@given(st.one_of(st.booleans(), st.floats(0.1, 0.9), st.text(max_size=3), st.complex_numbers(max_magnitude=10)))
def test_check_int_refuses_bools_fractions_strings(x):
    with pytest.raises(TypeError, match="n_steps"):
        check_int("n_steps", x)


@FEW
@given(st.floats(1e-6, 1e6), st.sampled_from(range(len(_REAL_TYPES))))
def test_coerce_real_gives_a_float_array(v, which):
    out = coerce_real(_REAL_TYPES[which](v))
    assert jnp.issubdtype(out.dtype, jnp.floating)


@FEW
@given(st.floats(1e-9, 1e-3))
def test_plausible_K_d_builds_without_a_warning(k):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnitWarning)
        assert float(jg.gcamp6f(K_d=k).K_d) == pytest.approx(k, rel=1e-6)


@FEW
@given(st.floats(1e-8, 1e-5))
def test_K_d_in_nanomolar_is_caught_naming_nM(k_molar):
    # the same concentration written in nM (x 1e9): refused (> 1 M) or warned, saying nM
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            jg.gcamp6f(K_d=k_molar * 1e9)
            msg = " ".join(str(x.message) for x in w)
        except ValueError as e:
            msg = str(e)
    assert "nM" in msg


@FEW
@given(st.floats(1e-3, 1.0))
def test_likely_unit_names_ms_for_time_constants_in_ms(tau_s):
    spec = constant_fields(jg.S2F)["tau_r"]
    if tau_s * 1e3 > 1.0:  # only values outside the plausible range get a suggestion
        assert "ms" in likely_unit(tau_s * 1e3, spec)


@FEW
@given(
    st.tuples(*[st.floats(-1.0, 1.0) for _ in range(3)]).filter(lambda v: max(abs(x) for x in v) > 1e-3),
    st.integers(-30, 30),
)
def test_unit_vector_of_any_scale(v, exponent):
    d = np.asarray(v) * 10.0**exponent
    u = np.asarray(unit_vector(jnp.asarray(d, dtype=jnp.float32)), dtype=float)
    ref = np.asarray(v) / np.linalg.norm(v)
    np.testing.assert_allclose(u, ref, atol=1e-5)  # float32: a few ulps per component


def test_sensor_repr_and_describe_show_constants_with_units():
    r = repr(jg.gcamp6f())
    assert "K_d=2.9e-07 M" in r and "gamma=292.3 1/s" in r and "tau_off=0.0101402 s" in r
    assert "f32[]" not in r and "f64[]" not in r  # not Equinox's shape-only repr
    d = jg.s2f("jGCaMP8m").describe().splitlines()
    assert d[0].startswith("S2F 'jGCaMP8m'") and any(line.split() == ["tau_r", "0.00246", "s"] for line in d)
    per_neuron = jg.gcamp6f(K_d=jnp.array([2e-7, 3e-7])).describe()
    assert "K_d" in per_neuron and "(2,) in [2e-07, 3e-07] M" in per_neuron
