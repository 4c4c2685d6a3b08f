r"""The recurrence written the way the reference code writes it, in PyTorch eager mode.

The authors' model (akandykeller/NeuralWaveMachines) steps its oscillators in a Python loop over
time; each step pads the lattice circularly and calls ``conv2d`` once per coupling (``nn.Conv2d``
with ``padding_mode="circular"`` does exactly that), then applies eq. 2 elementwise:

.. math::
    v_{t+1} = v_t + \Delta t\,(\tanh(K_z * z_t + K_v * v_t + d_{t+1} + b)
              - \gamma z_t - \alpha v_t), \qquad z_{t+1} = z_t + \Delta t\, v_{t+1}

``bench_dynamics.py`` times this cell beside ``locornn.dynamics.rollout`` on the same sizes and the
same loss (the sum of all positions). PyTorch is an optional extra (``pip install -e '.[bench]'``);
nothing else in locornn imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812


def _circular_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Circularly padded 'same' convolution, NCHW, kernel (Cout, Cin, k, k)."""
    radius = kernel.shape[-1] // 2
    return F.conv2d(F.pad(x, (radius, radius, radius, radius), mode="circular"), kernel)


def reference_rollout(kz, kv, bias, dt, gamma, alpha, drives):
    """Positions after each step, (T, B, C, H, W), from drives (T, B, C, H, W); z0 = v0 = 0."""
    z = torch.zeros_like(drives[0])
    v = torch.zeros_like(drives[0])
    positions = []
    for drive in drives:  # the reference's Python loop over time
        force = torch.tanh(_circular_conv(z, kz) + _circular_conv(v, kv) + drive + bias)
        v = v + dt * (force - gamma * z - alpha * v)
        z = z + dt * v
        positions.append(z)
    return torch.stack(positions)


def reference_inputs(lattice, steps, batch, kernel, seed, requires_grad=False):
    """The draws of ``bench_dynamics.make_inputs`` (same generator and order), in NCHW/OIHW."""
    height, width, channels = lattice
    rng = np.random.default_rng(seed)
    shape = (kernel, kernel, channels, channels)  # HWIO, as drawn on the JAX side

    def tensor(array):
        return torch.tensor(np.asarray(array, np.float32), requires_grad=requires_grad)

    kz, kv = (tensor((0.1 * rng.standard_normal(shape)).transpose(3, 2, 0, 1))
              for _ in range(2))
    drives = rng.standard_normal((steps, batch, height, width, channels))
    drives = tensor(drives.astype(np.float32).transpose(0, 1, 4, 2, 3))
    bias = tensor(np.zeros((1, channels, 1, 1)))
    dt, gamma, alpha = (tensor(x) for x in (1 / (1 + np.exp(1.95)), 1.0, 0.5))
    return kz, kv, bias, dt, gamma, alpha, drives


def time_reference(lattice, steps: int, batch: int, kernel: int = 3, repeats: int = 3,
                   seed: int = 0) -> dict:
    """Best-of-``repeats`` seconds of one forward call and one forward+backward call.

    Forward runs under ``torch.no_grad()`` (its fastest); forward+backward differentiates the
    same loss with respect to the kernels, bias, constants and drives, as the JAX side does.
    """
    torch.set_num_threads(os.cpu_count() or 1)

    def best(fn):
        fn()  # warm-up (allocator, oneDNN primitive cache)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    frozen = reference_inputs(lattice, steps, batch, kernel, seed)
    leaves = reference_inputs(lattice, steps, batch, kernel, seed, requires_grad=True)

    def forward():
        with torch.no_grad():
            reference_rollout(*frozen).sum().item()

    def forward_backward():
        for leaf in leaves:
            leaf.grad = None
        reference_rollout(*leaves).sum().backward()

    return dict(fwd_s=best(forward), fwd_bwd_s=best(forward_backward),
                threads=torch.get_num_threads(), version=torch.__version__)


def main() -> None:
    """``python torch_reference.py H W C STEPS BATCH KERNEL REPEATS``: one JSON line.

    ``bench_dynamics`` runs each PyTorch measurement in its own process: PyTorch's OpenMP
    threads keep spinning after a call and would slow the next JAX measurement (seen: +60%).
    """
    parser = argparse.ArgumentParser()
    for name in ("height", "width", "channels", "steps", "batch", "kernel", "repeats"):
        parser.add_argument(name, type=int)
    args = parser.parse_args()
    result = time_reference((args.height, args.width, args.channels), args.steps, args.batch,
                            args.kernel, args.repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
