"""Selectivity protocols (phases / trials / amplitude) and the preferred-phase map, on a lattice
of known oriented filters: linear Gabors (simple cells), quadrature-pair energy (complex cells)
and untuned sites, whose right answers are known by construction."""

import numpy as np
import pytest

from locornn.analysis.topography import protocols, selectivity

SIZE, WAVELENGTH, ORIENTATIONS, PHASES = 16, 4.0, 8, 4
SIDE = 4  # a 4x4 lattice: 16 sites
STEPS = 6  # frames of each trajectory after the transient


def designed_orientations() -> np.ndarray:
    rows, cols = np.mgrid[:SIDE, :SIDE]
    return ((rows + 3 * cols) % ORIENTATIONS).ravel()


def designed_phases() -> np.ndarray:
    return np.linspace(-np.pi, np.pi, SIDE * SIDE, endpoint=False) + 0.3


def gabor(orientation: int, phase: float) -> np.ndarray:
    """A Gabor filter centred on the image: its linear response to the grating of orientation
    ``orientation`` and phase ``psi`` is ``cos(psi - phase)`` times a positive constant."""
    c = np.arange(SIZE) - (SIZE - 1) / 2
    envelope = np.exp(-(c[:, None] ** 2 + c[None, :] ** 2) / (2 * 5.0**2))
    theta = orientation * np.pi / ORIENTATIONS
    k = 2 * np.pi / WAVELENGTH
    x, y = c[None, :], c[:, None]
    return envelope * np.cos(k * (x * np.cos(theta) + y * np.sin(theta)) + phase)


def lattice(kind: str):
    """``respond`` for a lattice of ``kind`` neurons: ``(B, h, w)`` -> ``(B, STEPS, N)``.

    Every trajectory carries the same oscillation (a stimulus-independent rhythm), which no
    protocol may take for selectivity."""
    o, phi = designed_orientations(), designed_phases()
    even = np.stack([gabor(a, b) for a, b in zip(o, phi, strict=True)])  # (N, h, w)
    odd = np.stack([gabor(a, b - np.pi / 2) for a, b in zip(o, phi, strict=True)])
    rhythm = 0.7 * np.sin(np.arange(STEPS))[None, :, None]

    def respond(images):
        x = np.asarray(images, dtype=np.float64) - 0.5
        linear = np.einsum("bhw,nhw->bn", x, even)
        if kind == "simple":
            drive = linear
        elif kind == "complex":
            drive = np.hypot(linear, np.einsum("bhw,nhw->bn", x, odd))
        elif kind == "untuned":
            drive = np.zeros_like(linear)
        else:
            raise ValueError(kind)
        return 0.2 + drive[:, None, :] + rhythm

    return respond


def measure(kind: str, trials: int = 16, noise: float = 0.5, seed: int = 0):
    s = protocols.grating_stimuli(SIZE, wavelength=WAVELENGTH, orientations=ORIENTATIONS,
                                  phases=PHASES, trials=trials, noise=noise, seed=seed)
    return protocols.measure_responses(lattice(kind), s, batch=50)


@pytest.fixture(scope="module")
def simple():
    return measure("simple")


@pytest.fixture(scope="module")
def complex_cells():
    return measure("complex")


def answer(protocol, responses):
    return selectivity.preferred(protocols.protocol_d(protocol, responses), 0.65)


def test_the_phases_protocol_is_blind_to_linear_simple_cells(simple):
    # every grating has the same mean, so a linear response averaged over phases is the same
    # for every orientation: d ~ 0
    d = protocols.protocol_d("phases", simple)
    assert np.abs(d).max() < 0.1
    assert not answer("phases", simple)[1].any()


@pytest.mark.parametrize("protocol", ["trials", "amplitude"])
def test_trials_and_amplitude_find_each_simple_cells_orientation(simple, protocol):
    pref, sel = answer(protocol, simple)
    assert sel.all()
    np.testing.assert_array_equal(pref, designed_orientations())


@pytest.mark.parametrize("protocol", protocols.PROTOCOLS)
def test_every_protocol_finds_each_complex_cells_orientation(complex_cells, protocol):
    pref, sel = answer(protocol, complex_cells)
    assert sel.all()
    np.testing.assert_array_equal(pref, designed_orientations())


@pytest.mark.parametrize("protocol", protocols.PROTOCOLS)
def test_untuned_sites_with_a_common_rhythm_are_selective_under_no_protocol(protocol):
    responses = measure("untuned")
    assert not answer(protocol, responses)[1].any()


def test_the_preferred_phase_is_the_phase_the_filter_was_built_with(simple):
    phase, modulation = protocols.preferred_phase(simple, designed_orientations())
    error = np.angle(np.exp(1j * (phase - designed_phases())))
    assert np.abs(error).max() < 0.05
    assert (modulation > 1.3).all()  # a linear neuron: strongly phase-dependent


def test_a_complex_cell_has_no_phase_modulation(complex_cells):
    _, modulation = protocols.preferred_phase(complex_cells, designed_orientations())
    assert (modulation < 0.05).all()


def test_trials_d_scales_with_the_inverse_of_the_injected_noise():
    # the spread of the trial samples is the noise itself (the protocol's free parameter); the
    # same noise draws at twice the level halve d up to the noise in the trial means
    d1 = protocols.protocol_d("trials", measure("simple", noise=0.5, seed=1)).max(axis=0)
    d2 = protocols.protocol_d("trials", measure("simple", noise=1.0, seed=1)).max(axis=0)
    np.testing.assert_allclose(d1 / d2, 2.0, rtol=0.1)


def test_trials_noise_is_the_injected_noise_through_each_filter(simple):
    # a linear neuron with filter w turns pixel noise of std sigma into response noise of std
    # sigma * ||w||: the noise half of d measures the network's gain to unstructured input
    _, noise = protocols.trials_tuning_and_noise(simple)
    o, phi = designed_orientations(), designed_phases()
    norms = np.array([np.linalg.norm(gabor(a, b)) for a, b in zip(o, phi, strict=True)])
    np.testing.assert_allclose(noise, 0.5 * norms, rtol=0.25)


def test_more_noise_moves_the_noise_half_of_d_and_not_the_tuning_half():
    tuning1, noise1 = protocols.trials_tuning_and_noise(measure("simple", noise=0.5, seed=1))
    tuning2, noise2 = protocols.trials_tuning_and_noise(measure("simple", noise=1.0, seed=1))
    np.testing.assert_allclose(noise2 / noise1, 2.0, rtol=1e-6)  # the same draws, scaled
    np.testing.assert_allclose(tuning2, tuning1, rtol=0.3)
    assert (tuning1 > 5 * noise1 / np.sqrt(16)).all()  # tuned far above the trial means' noise


def test_a_luminance_neurons_tuning_half_is_only_the_noise_in_its_trial_means():
    # every grating has the same mean, so a neuron reading the mean pixel is untuned; the noise
    # still reaches it (std 0.5 * 10 / SIZE), and its trial means differ by that over sqrt(R)
    s = protocols.grating_stimuli(SIZE, wavelength=WAVELENGTH, orientations=ORIENTATIONS,
                                  phases=PHASES, trials=16, noise=0.5, seed=0)
    luminance = protocols.measure_responses(
        lambda x: np.repeat(10 * np.asarray(x).mean(axis=(1, 2))[:, None, None], 3, axis=1), s)
    tuning, noise = protocols.trials_tuning_and_noise(luminance)
    np.testing.assert_allclose(noise, 0.5 * 10 / SIZE, rtol=0.15)
    assert (tuning < 0.5 * noise).all()


def test_without_trials_the_trials_protocol_is_not_measured():
    responses = measure("complex", trials=0)
    d = protocols.protocol_d("trials", responses)
    assert d.shape == (ORIENTATIONS, SIDE * SIDE) and np.isnan(d).all()
    assert all(np.isnan(half).all() for half in protocols.trials_tuning_and_noise(responses))


def test_an_unknown_protocol_is_refused(simple):
    with pytest.raises(ValueError, match="protocol"):
        protocols.protocol_d("median", simple)
