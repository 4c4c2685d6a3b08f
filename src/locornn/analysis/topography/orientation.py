"""Orientation selectivity and topographic maps of a trained LocoRNN (paper, Figure 2).

Protocol (DESIGN.md section 5): static sinusoidal gratings
(:func:`locornn.analysis.topography.stimuli.gratings`, 8 orientations 22.5 degrees apart, 4
spatial phases, values in ``[0, 1]``) are each shown as a *constant* input sequence
(:mod:`locornn.analysis.topography.responses`). Cohen's d of each orientation against all the
others (:func:`locornn.analysis.topography.selectivity.cohens_d`; the phases of one orientation
are its samples) gives the preferred orientation (argmax d) and the selective neurons
(max d >= 0.65); :func:`locornn.analysis.topography.selectivity.selectivity_summary` turns the
map into numbers (fraction selective, neighbour correlation and its z-score against shuffled
positions, domain size, pinwheel density, histogram of preferred orientations) and
:func:`locornn.analysis.topography.domains.domain_statistics` into the numbers read off a picture
of a map (neighbour agreement, area-weighted domain area). That is the ``phases`` protocol, the
default; :mod:`locornn.analysis.topography.protocols` defines two more (noisy trials at the best
phase, a phase-invariant amplitude) and the preferred-phase map, argues the choice, and every run
reports all of them (``docs/orientation.md``).

Entry points:

* :func:`analyze_orientation`: responses -> d -> maps and a JSON-ready summary.
* :func:`class_selectivity`: the same for categorical stimuli (digits), with a class map.
* :func:`run_analysis`: all of it for a run directory (``locornn analyze orientation RUN_DIR``),
  writing ``orientation_map.png``, ``orientation_histogram.png``, ``selectivity.json`` and
  ``orientation_maps.npz`` (``*_untrained.*`` for the untrained control) with the figures of
  :mod:`locornn.analysis.topography.map_figures`.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

from . import protocols as protocols_
from .domains import domain_statistics
from .map_figures import orientation_histogram, orientation_map, protocol_figure
from .responses import _model_image_size, class_responses, protocol_responses
from .selectivity import cohens_d, preferred, selectivity_summary
from .stimuli import orientation_angles

__all__ = [
    "add_command",
    "analyze_orientation",
    "class_selectivity",
    "default_wavelength",
    "load_maps",
    "output_paths",
    "run_analysis",
]


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
    :func:`~locornn.analysis.topography.selectivity.selectivity_summary` and the domain numbers of
    :func:`~locornn.analysis.topography.domains.domain_statistics` (on the preferred orientation's
    label; open boundaries, like a picture of the map)."""
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

    All protocols of :mod:`locornn.analysis.topography.protocols` (``phases``, ``trials``,
    ``amplitude``) are measured on the same gratings; ``protocol`` is the one whose map is *the* map
    (the top-level numbers and arrays, Figure 2).

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
        :func:`~locornn.analysis.topography.selectivity.selectivity_summary`
        (``fraction_selective``, ``mean_max_d``, ``preferred_histogram``, ``neighbour_correlation``,
        ``topography_zscore``, ``domain_size``, ``pinwheel_density``, ...) and
        :func:`~locornn.analysis.topography.domains.domain_statistics` (``neighbour_agreement``,
        ``chance_agreement``, ``domain_area``, ...); ``protocol``; ``protocols``: the same
        numbers for every protocol (``None`` for ``trials`` without trials);
        ``preferred_phase``: ``mean_modulation`` and ``neighbour_phase_difference`` (radians)
        of the phase map; ``trials_tuning_and_noise``: medians over the neurons of the two
        halves of ``trials``' d
        (:func:`~locornn.analysis.topography.protocols.trials_tuning_and_noise`: ``tuning_median``,
        ``noise_median``, ``ratio_median``; ``None`` without trials); the stimulus settings,
        ``angles_degrees``, ``lattice_shape`` and ``circular``;
      * arrays of the chosen protocol: ``d`` ``(orientations, num_neurons)``, ``preferred``
        ``(H, W, C)`` int orientation index, ``pref_angle`` ``(H, W, C)`` radians,
        ``selective`` ``(H, W, C)`` bool, ``angles`` ``(orientations,)`` radians;
        ``preferred_phase`` and ``phase_modulation`` ``(H, W, C)``
        (:func:`~locornn.analysis.topography.protocols.preferred_phase` at the preferred
        orientation); ``protocols``: ``{name: {"d", "preferred", "selective"}}`` for every measured
        protocol.

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
      dict with ``summary`` (:func:`~locornn.analysis.topography.selectivity.selectivity_summary`
      with categorical classes, JSON-ready), ``d`` ``(K, N)``, ``preferred`` ``(H, W, C)`` class
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

    Every selectivity protocol is measured (:mod:`locornn.analysis.topography.protocols`);
    ``protocol`` picks the one whose map is drawn as the orientation map and whose numbers are the
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
    from locornn import configs

    # the flags set what a run's analysis.* fields set: the same rules, before any work
    flags = configs.base_config()
    for key in ("length", "transient", "protocol", "trials"):
        flags.analysis[key] = getattr(args, key)
    try:
        configs.validate(flags)
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
    from locornn.configs import field_flag
    from locornn.configs.domains import path_flag

    p = subparsers.add_parser(
        "orientation", help="orientation selectivity and maps (Figure 2) of a LocoRNN run",
        description="Show static gratings to a trained LocoRNN run (or, with --untrained, to "
                    "its initial parameters) and write orientation_map.png, "
                    "orientation_histogram.png, selectivity.json and orientation_maps.npz "
                    "into RUN_DIR (*_untrained.* with --untrained).")
    p.add_argument("run_dir", type=path_flag(),
                   help="a run directory (with config.json and checkpoints)")
    p.add_argument("--untrained", action="store_true",
                   help="freshly initialised parameters from the run's seed (the control)")
    p.add_argument("--wavelength", type=field_flag("analysis.wavelength"), default=None,
                   help="grating wavelength in pixels (default: the middle of the run's "
                        "data.wavelength_min..max)")
    p.add_argument("--threshold", type=field_flag("analysis.threshold"), default=0.65,
                   help="selective when the largest Cohen's d is at least this (default 0.65)")
    p.add_argument("--length", type=field_flag("analysis.length"), default=30,
                   help="frames per stimulus (default 30)")
    p.add_argument("--transient", type=field_flag("analysis.transient"), default=10,
                   help="leading steps left out of the time average (default 10)")
    p.add_argument("--protocol", choices=protocols_.PROTOCOLS,
                   default=protocols_.DEFAULT_PROTOCOL,
                   help="the selectivity protocol of the map (all are measured and reported; "
                        f"default {protocols_.DEFAULT_PROTOCOL}, see docs/orientation.md)")
    p.add_argument("--trials", type=field_flag("analysis.trials"), default=16,
                   help="noisy presentations of each grating for protocol 'trials' "
                        "(0: not measured; default 16)")
    p.add_argument("--noise", type=field_flag("analysis.noise"), default=0.5,
                   help="pixel noise standard deviation of those presentations (default 0.5, "
                        "the grating's amplitude)")
    p.set_defaults(func=_command)
