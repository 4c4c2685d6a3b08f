"""Orientation-selectivity protocols side by side, and the preferred-phase map (NumPy only).

The paper's words for Figure 2 are: the "time-average response to static sequences of oriented
gratings", the "color/angle of maximal d" (Cohen's d of one orientation against the others) and
a "black x if all d < 0.65". They do not say what the samples of d are. Each protocol below is
one answer; all of them see the same static gratings (``orientations x phases``, each shown as
a constant sequence, responses taken after the transient) and all end in
:func:`locornn.analysis.topography.selectivity.cohens_d` over ``orientations`` classes:

``phases`` (a)
  Response: the time-averaged state ``mean_t z``. Samples of an orientation: its ``phases``
  spatial phases. d compares the phase-averaged response of one orientation with the others',
  scaled by how much the response varies with phase. A neuron whose time-averaged response is
  linear in the image (a simple cell without rectification) averages to the same value for
  every orientation, because every grating has the same mean; it gets ``d ~ 0``. Only the
  part of the response that does not cancel over phase (rectification, energy) is seen.

``trials`` (b)
  Response: the time-averaged state on repeated presentations of one grating with independent
  Gaussian pixel noise (``noise`` standard deviation, ``trials`` repeats). Samples of an
  orientation: its trials at one phase, the neuron's best phase for that orientation (the phase
  with the largest noise-free response, chosen per neuron and orientation, so the trial noise
  does not choose it). Sees linear and nonlinear tuning alike. The model is deterministic, so
  the spread of the samples is the injected noise propagated through the network: d grows as
  ``1 / noise`` and the 0.65 threshold means "tuning larger than 0.65 of the response's noise",
  with ``noise`` a choice of this protocol, not of the paper. (The other source of samples, the
  states of one presentation's time course, is not used: after the transient they are the
  lattice ringing towards its fixed point, strongly correlated in time, so their spread is not
  the variability of a response and d would depend on the averaging window.)

``amplitude`` (c)
  Response: ``mean_t |z_t - z_blank_t|``, the time-averaged distance of the state from its
  trajectory under a uniform grey frame (the gratings' mean). Phase-invariant for a linear
  neuron over a full cycle of phases (``|cos|`` instead of ``cos``) and for an energy-like
  one; includes a stimulus-driven oscillation amplitude. Samples: the phases, as in (a).

And a second map (d): the preferred grating phase of every neuron,
``arg sum_p r[o*, p] exp(i psi_p)`` (the phase of the first Fourier component over the
phases of the time-averaged response at the neuron's preferred orientation ``o*``); its
modulus relative to the mean response says how phase-dependent the neuron is (near 0 for a
complex cell, whose phase is then meaningless).

Which one Figure 2 uses (``analysis.protocol``, default :data:`DEFAULT_PROTOCOL` = ``phases``):
the paper's response is the *time average* of the response to each static grating, which (a)
and (b) keep and (c) replaces by an amplitude. It speaks of "gratings" of each orientation and
of no noise, which is (a): the samples of one orientation are its different gratings, i.e. its
phases, as in the category-selectivity use of d that this measure comes from (each image of a
category one sample). And (a) has no free parameter: the spread of its samples comes from the
stimulus set, while (b)'s d scales with a noise level the paper never mentions, so its 0.65
threshold would mean what we chose it to mean. (a) is therefore Figure 2's protocol; (b) and (c)
are reported beside it because (a) is blind to linear tuning, and a map seen only under (b) or
(c) says the network is tuned but its time-averaged response is linear in the stimulus.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .selectivity import cohens_d
from .stimuli import gratings

__all__ = [
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "GratingResponses",
    "GratingStimuli",
    "grating_stimuli",
    "measure_responses",
    "preferred_phase",
    "protocol_d",
    "trials_tuning_and_noise",
]

PROTOCOLS = ("phases", "trials", "amplitude")
DEFAULT_PROTOCOL = "phases"


@dataclasses.dataclass(frozen=True)
class GratingStimuli:
    """The static images every protocol shows (values around 0.5, ``(h, w)`` each).

    Attributes:
      gratings: ``(O, P, h, w)`` noise-free gratings (orientation, phase).
      blank: ``(h, w)`` uniform frame at the gratings' mean (0.5).
      trials: ``(O, P, R, h, w)`` the gratings with independent Gaussian pixel noise (``R = 0``:
        protocol ``trials`` is not measured).
      phases: ``(P,)`` spatial phase of each grating, radians.
      noise: the noise standard deviation.
    """

    gratings: np.ndarray
    blank: np.ndarray
    trials: np.ndarray
    phases: np.ndarray
    noise: float


@dataclasses.dataclass(frozen=True)
class GratingResponses:
    """Time-averaged responses to :class:`GratingStimuli`, neurons flattened (C order).

    Attributes:
      mean: ``(O, P, N)`` ``mean_t z_t`` for each noise-free grating.
      amplitude: ``(O, P, N)`` ``mean_t |z_t - z_blank_t|``.
      trials: ``(O, P, R, N)`` ``mean_t z_t`` for each noisy presentation.
      phases: ``(P,)`` the gratings' spatial phases, radians.
    """

    mean: np.ndarray
    amplitude: np.ndarray
    trials: np.ndarray
    phases: np.ndarray


def grating_stimuli(size: int, *, wavelength: float, orientations: int = 8, phases: int = 4,
                    contrast: float = 1.0, trials: int = 16, noise: float = 0.1,
                    seed: int = 0) -> GratingStimuli:
    """Gratings (:func:`~locornn.analysis.topography.stimuli.gratings`), the blank frame and
    ``trials`` noisy copies of every grating (noise from ``numpy.random.default_rng(seed)``, not
    clipped, so its mean is the grating's)."""
    if trials < 0 or (trials > 0 and trials < 2):
        raise ValueError(f"trials must be 0 (protocol 'trials' off) or at least 2, got {trials}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    g = gratings(size, orientations, phases, wavelength, contrast, dtype=np.float64)
    rng = np.random.default_rng(seed)
    noisy = g[:, :, None] + noise * rng.standard_normal(
        (orientations, phases, trials, size, size))
    return GratingStimuli(gratings=g, blank=np.full((size, size), 0.5), trials=noisy,
                          phases=np.arange(phases) * (2 * np.pi / phases), noise=float(noise))


def measure_responses(respond: Callable[[np.ndarray], np.ndarray], stimuli: GratingStimuli,
                      batch: int = 64) -> GratingResponses:
    """Responses of a network to :class:`GratingStimuli`.

    Args:
      respond: ``(B, h, w)`` images -> ``(B, T, N)`` the state after the transient while each
        image is shown as a constant sequence (any batch size ``B <= batch``).
      stimuli: from :func:`grating_stimuli`.
      batch: images per call of ``respond``.
    """
    blank = np.asarray(respond(stimuli.blank[None]), dtype=np.float64)[0]  # (T, N)
    o, p = stimuli.gratings.shape[:2]
    r = stimuli.trials.shape[2]

    def run(images):  # (n, h, w) -> (mean (n, N), amplitude (n, N))
        means, amplitudes = [], []
        for start in range(0, len(images), batch):
            z = np.asarray(respond(images[start:start + batch]), dtype=np.float64)
            means.append(z.mean(axis=1))
            amplitudes.append(np.abs(z - blank).mean(axis=1))
        return np.concatenate(means), np.concatenate(amplitudes)

    size = stimuli.gratings.shape[2:]
    mean, amplitude = run(stimuli.gratings.reshape(o * p, *size))
    n = mean.shape[1]
    trials = (run(stimuli.trials.reshape(o * p * r, *size))[0].reshape(o, p, r, n) if r
              else np.zeros((o, p, 0, n)))
    return GratingResponses(mean=mean.reshape(o, p, n), amplitude=amplitude.reshape(o, p, n),
                            trials=trials, phases=stimuli.phases)


def _samples_d(samples: np.ndarray) -> np.ndarray:
    """``(O, S, N)`` samples of each orientation -> ``(O, N)`` Cohen's d."""
    o, s, n = samples.shape
    return cohens_d(samples.reshape(o * s, n), np.repeat(np.arange(o), s), num_classes=o)


def _trials_at_best_phase(responses: GratingResponses) -> np.ndarray:
    """``(O, R, N)``: each orientation's trials at the neuron's best phase for it (the phase
    with the largest noise-free response, so the trial noise does not choose it)."""
    best = responses.mean.argmax(axis=1)  # (O, N)
    return np.take_along_axis(responses.trials, best[:, None, None, :], axis=1)[:, 0]


def protocol_d(protocol: str, responses: GratingResponses) -> np.ndarray:
    """``(O, N)`` Cohen's d of each orientation against the others under ``protocol`` (see the
    module docstring); NaN everywhere for ``trials`` without trials."""
    if protocol == "phases":
        return _samples_d(responses.mean)
    if protocol == "amplitude":
        return _samples_d(responses.amplitude)
    if protocol == "trials":
        o, _, r, n = responses.trials.shape
        if r == 0:
            return np.full((o, n), np.nan)
        return _samples_d(_trials_at_best_phase(responses))
    raise ValueError(f"unknown selectivity protocol {protocol!r}; choose from {PROTOCOLS}")


def trials_tuning_and_noise(responses: GratingResponses) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of protocol ``trials``' d, per neuron: how much the response changes with
    orientation, and how much it changes from one noisy presentation to the next.

    With ``m[o]`` and ``s[o]`` the mean and the standard deviation (``ddof = 1``) of the
    ``R`` trials of orientation ``o`` at the neuron's best phase for it (the samples of
    :func:`protocol_d`):

        tuning = std_o m[o]         noise = sqrt(mean_o s[o]^2)

    d grows with ``tuning / noise``. ``noise`` is the injected pixel noise carried through the
    network (for a linear neuron with filter ``w``: ``noise_std * ||w||``), so a change of d
    between two networks is split into a change of the tuning and a change of the gain to
    unstructured input.

    Returns:
      ``(tuning, noise)``: ``(N,)`` each, in response units; NaN without trials.
    """
    o, _, r, n = responses.trials.shape
    if r == 0:
        return np.full(n, np.nan), np.full(n, np.nan)
    at_best = _trials_at_best_phase(responses)
    tuning = at_best.mean(axis=1).std(axis=0)
    noise = np.sqrt(at_best.var(axis=1, ddof=1).mean(axis=0))
    return tuning, noise


def preferred_phase(responses: GratingResponses, preferred_orientation) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Preferred grating phase of every neuron at its preferred orientation.

    For a neuron responding ``r(psi) = b + A cos(psi - phi)`` to phase ``psi``, the first
    Fourier component over the ``P >= 3`` evenly spaced phases,
    ``F = (2 / P) sum_p r(psi_p) exp(i psi_p) = A exp(i phi)``, gives ``phi = arg F``.

    Args:
      responses: from :func:`measure_responses`.
      preferred_orientation: ``(N,)`` orientation index of each neuron.

    Returns:
      ``(phase, modulation)``: ``(N,)`` radians in ``(-pi, pi]`` and ``|F|`` divided by the mean
      of ``amplitude`` at that orientation (``1 / mean_p |cos(psi_p - phi)|``, 1.4 to 2 with 4
      phases, for a linear neuron; 0 for a phase-invariant one; NaN where the neuron does not
      respond).
    """
    p = responses.mean.shape[1]
    if p < 3:
        raise ValueError(f"a preferred phase needs at least 3 phases, got {p}")
    pref = np.asarray(preferred_orientation)
    columns = np.arange(responses.mean.shape[2])
    r = responses.mean[pref, :, columns]  # (N, P)
    f = (2.0 / p) * (r * np.exp(1j * responses.phases)).sum(axis=1)
    level = responses.amplitude[pref, :, columns].mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        modulation = np.where(level > 0, np.abs(f) / level, np.nan)
    return np.angle(f), modulation
