"""Figure 2's recipe screen: which objective, coupling or stimulus makes the lattice interact.

Every sine-wave lattice trained at the orientation presets is driven to a damped, nearly local
point (``docs/results/figure2.md``): a drifting grating is a pure temporal oscillation at every
pixel, so a dense encoder and uncoupled damped oscillators forecast it, and nothing in the
objective asks neighbours to interact. Each recipe here is a set of config fields that removes
one way of doing without the coupling (:data:`RECIPES`, each with the hypothesis it tests), run
on top of the ``orientation`` experiment at a preset, at a screening budget, on several seeds,
with the controls (noise-trained, untrained) where asked.

For every run (``runs_root/figure2_screen/<recipe>/<data>/<size>/<seed>``) the screen trains it
(or reuses it), then measures what decides the hypothesis and writes one row per run and state
to ``sweep.csv`` (rows of other runs already there are kept; a run's rows are replaced):

* the orientation map under ``protocol`` (:mod:`locornn.analysis.topography.orientation`;
  every protocol is measured after training): neighbour agreement, its chance level, the
  median over selective sites of the area of the domain a site lies in (the median counterpart
  of the authors' area-weighted mean, :func:`domain_area_median`) and the fraction selective,
  and the same
  for the ``phases`` protocol (Figure 2's);
* the lattice's reach within a training sequence and its static spread over a presentation
  (:mod:`locornn.analysis.lattice.reach`);
* how much the orientation and phase maps share their domains
  (:mod:`locornn.analysis.topography.map_match`);
* the held-out error over the mean frame's (1: nothing learned), on the run's own objective
  (with ``train.free_frames``, the free-running frames count);
* how much more alike neighbouring sites' encoder gradients are than distant ones', on batches
  of the run's data and of noise (:mod:`locornn.analysis.topography.gradient_sharing`).
"""

from __future__ import annotations

import csv
import math
import pathlib
import subprocess

import numpy as np

from locornn import configs
from locornn.reproduce.runs import ensure_trained, say

# Each site reads and writes its own patch: nothing but the coupling moves a pattern.
_RETINOTOPIC = {"model.encoder": "retinotopic", "model.decoder": "retinotopic",
                "model.receptive_field": 3}
# The last half of each training sequence runs with the drive withheld (10 of the presets' 20
# frames; screen_config sets half of the preset's sequence length).
_FREE = {"train.free_frames": 10}
# K_z starts as a wave equation (0.5 sites a step) and the constants cannot damp it away:
# dt, gamma and alpha fixed (gamma 0: no local restoring force; alpha 0.02: nearly undamped),
# and K_v's taps sum to zero, so it can move velocity between sites but not damp it.
_WAVE = {"model.coupling_init": "wave", "model.wave_speed": 0.5,
         "model.learn_constants": False, "model.dt": 0.5, "model.gamma": 0.0,
         "model.alpha": 0.02, "model.velocity_kernel_sum": "zero"}
# Gratings that drift at the wave lattice's own speed (no period range).
_ONE_SPEED = {"data.period_min": 0.0, "data.period_max": 0.0, "data.speed_min": 0.5,
              "data.speed_max": 0.5}
# Fronts that start and die, slow enough for a 0.5-site-a-step lattice to carry.
_RETINAL = {"data.name": "retinal", "data.speed_min": 0.25, "data.speed_max": 0.75}

# name -> (hypothesis, fields). The hypothesis says what the recipe removes and which number
# would falsify it (docs/results/figure2.md has the verdicts).
RECIPES: dict[str, tuple[str, dict]] = {
    "dense": ("the orientation preset as it is (dense MLP encoder and decoder): the baseline",
              {}),
    "retinotopic": ("each site reads and writes its own 3x3 patch, so a moving grating must be "
                    "moved by the coupling; falsified if reach stays < 3 sites", _RETINOTOPIC),
    "free": ("retinotopic, and the last 10 of 20 frames forecast with the drive withheld: the "
             "lattice must run the waves on alone; falsified if reach stays < 3 sites",
             {**_RETINOTOPIC, **_FREE}),
    "free_wave": ("free, with K_z started as a wave equation and the damping fixed near 0 "
                  "(K_v cannot damp on the whole); falsified if reach falls below 3 sites or "
                  "the waves are not learned (error > 0.1 of the mean frame's)",
                  {**_RETINOTOPIC, **_FREE, **_WAVE}),
    "wave_speed": ("free_wave on gratings that all drift at the lattice's 0.5 sites a step "
                   "(periods 10-48 frames), so one wave equation can forecast every sequence; "
                   "falsified as free_wave", {**_RETINOTOPIC, **_FREE, **_WAVE, **_ONE_SPEED}),
    "kept_wave": ("wave_speed with K_z and K_v frozen at the wave equation: the coupling is "
                  "kept by construction, does a map form on it? falsified if the trained map "
                  "is no larger than the untrained lattice's",
                  {**_RETINOTOPIC, **_FREE, **_WAVE, **_ONE_SPEED,
                   "model.freeze_coupling": True}),
    "retinal": ("free_wave trained on travelling fronts that start and die (data.name = "
                "retinal) instead of gratings: no site can forecast its input alone; falsified "
                "as free_wave", {**_RETINOTOPIC, **_FREE, **_WAVE, **_RETINAL}),
}

COLUMNS = ("recipe", "data", "lattice", "wavelength", "kernel", "seed", "steps", "presentation",
           "protocol",
           "agreement", "chance_agreement", "domain_area_median", "domain_area_weighted",
           "fraction_selective", "phases_fraction_selective", "phases_agreement", "reach",
           "static_spread", "phase_map_match", "frame_error", "gradient_sharing",
           "gradient_sharing_noise", "commit")

# what each measured row prints
SAID = ("agreement", "chance_agreement", "domain_area_median", "fraction_selective", "reach",
        "static_spread", "frame_error")


def screen_config(preset: str, recipe: str, *, steps: int, seed: int, lattice: int = 0,
                  wavelength: float = 0.0, kernel: int = 0, noise: bool = False,
                  extra: dict | None = None):
    """The orientation experiment at ``preset`` with ``recipe``'s fields and the screen's size
    (0: the preset's lattice, training wavelength range and kernel)."""
    if recipe not in RECIPES:
        raise configs.ConfigError(f"unknown recipe {recipe!r}; choose from {tuple(RECIPES)}")
    config = configs.experiment_module("orientation").get_config(preset)
    fields = {**RECIPES[recipe][1], "train.num_steps": steps, "seed": seed,
              "analysis.waves": False, "train.probe_sequences": 0,
              "train.eval_every": max(steps // 4, 1), "train.checkpoint_every": max(steps // 4, 1)}
    if "train.free_frames" in fields:
        fields["train.free_frames"] = config.data.sequence_length // 2
    if lattice:
        fields["model.lattice"] = lattice
    if lattice or fields.get("model.decoder") == "retinotopic":  # one pixel a site
        fields["data.image_size"] = lattice or config.model.lattice
    if wavelength:
        fields["data.wavelength_min"] = fields["data.wavelength_max"] = float(wavelength)
    if kernel:
        fields["model.kernel_size"] = kernel
    if noise:
        fields["data.name"] = "noise"
    configs.override(config, {**fields, **(extra or {})})
    configs.validate(config)
    return config


def run_dir(runs_root, config, recipe: str, noise: bool) -> pathlib.Path:
    """``runs_root/figure2_screen/<recipe>/<data>/L<lattice>_k<kernel>_w<wavelengths>/<seed>``."""
    d = config.data
    waves = (f"{d.wavelength_min:g}" if d.wavelength_min == d.wavelength_max
             else f"{d.wavelength_min:g}-{d.wavelength_max:g}")
    size = f"L{config.model.lattice}_k{config.model.kernel_size}_w{waves}"
    data = "noise" if noise else config.data.name
    return pathlib.Path(runs_root) / "figure2_screen" / recipe / data / size / str(config.seed)


def domain_area_median(labels, selective) -> float:
    """Median over selective sites of the area of the (4-connected, same-label) domain each lies
    in; NaN without a selective site."""
    from scipy import ndimage

    labels, selective = np.asarray(labels), np.asarray(selective, bool)
    if not selective.any():
        return float("nan")
    per_site = np.zeros(labels.shape)
    for value in np.unique(labels[selective]):
        components, count = ndimage.label(selective & (labels == value))
        sizes = np.bincount(components.ravel())
        inside = components > 0
        per_site[inside] = sizes[components[inside]]
    return float(np.median(per_site[selective]))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True,
                              cwd=pathlib.Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def measure(workdir, config, *, untrained: bool, protocol: str) -> dict:
    """One row's numbers (module docstring) for a finished run or its untrained network."""
    import json

    from locornn.analysis.lattice import reach
    from locornn.analysis.topography import (
        domains,
        gradient_sharing,
        map_match,
        orientation,
    )
    from locornn.reproduce.sequence_ablation import mean_frame_mse

    workdir = pathlib.Path(workdir)
    paths = orientation.output_paths(workdir, untrained)
    if not paths["maps"].is_file():  # the analysis after training makes both states' maps
        orientation.run_analysis(workdir, untrained=untrained,
                                 **_orientation_options(config))
    selectivity = json.loads(paths["json"].read_text())
    numbers = selectivity["protocols"][protocol] or {}
    phases = selectivity["protocols"].get("phases") or {}
    with np.load(paths["maps"]) as f:
        labels, selective = f[f"preferred_{protocol}"], f[f"selective_{protocol}"]
    areas = [domains.domain_statistics(labels[..., c], selective[..., c])["domain_area"]
             for c in range(labels.shape[-1])]
    spread = reach.reach_report(workdir, untrained=untrained)
    match = map_match.run_match(workdir, untrained=untrained, protocol=protocol)
    sharing = gradient_sharing.gradient_sharing_report(workdir, untrained=untrained)
    error = math.nan
    if not untrained:
        summary = json.loads((workdir / "summary.json").read_text())
        error = summary["test"]["mse"] / mean_frame_mse(config)
    return {"protocol": protocol, "agreement": numbers.get("neighbour_agreement"),
            "chance_agreement": numbers.get("chance_agreement"),
            "domain_area_median": float(np.nanmedian([domain_area_median(
                labels[..., c], selective[..., c]) for c in range(labels.shape[-1])])),
            "domain_area_weighted": float(np.nanmean(areas)),
            "fraction_selective": numbers.get("fraction_selective"),
            "phases_fraction_selective": phases.get("fraction_selective"),
            "phases_agreement": phases.get("neighbour_agreement"),
            "reach": spread["reach_training"], "static_spread": spread["static_spread"],
            "phase_map_match": match["excess"], "frame_error": error,
            "gradient_sharing": sharing["data"]["excess"],
            "gradient_sharing_noise": sharing["noise"]["excess"]}


def _orientation_options(config) -> dict:
    from locornn.analysis.after_training import orientation_options

    return orientation_options(config)


def _key(row: dict) -> tuple:
    return tuple(str(row.get(k, "")) for k in ("recipe", "data", "lattice", "wavelength",
                                               "kernel", "seed", "steps", "presentation"))


def presentation_variant(workdir, config, length: int):
    """``(directory, config)`` of a finished run read out with static gratings shown for
    ``length`` frames (the first 20 left out of the average): a copy of the run's config,
    summary and checkpoints under ``workdir/presentation_<length>`` with those analysis fields,
    so the run's own analyses stay as they are. Made once, then reused."""
    import json
    import shutil

    variant = pathlib.Path(workdir) / f"presentation_{length}"
    fields = {"analysis.length": int(length), "analysis.transient": min(20, int(length) - 1)}
    config = configs.override(configs.from_dict(config.to_dict()), fields)
    configs.validate(config)
    if not (variant / "summary.json").is_file():
        variant.mkdir(exist_ok=True)
        shutil.copytree(pathlib.Path(workdir) / "checkpoints", variant / "checkpoints",
                        dirs_exist_ok=True)
        for name in ("data.json", "metrics.jsonl"):
            if (pathlib.Path(workdir) / name).is_file():
                shutil.copy2(pathlib.Path(workdir) / name, variant / name)
        (variant / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        shutil.copy2(pathlib.Path(workdir) / "summary.json", variant / "summary.json")
    return variant, config


def write_rows(path, rows: list[dict]) -> pathlib.Path:
    """Merge ``rows`` into the CSV at ``path`` (same run and state: replaced; others kept).
    ``reproduce figure2-screen`` also writes the CSV as a Markdown table beside it
    (:func:`sweep_table`)."""
    import fcntl

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # two screens writing one table (another seed, a sweep) must not drop each other's rows:
    # the file itself is locked while it is read, merged and rewritten
    with path.open("a+", newline="") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        kept = list(csv.DictReader(f))
        fresh = {_key(r) for r in rows}
        merged = [r for r in kept if _key(r) not in fresh] + rows
        f.seek(0)
        f.truncate()
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in merged:
            writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})
    return path


# the columns of sweep.md, with their headers
TABLE = (("recipe", "recipe"), ("data", "data"), ("lattice", "L"), ("wavelength", "lambda"),
         ("kernel", "k"), ("seed", "seed"), ("steps", "steps"), ("presentation", "frames"),
         ("agreement", "agreement"), ("chance_agreement", "chance"),
         ("domain_area_median", "domain (median)"), ("fraction_selective", "selective"),
         ("phases_fraction_selective", "phases: selective"), ("reach", "reach"),
         ("static_spread", "static spread"), ("phase_map_match", "phase match"),
         ("frame_error", "error / mean frame"), ("gradient_sharing", "grad. sharing"),
         ("gradient_sharing_noise", "grad. sharing (noise)"))


def sweep_table(path) -> str:
    """``sweep.csv`` as a Markdown table (rows in the file's order, the main columns)."""
    with pathlib.Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    lines = ["| " + " | ".join(h for _, h in TABLE) + " |",
             "|" + "|".join("---" if i < 8 else "---:" for i in range(len(TABLE))) + "|"]
    lines += ["| " + " | ".join(row.get(k, "") or "-" for k, _ in TABLE) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def maps_path(out) -> pathlib.Path:
    """``sweep_maps.npz`` beside ``sweep.csv``: the maps behind its rows."""
    out = pathlib.Path(out)
    return out.with_name(f"{out.stem}_maps.npz")


def map_key(row: dict) -> str:
    """A row's maps in ``sweep_maps.npz``: its key fields joined by ``|``, then the array name
    (``...|preferred``, ``...|selective``, ``...|phase``)."""
    return "|".join(_key(row))


def _compact_maps(workdir, untrained: bool, protocol: str) -> dict:
    """The map behind a row, small: preferred orientation index (int8), selective (bool) and
    preferred grating phase (float16), each ``(H, W, C)``, for ``protocol``."""
    from locornn.analysis.topography import orientation

    with np.load(orientation.output_paths(workdir, untrained)["maps"]) as f:
        return {"preferred": f[f"preferred_{protocol}"].astype(np.int8),
                "selective": f[f"selective_{protocol}"].astype(bool),
                "phase": f["preferred_phase"].astype(np.float16)}


def write_maps(path, maps: dict) -> None:
    """Merge ``{row key: {name: array}}`` into the npz at ``path`` (a row's arrays replaced),
    so every number of sweep.csv's orientation columns can be recounted without training."""
    path = pathlib.Path(path)
    arrays = {}
    if path.is_file():
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
    for key, named in maps.items():
        arrays.update({f"{key}|{name}": value for name, value in named.items()})
    if arrays:
        np.savez_compressed(path, **arrays)


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else value


def run_screen(*, preset: str, recipes, seeds, steps: int, lattice: int = 0,
               wavelengths=(0.0,), kernels=(0,), controls: bool = False, presentations=(0,),
               protocol: str = "trials", runs_root="runs", out="results/figure2/sweep.csv",
               train_missing: bool = True, progress: bool = True,
               extra: dict | None = None) -> pathlib.Path:
    """Train (or reuse) every ``recipe x wavelength x kernel x seed`` run, measure it and its
    untrained network (and with ``controls`` the same recipe trained on noise), read out with
    each presentation length (0: the preset's ``analysis.length``; others by
    :func:`presentation_variant`), and merge the rows into ``out``. Every config is built and
    validated before anything is trained."""
    plan = []
    for recipe in recipes:
        for wavelength in wavelengths:
            for kernel in kernels:
                for seed in seeds:
                    for noise in ((False, True) if controls else (False,)):
                        config = screen_config(preset, recipe, steps=steps, seed=seed,
                                               lattice=lattice, wavelength=wavelength,
                                               kernel=kernel, noise=noise, extra=extra)
                        plan.append((recipe, noise, config))
    commit = _commit()
    out_path = pathlib.Path(out)
    maps = {}
    for recipe, noise, config in plan:
        workdir = run_dir(runs_root, config, recipe, noise)
        label = f"{recipe} ({'noise' if noise else config.data.name}, seed {config.seed})"
        if ensure_trained(label, config, workdir, train_missing, progress) is None:
            continue
        d = config.data
        base = {"recipe": recipe, "lattice": config.model.lattice,
                "wavelength": (f"{d.wavelength_min:g}" if d.wavelength_min == d.wavelength_max
                               else f"{d.wavelength_min:g}-{d.wavelength_max:g}"),
                "kernel": config.model.kernel_size, "seed": config.seed,
                "steps": config.train.num_steps, "commit": commit}
        states = [(("noise" if noise else config.data.name), False)]
        if not noise:
            states.append(("untrained", True))
        rows = []
        for length in presentations:
            where, read_out = ((workdir, config) if not length
                               else presentation_variant(workdir, config, length))
            for data, untrained in states:
                row = {**base, "data": data, "presentation": read_out.analysis.length,
                       **measure(where, read_out, untrained=untrained, protocol=protocol)}
                if untrained:
                    row["steps"] = 0
                rows.append(row)
                maps[map_key(row)] = _compact_maps(where, untrained, protocol)
                say(f"{label} [{data}, {row['presentation']} frames]: "
                    + ", ".join(f"{k} {_cell(row[k])}" for k in SAID))
        write_rows(out_path, rows)
        write_maps(maps_path(out_path), maps)
    if out_path.is_file():
        out_path.with_suffix(".md").write_text(sweep_table(out_path))
    return out_path


SWEEP_WAVELENGTHS, SWEEP_KERNELS = (5.0, 10.0, 16.0, 24.0), (3, 5, 7, 9)
SWEEP_PICTURE = "OC_Size_v_WL_v_Ksize.png"  # the authors' sweep, 8 panels of 72x72 sites
PHASE_PICTURE = "OrientationSelectivity_vs_Phase.png"  # their orientation map beside a phase map


def authors_rows(folder) -> list[dict]:
    """sweep.csv rows of the authors' own maps, measured by this module's code from their
    pictures in ``folder``: one row per panel of :data:`SWEEP_PICTURE` (the wavelength row at
    3x3 kernels, the kernel row at 24 px) and one for the map of :data:`PHASE_PICTURE` with its
    phase match. Their training (steps, seeds) is not published: those cells stay empty."""
    from locornn.analysis.topography import domains, map_match

    folder = pathlib.Path(folder)
    missing = [n for n in (SWEEP_PICTURE, PHASE_PICTURE) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"no {', '.join(missing)} in {folder} (the authors' figures, "
                                f"e.g. ../shared/reference/)")

    def row(labels, selective, wavelength, kernel, **extra):
        stats = domains.domain_statistics(labels, selective)
        return {"recipe": "authors", "data": "waves", "lattice": labels.shape[0],
                "wavelength": f"{wavelength:g}", "kernel": kernel, "protocol": "picture",
                "agreement": stats["neighbour_agreement"],
                "chance_agreement": stats["chance_agreement"],
                "domain_area_median": domain_area_median(labels, selective),
                "domain_area_weighted": stats["domain_area"],
                "fraction_selective": stats["fraction_selective"], "commit": _commit(),
                **extra}

    rows = []
    panels = domains.read_figure_maps(folder / SWEEP_PICTURE)
    keys = domains.AUTHORS_PANELS
    for (which, value), (labels, selective) in zip(keys, panels, strict=True):
        if which == "kernel" and value == 3:
            continue  # the same map as the wavelength-24 panel
        wavelength, kernel = (value, 3) if which == "wavelength" else (24.0, value)
        rows.append(row(labels, selective, wavelength, kernel))
    labels, selective, phase = map_match.maps_from_picture(folder / PHASE_PICTURE)
    match = map_match.map_match(labels, selective, phase)
    rows.append(row(labels, selective, 24.0, 3, data="waves (beside phase)",
                    phase_map_match=match["excess"]))
    return rows


def draw_figures(*, preset: str, recipe: str, steps: int, seed: int, lattice: int = 0,
                 protocol: str = "trials", runs_root="runs", out_dir="results/figure2") -> list:
    """Figure 2 for one recipe from its finished runs, in the authors' layout: the maps after
    the recipe's data, after noise and untrained side by side (``figure2_<recipe>_L<lattice>.png``),
    and the sweep (``figure2_sweep_<recipe>_L<lattice>.png``: training wavelength 5-24 px at 3x3
    kernels,
    kernel 3-9 at 24 px), each panel with its numbers and the authors' (their
    ``OC_Size_v_WL_v_Ksize.png``, measured by the same code). Runs that are missing are left
    out; returns the paths written."""
    from locornn.analysis.topography import map_figures, orientation
    from locornn.analysis.topography.domains import AUTHORS_NUMBERS

    def runs(noise=False, **size):
        try:
            config = screen_config(preset, recipe, steps=steps, seed=seed, lattice=lattice,
                                   noise=noise, **size)
        except configs.ConfigError:  # a size this lattice cannot take (a kernel larger than it)
            return None
        workdir = run_dir(runs_root, config, recipe, noise)
        return workdir if orientation.output_paths(workdir)["maps"].is_file() else None

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    side = screen_config(preset, recipe, steps=steps, seed=seed, lattice=lattice).model.lattice
    name = f"{recipe}_L{side}"
    written = []
    main, noise = runs(), runs(noise=True)
    panels = {}
    if main is not None:
        panels[f"trained ({recipe})"] = orientation.load_maps(main, protocol=protocol)
    if noise is not None:
        panels["trained on noise"] = orientation.load_maps(noise, protocol=protocol)
    if main is not None:
        panels["untrained"] = orientation.load_maps(main, untrained=True, protocol=protocol)
    if panels:
        written.append(out_dir / f"figure2_{name}.png")
        map_figures.side_by_side(panels, written[-1], title=f"{recipe}, seed {seed}, {steps} "
                                                            f"steps, protocol {protocol}")
    sweep = {}
    for key, size in ([(("wavelength", w), {"wavelength": w, "kernel": 3})
                       for w in SWEEP_WAVELENGTHS]
                      + [(("kernel", k), {"wavelength": 24.0, "kernel": k})
                         for k in SWEEP_KERNELS]):
        found = runs(**size)
        if found is not None:
            sweep[key] = orientation.load_maps(found, protocol=protocol)
    if sweep:
        written.append(out_dir / f"figure2_sweep_{name}.png")
        map_figures.sweep_figure(sweep, written[-1], reference=AUTHORS_NUMBERS,
                                 title=f"{recipe}: domains against the training wavelength "
                                       f"and the kernel size (protocol {protocol}; under each "
                                       f"panel the authors' numbers)")
    return written


def add_arguments(q) -> None:
    """``locornn reproduce figure2-screen``'s arguments."""
    from locornn.configs import field_flag
    from locornn.configs.domains import Range, flag, path_flag

    q.description = ("Train (or reuse) Figure 2's screening recipes (" + "; ".join(
        f"{k}: {v[0]}" for k, v in RECIPES.items()) + ") on the orientation experiment, "
        "measure each run and its untrained network (orientation map, reach, static spread, "
        "orientation-vs-phase match, held-out error) and merge one row per run into OUT.")
    q.add_argument("--preset", default="cpu", choices=configs.PRESETS,
                   help="the orientation preset the recipes start from (default cpu)")
    q.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES),
                   metavar="RECIPE", help="default: all")
    q.add_argument("--seeds", type=field_flag("seed"), nargs="+", default=[0, 1], metavar="SEED",
                   help="training seeds (default 0 1)")
    q.add_argument("--train-steps", type=field_flag("train.num_steps"), default=2000, metavar="N",
                   help="training steps of each run (default 2000)")
    q.add_argument("--lattice", type=field_flag("model.lattice"), default=None, metavar="L",
                   help="lattice side, and image side (default: the preset's)")
    q.add_argument("--wavelengths", type=field_flag("data.wavelength_min"), nargs="*",
                   default=[], metavar="PX",
                   help="one training wavelength per run (none: the preset's range)")
    q.add_argument("--kernel-sizes", type=field_flag("model.kernel_size"), nargs="*",
                   default=[], metavar="K",
                   help="coupling kernel sizes (none: the preset's)")
    q.add_argument("--presentations", type=flag(Range(low=2, also=(0,))), nargs="+",
                   default=[0], metavar="FRAMES",
                   help="static grating presentation lengths of the readout (0: the preset's; "
                        "others read a copy of the finished run, the first 20 frames left out)")
    q.add_argument("--controls", action="store_true",
                   help="also train each run's recipe on noise (the control)")
    q.add_argument("--protocol", default="trials", choices=("phases", "trials", "amplitude"),
                   help="the selectivity protocol of the main columns (default trials; the "
                        "phases protocol has its own columns)")
    q.add_argument("--out", default="results/figure2/sweep.csv", metavar="CSV",
                   type=path_flag(folder=None), help="the table (default "
                                                      "results/figure2/sweep.csv)")
    q.add_argument("--authors", type=path_flag("dir"), default=None, metavar="DIR",
                   help=f"also measure the authors' {SWEEP_PICTURE} and {PHASE_PICTURE} in DIR "
                        f"with the same code and merge their rows (recipe 'authors')")
    q.add_argument("--draw", action="store_true",
                   help="then draw each recipe's Figure 2 (trained, noise, untrained) and its "
                        "wavelength and kernel sweep from the finished runs, beside OUT")
    q.add_argument("--runs-root", default="runs", metavar="DIR", type=path_flag(),
                   help="where the runs live (default runs)")
    q.add_argument("--no-train", action="store_true", help="measure finished runs only")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=_command)


def _command(args) -> int:
    """``locornn reproduce figure2-screen``: the screen, the authors' rows, the figures."""
    from locornn.exits import guarded

    def action():
        out = run_screen(
            preset=args.preset, recipes=args.recipes, seeds=args.seeds, steps=args.train_steps,
            lattice=args.lattice or 0, wavelengths=args.wavelengths or [0.0],
            kernels=args.kernel_sizes or [0],
            controls=args.controls, presentations=args.presentations, protocol=args.protocol,
            runs_root=args.runs_root, out=args.out, train_missing=not args.no_train,
            progress=not args.quiet)
        if args.authors:
            write_rows(out, authors_rows(args.authors))
            out.with_suffix(".md").write_text(sweep_table(out))
        print(f"wrote {out} and {out.with_suffix('.md')}")
        for recipe in args.recipes if args.draw else ():
            for path in draw_figures(preset=args.preset, recipe=recipe, steps=args.train_steps,
                                     seed=args.seeds[0], lattice=args.lattice or 0,
                                     protocol=args.protocol, runs_root=args.runs_root,
                                     out_dir=out.parent):
                print(f"wrote {path}")

    return guarded(action, ValueError)
