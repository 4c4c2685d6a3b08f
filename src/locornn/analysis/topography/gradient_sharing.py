r"""Do neighbouring sites receive the same error signal? ``locornn analyze gradient-sharing``.

One proposed route to orientation domains: where neighbouring oscillators move in phase (a
wave passing), the loss sends them the same error, so their encoder weights change alike and
come to read the image alike. This module measures the premise directly: the correlation of
neighbouring sites' encoder-weight gradients on a batch.

Site ``s`` owns the encoder weights that write its features: a column of the MLP encoder's
kernel (every pixel -> site ``s``), or its own filter in the retinotopic encoder. With
``g_s`` the gradient of the run's training loss on one batch with respect to those weights,

.. math:: \rho_{\text{neighbour}} = \operatorname{mean}_{s \sim s'}
          \operatorname{corr}(g_s, g_{s'}),

over 4-neighbour pairs (wrapping around on a circular lattice), against the same mean over
pairs half the lattice apart (``rho_distant``); ``excess = rho_neighbour - rho_distant`` is
what nearness adds. :func:`gradient_sharing_report` measures it on batches of the run's own
sequences and on i.i.d. uniform noise of the same shape, for the trained network or its
untrained start: shared gradients after waves but not after noise would support the route.
"""

from __future__ import annotations

import json
import pathlib
import sys

import jax
import numpy as np

__all__ = ["add_command", "gradient_sharing_report", "neighbour_correlation", "site_gradients"]

ENCODERS = ("mlp", "retinotopic")


def site_gradients(kernel_gradient, encoder: str, lattice_shape) -> np.ndarray:
    """The encoder kernel's gradient as ``(H, W, C, P)``: each site's ``P`` weights.

    Args:
      kernel_gradient: the gradient of ``encoder/project/kernel``: ``(pixels, H*W*C)`` for the
        MLP encoder, ``(H, W, k*k*c, C)`` for the retinotopic one (``flax.linen.ConvLocal``).
      encoder: ``"mlp"`` or ``"retinotopic"``.
      lattice_shape: ``(H, W, C)``.
    """
    g = np.asarray(kernel_gradient, np.float64)
    height, width, channels = lattice_shape
    if encoder == "mlp":
        return g.T.reshape(height, width, channels, -1)
    if encoder == "retinotopic":
        return g.transpose(0, 1, 3, 2).reshape(height, width, channels, -1)
    raise ValueError(f"gradient sharing is measured for the {ENCODERS} encoders, whose weights "
                     f"belong to sites; got {encoder!r}")


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    norm = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(-1) / np.where(norm > 0, norm, 1.0), np.nan)


def neighbour_correlation(gradients, circular: bool = True) -> dict:
    """``{"neighbour", "distant", "excess"}`` of ``(H, W, C, P)`` site gradients (module
    docstring); channels are separate maps."""
    g = np.asarray(gradients, np.float64)
    if g.ndim != 4:
        raise ValueError(f"expected site gradients (H, W, C, P), got shape {g.shape}")
    height, width = g.shape[:2]
    if circular:
        pairs = [_correlations(g, np.roll(g, 1, axis)) for axis in (0, 1)]
    else:
        pairs = [_correlations(g[1:], g[:-1]), _correlations(g[:, 1:], g[:, :-1])]
    neighbour = float(np.nanmean(np.concatenate([p.ravel() for p in pairs])))
    distant = float(np.nanmean(_correlations(g, np.roll(g, (height // 2, width // 2), (0, 1)))))
    return {"neighbour": neighbour, "distant": distant, "excess": neighbour - distant}


def gradient_sharing_report(run_dir, *, untrained: bool = False, batches: int = 4,
                            seed: int = 0) -> dict:
    """Gradient sharing of a LocoRNN run on its own sequences and on noise; writes
    ``gradient_sharing.json`` (``_untrained``).

    Returns:
      ``{"run_dir", "state", "step", "encoder", "batches", "data": {...}, "noise": {...}}``
      with :func:`neighbour_correlation`'s numbers averaged over ``batches`` batches each.
    """
    from locornn.analysis.waves.report import _load
    from locornn.checkpoints import read_config

    run_dir = pathlib.Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json)")
    written = read_config(run_dir)
    if written.model.kind != "locornn" or written.data.name == "hamiltonian":
        raise ValueError(f"{run_dir}: gradient sharing is measured for LocoRNN sequence runs "
                         f"(lattice sites with encoder weights of their own)")
    if written.model.encoder not in ENCODERS:
        raise ValueError(f"{run_dir} has model.encoder = {written.model.encoder!r}; gradient "
                         f"sharing is measured for {ENCODERS}")
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    config, task, params, step = _load(run_dir, untrained)
    lattice_shape = (config.model.lattice, config.model.lattice, config.model.channels)
    circular = config.model.padding == "circular"
    gradient = jax.jit(jax.grad(task.loss))
    rng = np.random.default_rng(seed)

    def measure(batch):
        g = gradient(params, batch)["encoder"]["project"]["kernel"]
        return neighbour_correlation(site_gradients(g, config.model.encoder, lattice_shape),
                                     circular)

    report = {"run_dir": str(run_dir), "state": "untrained" if untrained else "trained",
              "step": step, "encoder": config.model.encoder, "batches": batches}
    for name in ("data", "noise"):
        rows = []
        for i in range(batches):
            batch = np.asarray(task.train_batch(i), np.float32)
            if name == "noise":
                batch = rng.uniform(size=batch.shape).astype(np.float32)
            rows.append(measure(batch))
        report[name] = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    out = run_dir / f"gradient_sharing{'_untrained' if untrained else ''}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    return {**report, "file": str(out)}


def _command(args) -> int:
    try:
        report = gradient_sharing_report(args.run_dir, untrained=args.untrained,
                                         batches=args.batches)
    except (FileNotFoundError, ValueError) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    for name in ("data", "noise"):
        r = report[name]
        print(f"{report['state']}, {name} batches: neighbours' encoder gradients correlate "
              f"{r['neighbour']:.3f} (sites half the lattice apart {r['distant']:.3f}, excess "
              f"{r['excess']:.3f})")
    print(f"wrote {report['file']}")
    return 0


def add_command(subparsers) -> None:
    """Register ``gradient-sharing`` under ``locornn analyze``."""
    from locornn.configs.domains import at_least, flag, path_flag

    p = subparsers.add_parser(
        "gradient-sharing",
        help="how alike neighbouring sites' encoder gradients are, on the run's data and noise",
        description="Correlation of neighbouring lattice sites' encoder-weight gradients of the "
                    "training loss (MLP or retinotopic encoder), on batches of the run's own "
                    "sequences and of noise; writes gradient_sharing.json into RUN_DIR.")
    p.add_argument("run_dir", type=path_flag("dir"), help="a LocoRNN sequence run directory")
    p.add_argument("--untrained", action="store_true", help="the run's initial parameters")
    p.add_argument("--batches", type=flag(at_least(1)), default=4,
                   help="batches of each kind (default 4)")
    p.set_defaults(func=_command)
