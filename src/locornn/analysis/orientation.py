"""Orientation selectivity and topographic maps of a trained LocoRNN (paper, Figure 2).

Protocol (DESIGN.md section 5): static sinusoidal gratings
(:func:`locornn.analysis.stimuli.gratings`, 8 orientations 22.5 degrees apart, 4 spatial phases,
values in ``[0, 1]``) are each shown as a *constant* input sequence of ``length`` frames; a
neuron's response to a grating is its position ``z`` averaged over the steps ``t >= transient``.
Cohen's d of each orientation against all the others
(:func:`locornn.analysis.selectivity.cohens_d`; the phases of one orientation are its samples)
gives the preferred orientation (argmax d) and the selective neurons (max d >= 0.65);
:func:`locornn.analysis.selectivity.selectivity_summary` turns the map into numbers (fraction
selective, neighbour correlation and its z-score against shuffled positions, domain size,
pinwheel density, histogram of preferred orientations) and
:func:`locornn.analysis.domains.domain_statistics` into the numbers read off a picture of a
map (neighbour agreement, area-weighted domain area). That is the ``phases`` protocol, the
default; :mod:`locornn.analysis.protocols` defines two more (noisy trials at the best phase, a
phase-invariant amplitude) and the preferred-phase map, argues the choice, and every run
reports all of them (``docs/orientation.md``).

Angles are radians of the grating's wave vector measured from the image column axis towards the
row axis (:mod:`locornn.analysis.stimuli`); orientation is 180-periodic. Maps are drawn with
row 0 at the top (matplotlib's default, like ``figure1.png``), and the legend's bars show the
*stripes* of each preferred grating in that same frame (stripes are perpendicular to the wave
vector: ``theta = 0`` is vertical stripes).

Entry points:

* :func:`grating_responses` / :func:`class_responses`: time-averaged responses of a model to
  static stimuli, one jitted call per batch of stimuli (the recurrence is a ``lax.scan``).
* :func:`analyze_orientation`: responses -> d -> maps and a JSON-ready summary.
* :func:`class_selectivity`: the same for categorical stimuli (digits), with a class map.
* :func:`protocol_responses`: the responses every protocol needs (with the blank and the noisy
  trials).
* :func:`orientation_map`, :func:`orientation_histogram`, :func:`side_by_side`,
  :func:`protocol_figure`, :func:`sweep_figure` (the authors' wavelength/kernel layout): figures.
* :func:`run_analysis`: all of it for a run directory (``locornn analyze orientation RUN_DIR``),
  writing ``orientation_map.png``, ``orientation_histogram.png``, ``selectivity.json`` and
  ``orientation_maps.npz`` (``*_untrained.*`` for the untrained control).
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .. import plots  # noqa: E402
from . import protocols as protocols_  # noqa: E402
from .domains import domain_statistics, orientation_labels  # noqa: E402
from .selectivity import _as_map, cohens_d, preferred, selectivity_summary  # noqa: E402
from .stimuli import gratings, orientation_angles  # noqa: E402

__all__ = [
    "analyze_orientation",
    "class_responses",
    "class_selectivity",
    "default_wavelength",
    "grating_responses",
    "load_maps",
    "orientation_histogram",
    "orientation_map",
    "output_paths",
    "protocol_figure",
    "protocol_responses",
    "run_analysis",
    "side_by_side",
    "sweep_figure",
    "add_command",
]

CMAP = "hsv"  # cyclic: orientation 0 and 180 degrees get the same hue


# ----------------------------------------------------------------------------------------------
# Responses
# ----------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("model", "length", "transient"))
def _states(model, params, images, length: int, transient: int):
    """``(B, h, w, c)`` static images -> ``(B, length - transient, num_neurons)``: ``z_t`` for
    ``t >= transient``."""
    frames = jnp.broadcast_to(images[:, None], (images.shape[0], length, *images.shape[1:]))
    z = model.apply({"params": params}, frames)["z"]
    return z[:, transient:].reshape(images.shape[0], length - transient, -1)


@functools.partial(jax.jit, static_argnames=("model", "length", "transient"))
def _mean_z(model, params, images, length: int, transient: int):
    """``(B, h, w, c)`` static images -> ``(B, num_neurons)``: ``mean_{t >= transient} z_t``.

    Only ``z`` is returned, so XLA drops the decoder.
    """
    return _states(model, params, images, length, transient).mean(axis=1)


def _check_window(length: int, transient: int) -> tuple[int, int]:
    length, transient = int(length), int(transient)
    if not 0 <= transient < length:
        raise ValueError(f"need 0 <= transient < length, got transient={transient}, "
                         f"length={length}")
    return length, transient


def _static_responses(model, params, images, length: int, transient: int,
                      batch: int) -> np.ndarray:
    """Time-averaged responses to static images, in batches of ``batch`` (last one padded, so
    there is a single compilation)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected images (N, h, w, c), got shape {images.shape}")
    image_shape = getattr(model, "image_shape", None)
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(f"stimuli have shape {images.shape[1:]}, the model reads "
                         f"{tuple(image_shape)}")
    (length, transient), batch = _check_window(length, transient), int(batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    n = len(images)
    batch = min(batch, n)
    out = []
    for start in range(0, n, batch):
        chunk = images[start:start + batch]
        real = len(chunk)
        if real < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, axis=0)])
        out.append(np.asarray(_mean_z(model, params, jnp.asarray(chunk), length, transient))[:real])
    return np.concatenate(out).astype(np.float64)


def _model_image_size(model, image_size):
    image_shape = getattr(model, "image_shape", None)
    if image_size is None:
        if image_shape is None:
            raise ValueError("image_size is needed for a model without image_shape")
        image_size = image_shape[0]
    image_size = int(image_size)
    if image_shape is not None and tuple(image_shape[:2]) != (image_size, image_size):
        raise ValueError(f"image_size {image_size} does not match the model's image shape "
                         f"{tuple(image_shape)} (square images only)")
    channels = 1 if image_shape is None else int(image_shape[2])
    return image_size, channels


def grating_responses(model, params, image_size: int | None = None, *, wavelength: float,
                      orientations: int = 8, phases: int = 4, length: int = 30,
                      transient: int = 10, contrast: float = 1.0,
                      batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged responses of every neuron to static oriented gratings.

    Stimulus ``s = o * phases + p`` is the grating of orientation ``o * 180 / orientations``
    degrees and phase ``p * 360 / phases`` degrees (:func:`~locornn.analysis.stimuli.gratings`,
    values in ``[0, 1]``, copied to every input channel), shown as a constant sequence of
    ``length`` frames. The response is ``mean_{transient <= t < length} z[t]``.

    Args:
      model: an :class:`~locornn.models.OscillatorRNN` (anything with ``apply`` returning
        ``{"z": (B, T, ...)}`` and ``image_shape``).
      params: its parameters (``state.params``).
      image_size: side of the square frames; default (``None``) the model's ``image_shape``.
      wavelength: grating period in pixels (> 2).
      orientations, phases, contrast: see :func:`~locornn.analysis.stimuli.gratings`.
      length: frames per stimulus sequence; transient: leading steps left out of the average.
      batch: stimuli per jitted call.

    Returns:
      ``(responses, labels)``: ``(orientations * phases, num_neurons)`` float64 (neurons in C
      order of ``z``'s state shape) and ``(orientations * phases,)`` int orientation index.
    """
    size, channels = _model_image_size(model, image_size)
    g = gratings(size, orientations, phases, wavelength, contrast)  # (O, P, s, s)
    images = np.repeat(g.reshape(orientations * phases, size, size, 1), channels, axis=-1)
    labels = np.repeat(np.arange(orientations), phases)
    return _static_responses(model, params, images, length, transient, batch), labels


def class_responses(model, params, images, labels, length: int = 30, transient: int = 10, *,
                    batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged responses to static images of labelled classes (e.g. digits).

    Each image ``(h, w, c)`` is shown as a constant sequence of ``length`` frames; the response
    is ``z`` averaged over ``t >= transient``.

    Returns:
      ``(responses, labels)``: ``(N, num_neurons)`` float64 and ``(N,)`` int labels.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"need one integer label per image, got labels {labels.shape} "
                         f"{labels.dtype} for {len(images)} images")
    return _static_responses(model, params, images, length, transient, batch), labels


def protocol_responses(model, params, image_size: int | None = None, *, wavelength: float,
                       orientations: int = 8, phases: int = 4, length: int = 30,
                       transient: int = 10, contrast: float = 1.0, trials: int = 16,
                       noise: float = 0.5, seed: int = 0,
                       batch: int = 32) -> protocols_.GratingResponses:
    """The responses every selectivity protocol needs
    (:func:`locornn.analysis.protocols.measure_responses`): time-averaged ``z`` and
    ``|z - z_blank|`` for each grating, and time-averaged ``z`` for ``trials`` noisy
    presentations of each (pixel noise of standard deviation ``noise``, from ``seed``). Each
    image is shown as a constant sequence of ``length`` frames, averaged over ``t >=
    transient``; ``batch`` images per jitted call (the last call padded, so there is one
    compilation)."""
    size, channels = _model_image_size(model, image_size)
    (length, transient), batch = _check_window(length, transient), int(batch)
    stimuli = protocols_.grating_stimuli(size, wavelength=wavelength, orientations=orientations,
                                         phases=phases, contrast=contrast, trials=trials,
                                         noise=noise, seed=seed)

    def respond(images):  # (n <= batch, h, w) -> (n, T, N)
        n = len(images)
        chunk = np.repeat(np.asarray(images, np.float32)[..., None], channels, axis=-1)
        if n < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        return np.asarray(_states(model, params, jnp.asarray(chunk), length, transient))[:n]

    return protocols_.measure_responses(respond, stimuli, batch=batch)


# ----------------------------------------------------------------------------------------------
# Selectivity and maps
# ----------------------------------------------------------------------------------------------


def _lattice_and_circular(model, lattice_shape, circular):
    config = getattr(model, "config", None)
    if config is not None and config.kind != "locornn":
        raise ValueError(f"orientation maps need a LocoRNN lattice (model.kind='locornn'); this "
                         f"model is {config.kind!r}, whose neurons have no positions")
    if lattice_shape is None:
        lattice_shape = model.state_shape
    lattice_shape = tuple(int(s) for s in lattice_shape)
    if len(lattice_shape) == 2:
        lattice_shape = (*lattice_shape, 1)
    if len(lattice_shape) != 3:
        raise ValueError(f"lattice_shape must be (H, W) or (H, W, C), got {lattice_shape}")
    if circular is None:
        circular = config is not None and config.padding == "circular"
    return lattice_shape, bool(circular)


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _neighbour_phase_difference(phase) -> float:
    """Mean ``|wrap(phi_a - phi_b)|`` over 4-neighbour pairs within a channel (``pi / 2`` for
    independent phases, 0 for a uniform map)."""
    diffs = [np.abs(np.angle(np.exp(1j * np.diff(phase, axis=axis)))).ravel()
             for axis in (0, 1)]
    return float(np.concatenate(diffs).mean())


def _protocol_maps(d, lattice_shape, angles, threshold, seed, num_shuffles, circular):
    """Maps and JSON-ready numbers of one protocol's d: the topography numbers of
    :func:`~locornn.analysis.selectivity.selectivity_summary` and the domain numbers of
    :func:`~locornn.analysis.domains.domain_statistics` (on the preferred orientation's label;
    open boundaries, like a picture of the map)."""
    pref, sel = preferred(d, threshold)
    pref_map, sel_map = pref.reshape(lattice_shape), sel.reshape(lattice_shape)
    stats = selectivity_summary(d, lattice_shape, angles, threshold, seed, num_shuffles,
                                circular)
    stats.update(domain_statistics(pref_map, sel_map))
    return {"summary": {k: _finite_or_none(v) for k, v in stats.items()}, "d": d,
            "preferred": pref_map, "selective": sel_map}


def analyze_orientation(model, params, image_size: int | None = None, lattice_shape=None, *,
                        wavelength: float, threshold: float = 0.65, seed: int = 0,
                        orientations: int = 8, phases: int = 4, length: int = 30,
                        transient: int = 10, contrast: float = 1.0, num_shuffles: int = 200,
                        circular: bool | None = None, batch: int = 32,
                        protocol: str = protocols_.DEFAULT_PROTOCOL, trials: int = 16,
                        noise: float = 0.5) -> dict:
    """Orientation selectivity of a LocoRNN lattice under every protocol, and its map statistics.

    All protocols of :mod:`locornn.analysis.protocols` (``phases``, ``trials``, ``amplitude``)
    are measured on the same gratings; ``protocol`` is the one whose map is *the* map (the
    top-level numbers and arrays, Figure 2).

    Args:
      model, params, image_size, wavelength: the network and the gratings, see
        :func:`grating_responses`.
      orientations, phases, length, transient, contrast, batch: likewise.
      lattice_shape: ``(H, W, C)`` of the lattice; default the model's ``state_shape``.
      threshold: a neuron is selective when its largest d is ``>= threshold`` (paper: 0.65).
      seed, num_shuffles: the position-shuffle null of the topography z-score (``seed`` also
        draws the trial noise).
      circular: periodic lattice neighbourhoods; default: the model's padding is circular.
      protocol: the protocol of the map (default ``phases``, the paper's reading).
      trials, noise: the noisy presentations of protocol ``trials`` (0 trials: not measured).

    Returns:
      dict with

      * ``summary``: JSON-ready (NaN written as ``None``): the chosen protocol's
        :func:`~locornn.analysis.selectivity.selectivity_summary` (``fraction_selective``,
        ``mean_max_d``, ``preferred_histogram``, ``neighbour_correlation``,
        ``topography_zscore``, ``domain_size``, ``pinwheel_density``, ...) and
        :func:`~locornn.analysis.domains.domain_statistics` (``neighbour_agreement``,
        ``chance_agreement``, ``domain_area``, ...); ``protocol``; ``protocols``: the same
        numbers for every protocol (``None`` for ``trials`` without trials);
        ``preferred_phase``: ``mean_modulation`` and ``neighbour_phase_difference`` (radians)
        of the phase map; ``trials_tuning_and_noise``: medians over the neurons of the two
        halves of ``trials``' d (:func:`~locornn.analysis.protocols.trials_tuning_and_noise`:
        ``tuning_median``, ``noise_median``, ``ratio_median``; ``None`` without trials);
        the stimulus settings, ``angles_degrees``, ``lattice_shape`` and ``circular``;
      * arrays of the chosen protocol: ``d`` ``(orientations, num_neurons)``, ``preferred``
        ``(H, W, C)`` int orientation index, ``pref_angle`` ``(H, W, C)`` radians,
        ``selective`` ``(H, W, C)`` bool, ``angles`` ``(orientations,)`` radians;
        ``preferred_phase`` and ``phase_modulation`` ``(H, W, C)``
        (:func:`~locornn.analysis.protocols.preferred_phase` at the preferred orientation);
        ``protocols``: ``{name: {"d", "preferred", "selective"}}`` for every measured protocol.

    Raises:
      ValueError: the model is not a LocoRNN (``kind != "locornn"``), shapes disagree, or the
        chosen protocol is unknown or not measured.
    """
    if protocol not in protocols_.PROTOCOLS:
        raise ValueError(f"unknown selectivity protocol {protocol!r}; choose from "
                         f"{protocols_.PROTOCOLS}")
    if protocol == "trials" and trials == 0:
        raise ValueError("protocol 'trials' needs trials > 0")
    lattice_shape, circular = _lattice_and_circular(model, lattice_shape, circular)
    responses = protocol_responses(
        model, params, image_size, wavelength=wavelength, orientations=orientations,
        phases=phases, length=length, transient=transient, contrast=contrast, trials=trials,
        noise=noise, seed=seed, batch=batch)
    num_neurons = responses.mean.shape[2]
    if num_neurons != math.prod(lattice_shape):
        raise ValueError(f"the model has {num_neurons} neurons, lattice_shape "
                         f"{lattice_shape} holds {math.prod(lattice_shape)}")
    angles = orientation_angles(orientations)
    measured = [name for name in protocols_.PROTOCOLS if name != "trials" or trials > 0]
    maps = {name: _protocol_maps(protocols_.protocol_d(name, responses), lattice_shape, angles,
                                 threshold, seed, num_shuffles, circular)
            for name in measured}
    chosen = maps[protocol]
    phase, modulation = protocols_.preferred_phase(responses, chosen["preferred"].ravel())
    phase_map, modulation_map = phase.reshape(lattice_shape), modulation.reshape(lattice_shape)
    size, _ = _model_image_size(model, image_size)
    tuning, trial_noise = protocols_.trials_tuning_and_noise(responses)
    summary = {
        **chosen["summary"],
        "protocol": protocol,
        "protocols": {name: maps[name]["summary"] if name in maps else None
                      for name in protocols_.PROTOCOLS},
        "preferred_phase": {
            "mean_modulation": _finite_or_none(float(np.nanmean(modulation))
                                               if np.isfinite(modulation).any() else math.nan),
            "neighbour_phase_difference": _finite_or_none(
                _neighbour_phase_difference(phase_map))},
        "trials_tuning_and_noise": None if trials == 0 else {
            "tuning_median": float(np.median(tuning)),
            "noise_median": float(np.median(trial_noise)),
            "ratio_median": _finite_or_none(float(np.median(
                tuning / np.maximum(trial_noise, 1e-12))))},
        "lattice_shape": list(lattice_shape),
        "circular": circular,
        "angles_degrees": [float(a) for a in np.rad2deg(angles)],
        "stimuli": {"kind": "static sinusoidal gratings", "image_size": size,
                    "wavelength": float(wavelength), "orientations": int(orientations),
                    "phases": int(phases), "contrast": float(contrast), "length": int(length),
                    "transient": int(transient), "trials": int(trials),
                    "noise": float(noise)},
        "response_std": float(responses.mean.reshape(-1, num_neurons).std(axis=0).mean()),
        "num_shuffles": int(num_shuffles),
        "shuffle_seed": int(seed),
    }
    return {"summary": summary, "d": chosen["d"], "preferred": chosen["preferred"],
            "pref_angle": angles[chosen["preferred"]], "selective": chosen["selective"],
            "angles": angles, "preferred_phase": phase_map, "phase_modulation": modulation_map,
            "protocols": {name: {k: m[k] for k in ("d", "preferred", "selective")}
                          for name, m in maps.items()}}


def class_selectivity(model, params, images, labels, lattice_shape=None, *, length: int = 30,
                      transient: int = 10, threshold: float = 0.65,
                      num_classes: int | None = None, seed: int = 0, num_shuffles: int = 200,
                      circular: bool | None = None, batch: int = 32) -> dict:
    """Class (e.g. digit) selectivity: Cohen's d of each class against the rest, a class map.

    Returns:
      dict with ``summary`` (:func:`~locornn.analysis.selectivity.selectivity_summary` with
      categorical classes, JSON-ready), ``d`` ``(K, N)``, ``preferred`` ``(H, W, C)`` class
      index and ``selective`` ``(H, W, C)`` bool.
    """
    lattice_shape, circular = _lattice_and_circular(model, lattice_shape, circular)
    responses, labels = class_responses(model, params, images, labels, length, transient,
                                        batch=batch)
    d = cohens_d(responses, labels, num_classes=num_classes)
    pref, sel = preferred(d, threshold)
    stats = selectivity_summary(d, lattice_shape, None, threshold, seed, num_shuffles, circular)
    return {"summary": {k: _finite_or_none(v) for k, v in stats.items()}, "d": d,
            "preferred": pref.reshape(lattice_shape), "selective": sel.reshape(lattice_shape)}


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _colours(orientations: int) -> np.ndarray:
    """``(orientations, 3)`` RGB: orientation ``k`` gets hue ``k / orientations`` of ``CMAP``."""
    return plt.get_cmap(CMAP)(np.arange(orientations) / orientations)[:, :3]


def _draw_map(ax, pref_angle, selective, orientations: int, title: str) -> None:
    """One ``(H, W)`` map: hue = preferred orientation, non-selective neurons washed out and
    marked with a black x."""
    h, w = pref_angle.shape
    rgb = _colours(orientations)[orientation_labels(pref_angle, orientations)]
    rgb = np.where(selective[..., None], rgb, 0.5 * rgb + 0.5)
    ax.imshow(rgb, interpolation="nearest")
    rows, cols = np.nonzero(~selective)
    if rows.size:
        bbox = ax.get_window_extent().transformed(ax.figure.dpi_scale_trans.inverted())
        cell_points = 72.0 * min(bbox.width / w, bbox.height / h)
        ax.scatter(cols, rows, marker="x", c="k", s=(0.6 * cell_points) ** 2,
                   linewidths=max(0.3, min(1.2, cell_points / 12)))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _draw_legend(ax, orientations: int) -> None:
    """Oriented bars (the stripes of each orientation's grating, as they appear in the map
    frame) in their colours, labelled with the wave-vector angle."""
    colours = _colours(orientations)
    for k, theta in enumerate(orientation_angles(orientations)):
        dx, dy = -np.sin(theta), np.cos(theta)  # stripe direction in (column, row)
        ax.plot([-0.35 * dx, 0.35 * dx], [k - 0.35 * dy, k + 0.35 * dy], color=colours[k],
                linewidth=4, solid_capstyle="round")
        ax.text(0.7, k, f"{np.rad2deg(theta):g}\N{DEGREE SIGN}", va="center", fontsize=7)
    ax.set_xlim(-0.6, 2.2)
    ax.set_ylim(orientations - 0.5, -0.5)  # row axis downwards, like the map
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("preferred\ngrating", fontsize=8)


def _draw_phase(ax, phase, title: str = "preferred grating phase") -> None:
    """A phase map: hue = phase (cyclic), as the authors draw theirs."""
    ax.imshow(np.mod(phase, 2 * np.pi), cmap=CMAP, vmin=0.0, vmax=2 * np.pi,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _map_figure(panels: list[tuple[str, np.ndarray, np.ndarray]], out_path, orientations: int,
                suptitle: str = "", phase_map=None) -> None:
    n = len(panels)
    extra = 0 if phase_map is None else 1
    fig, axes = plt.subplots(1, n + extra + 1, figsize=(3.2 * (n + extra) + 1.1, 3.6),
                             gridspec_kw={"width_ratios": [1.0] * (n + extra) + [0.32]},
                             squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1, top=0.8, wspace=0.08)
    for ax, (title, pref, sel) in zip(axes[0, :n], panels, strict=True):
        _draw_map(ax, pref, sel, orientations, title)
    if phase_map is not None:
        _draw_phase(axes[0, n], phase_map)
    _draw_legend(axes[0, n + extra], orientations)
    fig.text(0.5, 0.02, "x: not selective (max d below threshold)", ha="center", fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.savefig(out_path, dpi=150)
    plt.close(fig)


def orientation_map(pref_angle_map, selective, out_path, title: str = "", *,
                    orientations: int = 8, phase_map=None) -> None:
    """Orientation map: hue = preferred orientation (cyclic ``hsv``, one hue per grating
    orientation, 180 / ``orientations`` degrees apart), non-selective neurons washed out and
    marked with a black x, and a legend of oriented bars.

    Args:
      pref_angle_map: ``(H, W)`` or ``(H, W, C)`` preferred orientation in radians (one panel
        per channel).
      selective: same shape, bool.
      out_path: PNG path.
      phase_map: optional ``(H, W)`` or ``(H, W, C)`` preferred grating phase (radians), drawn
        (channel 0) beside the orientation map, as the authors pair them.
    """
    pref = _as_map(pref_angle_map, "pref_angle_map")
    sel = _as_map(selective, "selective").astype(bool)
    if pref.shape != sel.shape:
        raise ValueError(f"map shape {pref.shape} != selective shape {sel.shape}")
    c = pref.shape[-1]
    panels = [(f"channel {i}" if c > 1 else "", pref[..., i], sel[..., i]) for i in range(c)]
    phase = None if phase_map is None else _as_map(phase_map, "phase_map")[..., 0]
    _map_figure(panels, out_path, orientations, title, phase)


def _numbers(stats: dict) -> str:
    def f(key, spec):
        value = stats.get(key)
        return "n/a" if value is None or not np.isfinite(value) else format(value, spec)
    return (f"agreement {f('neighbour_agreement', '.2f')}, area {f('domain_area', '.0f')}\n"
            f"selective {f('fraction_selective', '.2f')}")


def protocol_figure(result: dict, out_path, *, orientations: int = 8, title: str = "") -> None:
    """Every protocol's orientation map (channel 0) with its neighbour agreement, domain area
    and fraction selective, then the preferred-phase map: ``result`` from
    :func:`analyze_orientation`."""
    summaries = result["summary"]["protocols"]
    panels = []
    for name, maps in result["protocols"].items():
        mark = " (the map)" if name == result["summary"]["protocol"] else ""
        panels.append((f"{name}{mark}\n{_numbers(summaries[name])}",
                       result["angles"][maps["preferred"][..., 0]],
                       maps["selective"][..., 0]))
    _map_figure(panels, out_path, orientations, title,
                _as_map(result["preferred_phase"], "preferred_phase")[..., 0])


def side_by_side(maps: dict, out_path, *, orientations: int = 8, title: str = "") -> None:
    """Several orientation maps in one figure (Figure 2: trained on waves / on noise /
    untrained), one shared legend.

    Args:
      maps: ``{panel title: (pref_angle_map, selective)}``; ``(H, W, C)`` maps show channel 0.
    """
    panels = []
    for name, (pref, sel) in maps.items():
        pref, sel = _as_map(pref, "pref_angle_map"), _as_map(sel, "selective")
        panels.append((name, pref[..., 0], sel[..., 0].astype(bool)))
    _map_figure(panels, out_path, orientations, title)


SWEEP_ROWS = {"wavelength": (r"$\lambda^{\mathrm{train}}$", "{:g}"),
              "kernel": (r"size$(\mathbf{w}_z)$", "{0:g}\N{MULTIPLICATION SIGN}{0:g}")}


def sweep_figure(maps: dict, out_path, *, orientations: int = 8, title: str = "",
                 reference: dict | None = None) -> dict:
    """The authors' layout of Figure 2's sweep: a row of maps for the training wavelength
    (5, 10, 16, 24 px) and a row for the coupling kernel size (3, 5, 7, 9), each panel titled
    with its value and its :func:`~locornn.analysis.domains.domain_statistics` (neighbour
    agreement, area-weighted domain area, fraction selective).

    Args:
      maps: ``{(row, value): (pref_angle, selective)}`` with ``row`` ``"wavelength"`` or
        ``"kernel"``; ``(H, W)`` or ``(H, W, C)`` maps (channel 0 is drawn and measured). Each
        row lists its values in increasing order; a row without maps is left out.
      reference: optional ``{(row, value): (neighbour agreement, domain area)}`` printed under
        each panel's numbers (e.g. the authors').

    Returns:
      ``{(row, value): domain statistics}`` of every panel drawn.
    """
    unknown = {row for row, _ in maps} - set(SWEEP_ROWS)
    if unknown:
        raise ValueError(f"sweep rows must be among {tuple(SWEEP_ROWS)}, got {sorted(unknown)}")
    rows = [row for row in SWEEP_ROWS if any(r == row for r, _ in maps)]
    if not rows:
        raise ValueError("no maps to draw")
    columns = max(sum(r == row for r, _ in maps) for row in rows)
    fig, axes = plt.subplots(len(rows), columns + 1, squeeze=False,
                             figsize=(3.0 * columns + 1.4, 3.6 * len(rows)),
                             gridspec_kw={"width_ratios": [1.0] * columns + [0.32]})
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.04, top=0.88 if title else 0.93,
                        wspace=0.1, hspace=0.45)
    stats = {}
    for i, row in enumerate(rows):
        label, fmt = SWEEP_ROWS[row]
        values = sorted(v for r, v in maps if r == row)
        for j in range(columns):
            ax = axes[i, j]
            if j >= len(values):
                ax.axis("off")
                continue
            pref, sel = maps[(row, values[j])]
            pref = _as_map(pref, "pref_angle")[..., 0]
            sel = _as_map(sel, "selective")[..., 0].astype(bool)
            numbers = domain_statistics(orientation_labels(pref, orientations), sel)
            stats[(row, values[j])] = numbers
            text = f"{fmt.format(values[j])}\n{_numbers(numbers)}"
            if reference and (row, values[j]) in reference:
                agreement, area = reference[(row, values[j])]
                text += f"\nauthors: {agreement:.2f}, {area:.0f}"
            _draw_map(ax, pref, sel, orientations, text)
        axes[i, 0].text(-0.12, 0.5, label, transform=axes[i, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=12)
        if i == 0:
            _draw_legend(axes[i, columns], orientations)
        else:
            axes[i, columns].axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(out_path, dpi=150)
    plt.close(fig)
    return stats


def orientation_histogram(pref_angle, selective, out_path, *, orientations: int = 8,
                          title: str = "") -> None:
    """Bar chart: number of selective neurons preferring each orientation.

    Args:
      pref_angle: preferred orientations in radians (any shape); selective: same shape, bool.
    """
    pref_angle = np.asarray(pref_angle)
    selective = np.asarray(selective, dtype=bool)
    if pref_angle.shape != selective.shape:
        raise ValueError(f"shape {pref_angle.shape} != selective shape {selective.shape}")
    index = orientation_labels(pref_angle, orientations)[selective]
    counts = np.bincount(index, minlength=orientations)
    degrees = orientation_angles(orientations, degrees=True)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.bar(degrees, counts, width=0.8 * 180 / orientations, color=_colours(orientations),
           edgecolor="k", linewidth=0.5)
    ax.set_xticks(degrees)
    ax.set_xticklabels([f"{x:g}" for x in degrees], fontsize=7)
    ax.set_xlabel("preferred orientation (degrees, wave-vector angle)")
    ax.set_ylabel("selective neurons")
    frac = selective.mean() if selective.size else float("nan")
    ax.set_title(title or f"{selective.sum()} of {selective.size} neurons selective "
                          f"({100 * frac:.0f}%)", fontsize=9)
    plots.save(fig, out_path, dpi=150)


# ----------------------------------------------------------------------------------------------
# Run directories
# ----------------------------------------------------------------------------------------------


def default_wavelength(config) -> float:
    """The grating wavelength used when none is given: the middle of the training range,
    ``(data.wavelength_min + data.wavelength_max) / 2`` (14.5 px for the waves/noise cpu and
    paper presets, 6 px for smoke). Networks trained on noise use the same fields, so a
    waves run and its noise control are probed with the same gratings."""
    return 0.5 * (float(config.data.wavelength_min) + float(config.data.wavelength_max))


def output_paths(run_dir, untrained: bool = False) -> dict[str, pathlib.Path]:
    """The files :func:`run_analysis` writes: ``map``, ``histogram``, ``json``, ``maps``,
    ``protocols``."""
    run_dir = pathlib.Path(run_dir)
    s = "_untrained" if untrained else ""
    return {"map": run_dir / f"orientation_map{s}.png",
            "histogram": run_dir / f"orientation_histogram{s}.png",
            "json": run_dir / f"selectivity{s}.json",
            "maps": run_dir / f"orientation_maps{s}.npz",
            "protocols": run_dir / f"orientation_protocols{s}.png"}


def _read_config(run_dir: pathlib.Path):
    from locornn.checkpoints import read_config

    return read_config(run_dir)


def _untrained_model(config):
    """Model and its initial params: ``model.init(PRNGKey(config.seed), first sequence)``, as at
    the start of training. The data config is cut to one sequence per split (only the frame
    shape is needed), so no checkpoint and no full data set are required."""
    from locornn import data, models

    small = config.copy_and_resolve_references()
    small.data.num_train, small.data.num_test = 1, 1
    sample = np.asarray(data.load(small.data).train[:1])
    model = models.build_model(config.model, sample.shape[2:])
    params = model.init(jax.random.PRNGKey(config.seed), jnp.asarray(sample))["params"]
    return model, params


def _trained_model(run_dir):
    """Config, model, params and step of the latest checkpoint
    (:func:`locornn.checkpoints.load_run`)."""
    from locornn.checkpoints import load_run

    config, task, state = load_run(run_dir)
    return config, task.model, state.params, int(state.step)


def _time_step(config, params) -> float | None:
    """The oscillator step ``dt`` of these parameters (learned: ``sigmoid(dt_raw)``)."""
    if not config.model.learn_constants:
        return float(config.model.dt)
    raw = params.get("core", {}).get("dt_raw") if hasattr(params, "get") else None
    return None if raw is None else float(jax.nn.sigmoid(raw))


def run_analysis(run_dir, *, untrained: bool = False, wavelength: float | None = None,
                 threshold: float = 0.65, length: int = 30, transient: int = 10,
                 orientations: int = 8, phases: int = 4, seed: int = 0,
                 num_shuffles: int = 200, batch: int = 32,
                 protocol: str = protocols_.DEFAULT_PROTOCOL, trials: int = 16,
                 noise: float = 0.5) -> dict:
    """Orientation analysis of a run directory; writes its figures and numbers there.

    Loads the run with :func:`locornn.checkpoints.load_run` (latest checkpoint), or with
    ``untrained=True`` builds the same model with freshly initialised parameters from the
    run's ``config.seed`` (the control; needs only ``config.json``). Gratings have
    ``wavelength`` pixels, by default :func:`default_wavelength` (the middle of the run's
    ``data.wavelength_min .. wavelength_max``). The lattice is
    ``(model.lattice, model.lattice, model.channels)``; neighbourhoods wrap around when
    ``model.padding`` is circular.

    Every selectivity protocol is measured (:mod:`locornn.analysis.protocols`); ``protocol``
    picks the one whose map is drawn as the orientation map and whose numbers are the
    summary's top-level ones.

    Writes (see :func:`output_paths`; ``*_untrained.*`` with ``untrained``):
    ``orientation_map.png`` (the chosen protocol's map beside the preferred-phase map),
    ``orientation_histogram.png``, ``orientation_protocols.png`` (every protocol's map with its
    numbers, and the phase map), ``selectivity.json`` (the summary of
    :func:`analyze_orientation`, with every protocol's numbers under ``protocols``, plus run,
    step, the oscillator ``dt`` and ``averaged_time = (length - transient) * dt``, and file
    names; NaN as ``null``) and ``orientation_maps.npz`` (the chosen protocol's ``d``,
    ``preferred``, ``pref_angle``, ``selective``, ``angles``, the ``preferred_phase`` and
    ``phase_modulation`` maps, and ``d_<protocol>``, ``preferred_<protocol>``,
    ``selective_<protocol>`` of every measured protocol; read back with :func:`load_maps`).

    The averaging window should span at least one oscillator period, ``2 pi / sqrt(gamma)``
    in time units (~6.3, i.e. ~13 steps at ``dt = 0.5`` but ~50 at ``dt = 0.125``): raise
    ``length`` for small ``dt`` (the summary records ``averaged_time``).

    Returns:
      the JSON summary (with ``files``: name -> path).

    Raises:
      FileNotFoundError: no ``config.json`` (or, when trained, no checkpoint).
      ValueError: the run is not a LocoRNN (``model.kind != "locornn"``: coRNN neurons have no
        lattice positions, so there is no map).
    """
    run_dir = pathlib.Path(run_dir).absolute()
    config = _read_config(run_dir)
    if config.model.kind != "locornn":
        raise ValueError(f"orientation maps need a LocoRNN run (model.kind='locornn'); {run_dir} "
                         f"is a {config.model.kind!r} run, whose neurons have no lattice "
                         f"positions")
    if untrained:
        (model, params), step = _untrained_model(config), 0
    else:
        config, model, params, step = _trained_model(run_dir)
    if wavelength is None:
        wavelength = default_wavelength(config)
    lattice_shape = (config.model.lattice, config.model.lattice, config.model.channels)
    result = analyze_orientation(
        model, params, config.data.image_size, lattice_shape, wavelength=wavelength,
        threshold=threshold, seed=seed, orientations=orientations, phases=phases,
        length=length, transient=transient, num_shuffles=num_shuffles,
        circular=config.model.padding == "circular", batch=batch, protocol=protocol,
        trials=trials, noise=noise)
    paths = output_paths(run_dir, untrained)
    label = "untrained" if untrained else f"trained, step {step}"
    name = f"{config.experiment}/{config.preset} seed {config.seed} ({label})"
    dt = _time_step(config, params)
    summary = {"run_dir": str(run_dir), "experiment": config.experiment,
               "preset": config.preset, "seed": config.seed, "untrained": bool(untrained),
               "step": step, **result["summary"], "dt": dt,
               "averaged_time": None if dt is None else (length - transient) * dt,
               "files": {k: p.name for k, p in paths.items()}}
    orientation_map(result["pref_angle"], result["selective"], paths["map"],
                    title=f"{name}\n{wavelength:g} px gratings, protocol {protocol}, "
                          f"{100 * summary['fraction_selective']:.0f}% selective",
                    orientations=orientations, phase_map=result["preferred_phase"])
    orientation_histogram(result["pref_angle"], result["selective"], paths["histogram"],
                          orientations=orientations)
    protocol_figure(result, paths["protocols"], orientations=orientations,
                    title=f"{name}, {wavelength:g} px gratings")
    arrays = {k: result[k] for k in ("d", "preferred", "pref_angle", "selective", "angles",
                                     "preferred_phase", "phase_modulation")}
    for which, maps in result["protocols"].items():
        arrays.update({f"{k}_{which}": v for k, v in maps.items()})
    np.savez_compressed(paths["maps"], **arrays)
    paths["json"].write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return {**summary, "files": {k: str(p) for k, p in paths.items()}}


def load_maps(run_dir, untrained: bool = False,
              protocol: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(pref_angle, selective)`` ``(H, W, C)`` maps written by :func:`run_analysis`, e.g. for
    ``side_by_side({"waves": load_maps(a), "noise": load_maps(b),
    "untrained": load_maps(a, untrained=True)}, "figure2.png")``: the run's chosen protocol,
    or ``protocol``'s map (``KeyError`` when that protocol was not measured)."""
    with np.load(output_paths(run_dir, untrained)["maps"]) as f:
        if protocol is None:
            return f["pref_angle"], f["selective"]
        return f["angles"][f[f"preferred_{protocol}"]], f[f"selective_{protocol}"]


# ----------------------------------------------------------------------------------------------
# Command line: ``locornn analyze orientation RUN_DIR``
# ----------------------------------------------------------------------------------------------


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _command(args) -> int:
    try:
        summary = run_analysis(args.run_dir, untrained=args.untrained,
                               wavelength=args.wavelength, threshold=args.threshold,
                               length=args.length, transient=args.transient,
                               protocol=args.protocol, trials=args.trials, noise=args.noise)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    which = "untrained" if summary["untrained"] else f"step {summary['step']}"
    print(f"orientation ({which}, {summary['stimuli']['wavelength']:g} px gratings): "
          f"{100 * summary['fraction_selective']:.1f}% selective; "
          f"neighbour correlation {_fmt(summary['neighbour_correlation'], '.3f')} "
          f"(z = {_fmt(summary['topography_zscore'], '.2f')} vs shuffled positions); "
          f"domain size {_fmt(summary['domain_size'], '.2f')} lattice units; "
          f"pinwheel density {_fmt(summary['pinwheel_density'], '.2f')}")
    for which, numbers in summary["protocols"].items():
        mark = " (the map)" if which == summary["protocol"] else ""
        if numbers is None:
            print(f"  {which}: not measured (no trials)")
            continue
        print(f"  {which}{mark}: {100 * numbers['fraction_selective']:.1f}% selective, "
              f"neighbour agreement {_fmt(numbers['neighbour_agreement'], '.3f')} "
              f"(chance {_fmt(numbers['chance_agreement'], '.3f')}), domain area "
              f"{_fmt(numbers['domain_area'], '.0f')} sites, mean max d "
              f"{numbers['mean_max_d']:.2f}")
    halves = summary["trials_tuning_and_noise"]
    if halves is not None:
        print(f"  trials' d in halves (medians): tuning {halves['tuning_median']:.3g}, noise "
              f"{halves['noise_median']:.3g}, ratio {_fmt(halves['ratio_median'], '.3g')}")
    for path in summary["files"].values():
        print(f"wrote {path}")
    return 0


def add_command(subparsers) -> None:
    """Register ``orientation`` under ``locornn analyze``."""
    p = subparsers.add_parser(
        "orientation", help="orientation selectivity and maps (Figure 2) of a LocoRNN run",
        description="Show static gratings to a trained LocoRNN run (or, with --untrained, to "
                    "its initial parameters) and write orientation_map.png, "
                    "orientation_histogram.png, selectivity.json and orientation_maps.npz "
                    "into RUN_DIR (*_untrained.* with --untrained).")
    p.add_argument("run_dir", help="a run directory (with config.json and checkpoints)")
    p.add_argument("--untrained", action="store_true",
                   help="freshly initialised parameters from the run's seed (the control)")
    p.add_argument("--wavelength", type=float, default=None,
                   help="grating wavelength in pixels (default: the middle of the run's "
                        "data.wavelength_min..max)")
    p.add_argument("--threshold", type=float, default=0.65,
                   help="selective when the largest Cohen's d is at least this (default 0.65)")
    p.add_argument("--length", type=int, default=30, help="frames per stimulus (default 30)")
    p.add_argument("--transient", type=int, default=10,
                   help="leading steps left out of the time average (default 10)")
    p.add_argument("--protocol", choices=protocols_.PROTOCOLS,
                   default=protocols_.DEFAULT_PROTOCOL,
                   help="the selectivity protocol of the map (all are measured and reported; "
                        f"default {protocols_.DEFAULT_PROTOCOL}, see docs/orientation.md)")
    p.add_argument("--trials", type=int, default=16,
                   help="noisy presentations of each grating for protocol 'trials' "
                        "(0: not measured; default 16)")
    p.add_argument("--noise", type=float, default=0.5,
                   help="pixel noise standard deviation of those presentations (default 0.5, "
                        "the grating's amplitude)")
    p.set_defaults(func=_command)
