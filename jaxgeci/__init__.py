"""jaxgeci: differentiable JAX models of calcium-indicator (GECI) fluorescence and two-photon
imaging, reproducing Cleo's ``cleo.imaging`` (cleosim 0.20), with indicator constants fitted to
real recordings, a measurement model and spike inference.

Units are SI floats everywhere: s, m, 1/s, and M (mol/L) for concentrations.
"""

from ._version import __version__ as __version__


# isort: split
# Sensors and their submodels (calcium, binding/activation, excitation, Hill read-out)
from ._binding import (
    CalBindingActivationModel as CalBindingActivationModel,
    DoubExpCalBindingActivation as DoubExpCalBindingActivation,
    NullBindingActivation as NullBindingActivation,
)
from ._calcium import (
    CalciumModel as CalciumModel,
    DynamicCalcium as DynamicCalcium,
    PreexistingCalcium as PreexistingCalcium,
)
from ._constants import UnitWarning as UnitWarning
from ._excitation import (
    ExcitationModel as ExcitationModel,
    LightExcitation as LightExcitation,
    load_spectrum as load_spectrum,
    NullExcitation as NullExcitation,
    spectrum_for as spectrum_for,
)
from ._fluorescence import hill as hill
from ._geci import dc_gain as dc_gain, GECI as GECI, geci as geci, GECIState as GECIState, naomi_to_si as naomi_to_si
from ._s2f import S2F as S2F, S2FState as S2FState
from ._s2f_adaptive import AdaptiveS2F as AdaptiveS2F
from ._s2f_presets import s2f as s2f, s2f_preset_defaults as s2f_preset_defaults, S2F_PRESETS as S2F_PRESETS
from ._s2f_twostate import TwoStateS2F as TwoStateS2F, TwoStateS2FState as TwoStateS2FState
from ._sensor import Method as Method, Sensor as Sensor


# isort: split
# Presets (Cleo's indicators, S2F presets) and the constants fitted to real recordings
from . import indicators as indicators
from ._fitted import fitted as fitted, fitted_info as fitted_info, fitted_names as fitted_names
from .indicators import (
    gcamp3 as gcamp3,
    gcamp6_rs06 as gcamp6_rs06,
    gcamp6_rs09 as gcamp6_rs09,
    gcamp6f as gcamp6f,
    gcamp6rs06 as gcamp6rs06,
    gcamp6rs09 as gcamp6rs09,
    gcamp6s as gcamp6s,
    get_preset as get_preset,
    jgcamp7b as jgcamp7b,
    jgcamp7c as jgcamp7c,
    jgcamp7f as jgcamp7f,
    jgcamp7s as jgcamp7s,
    ogb1 as ogb1,
    ogb_1 as ogb_1,
)


# isort: split
# Simulation: spikes in, ΔF/F out (one time loop under every run)
from ._chunked import simulate_chunked as simulate_chunked
from ._sharding import (
    neuron_mesh as neuron_mesh,
    shard_neurons as shard_neurons,
    shard_sensor as shard_sensor,
    simulate_sharded as simulate_sharded,
)
from ._simulate import (
    LayoutWarning as LayoutWarning,
    RateWarning as RateWarning,
    read_schedule as read_schedule,
    simulate as simulate,
    SimulationResult as SimulationResult,
)
from ._spikes import SpikeTrains as SpikeTrains


# isort: split
# The two-photon Scope: targeting, imaging, closed loop, plots and export
from ._closed_loop import ClosedLoopScope as ClosedLoopScope, ScopeState as ScopeState
from ._imaging import ImagingResult as ImagingResult
from ._injection import Injection as Injection, place_under_objective as place_under_objective
from ._neo import scope_to_neo as scope_to_neo
from ._scope import Scope as Scope
from ._scope_plot import add_scope_to_plot as add_scope_to_plot, plot_scope as plot_scope
from ._targeting import (
    plane_mask as plane_mask,
    PlaneMask as PlaneMask,
    target_neurons_in_plane as target_neurons_in_plane,
)


# isort: split
# Measurement: photons, noise, neuropil, bleaching, drift, calibration
from ._calibrate import (
    bootstrap_amplitude_cv as bootstrap_amplitude_cv,
    calibrate_measurement as calibrate_measurement,
    fit_amplitude_cv as fit_amplitude_cv,
    MeasurementCalibration as MeasurementCalibration,
    spike_overlap as spike_overlap,
    synthesize_dff as synthesize_dff,
)
from ._driver import ar1 as ar1
from ._measurement import (
    annulus_neuropil as annulus_neuropil,
    annulus_weights as annulus_weights,
    bleach_factor as bleach_factor,
    BLEACH_POWER_EXPONENT as BLEACH_POWER_EXPONENT,
    bleach_rate as bleach_rate,
    dff_from_fluorescence as dff_from_fluorescence,
    ou_drift as ou_drift,
    raw_fluorescence as raw_fluorescence,
    running_percentile as running_percentile,
    SPIKE_AMPLITUDE_CV as SPIKE_AMPLITUDE_CV,
    spike_amplitudes as spike_amplitudes,
    SUITE2P_NEUROPIL_FACTOR as SUITE2P_NEUROPIL_FACTOR,
)
from ._noise import (
    CleoGaussianNoise as CleoGaussianNoise,
    gaussian_log_density as gaussian_log_density,
    NoiseModel as NoiseModel,
    photon_moments as photon_moments,
    photon_sample as photon_sample,
    PhotonGaussianNoise as PhotonGaussianNoise,
    PhotonNoise as PhotonNoise,
)
from ._raw_measurement import RawMeasurement as RawMeasurement
from ._raw_twin import (
    calibrate_raw as calibrate_raw,
    parse_dff_provenance as parse_dff_provenance,
    RawCalibration as RawCalibration,
    synthesize_raw as synthesize_raw,
)


# isort: split
# Recordings and fitting under the fixed evaluation protocol
from ._baseline import bspline_basis as bspline_basis
from ._batch import make_batch as make_batch, RecordingBatch as RecordingBatch
from ._constraints import Bounded as Bounded, Positive as Positive, Real as Real, unwrap as unwrap
from ._evaluate import evaluate as evaluate, explained_variance as explained_variance
from ._fit import fit as fit, FIT_LOSSES as FIT_LOSSES, FitConfig as FitConfig, FitResult as FitResult
from ._fit_plot import plot_evaluation as plot_evaluation
from ._models import get_model as get_model, MODELS as MODELS, ModelSpec as ModelSpec, register_model as register_model
from ._params import (
    constant_names as constant_names,
    constants_at_bounds as constants_at_bounds,
    make_params as make_params,
    sensor_constants as sensor_constants,
)
from ._recording import load_recording as load_recording, Recording as Recording
from ._results import (
    check_results as check_results,
    load_results as load_results,
    parameter_set as parameter_set,
    select_parameter_set as select_parameter_set,
    sensor_from_results as sensor_from_results,
    write_results as write_results,
)
from ._synthetic import synthetic_recording as synthetic_recording
from ._unit_trace import unit_trace as unit_trace


# isort: split
# Spike inference
from ._infer import (
    DEFAULT_PENALTY as DEFAULT_PENALTY,
    estimate_noise_std as estimate_noise_std,
    infer_spikes as infer_spikes,
    INFERENCE_MODELS as INFERENCE_MODELS,
    noise_level as noise_level,
    NU_LINEAR as NU_LINEAR,
    SpikeInference as SpikeInference,
)


# isort: split
# Interop (Brian2/Cleo, NWB, suite2p, neo): the jaxgeci.io subpackage
from . import io as io


def __getattr__(attr: str):
    # ``jaxgeci.jgcamp8m`` and the like: say where that indicator is (S2F preset, fitted)
    from .indicators import missing_attribute

    raise missing_attribute(__name__, attr)
