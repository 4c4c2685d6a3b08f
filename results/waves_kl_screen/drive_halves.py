"""Where does the KL-0.5 run's orientation tuning live, and where is it lost with training?

For each run, protocol ``trials``' two halves (``locornn.analysis.topography.protocols.
trials_tuning_and_noise``) and its selective share, measured twice on the same noisy gratings
as ``locornn analyze orientation RUN --length 100 --transient 20``:

* ``drive``: the input to the lattice, ``K_x * f(x)`` (the encoder's mean, then the drive
  kernel), one static frame, no dynamics;
* ``lattice``: the time-averaged state ``z`` (frames 20-99 of a static sequence), the
  numbers ``selectivity.json`` reports.

Usage: python results/waves_kl_screen/drive_halves.py NAME=RUN_DIR ... > drive_halves.md
"""

import sys

import jax.numpy as jnp
import numpy as np

from locornn.analysis.topography import orientation, protocols, responses, selectivity
from locornn.checkpoints import load_run


def drive_respond(model, params, channels):
    def respond(images):  # (n, h, w) -> (n, 1, N): the drive of one static frame
        x = np.repeat(np.asarray(images, np.float32)[:, None, ..., None], channels, axis=-1)
        drive = model.apply({"params": params}, jnp.asarray(x), method=model.drives)
        return np.asarray(drive)[0].reshape(len(images), 1, -1)
    return respond


def row(name, run_dir):
    config, task, state = load_run(run_dir)
    model, params = task.model, state.params
    size, channels = model.image_shape[0], model.image_shape[-1]
    wavelength = orientation.default_wavelength(config)
    stimuli = protocols.grating_stimuli(size, wavelength=wavelength, trials=16, noise=0.5,
                                        seed=0)
    stages = {  # the same gratings and noise draws for both (protocol_responses' own stimuli)
        "drive": protocols.measure_responses(drive_respond(model, params, channels), stimuli,
                                             batch=32),
        "lattice": grating_protocol_responses(model, params, wavelength=wavelength,
                                                  length=100, transient=20, trials=16,
                                                  noise=0.5, seed=0)}
    out = []
    for responses in stages.values():
        tuning, noise = protocols.trials_tuning_and_noise(responses)
        d = protocols.protocol_d("trials", responses)
        selective = selectivity.preferred(d, config.analysis.threshold)[1].mean()
        out.append(f"{np.median(tuning):.3g} | {np.median(noise):.3g} | "
                   f"{np.median(tuning / noise):.2f} | {selective:.2f}")
    return f"| {name} | {int(state.step)} | " + " | ".join(out) + " |"


def main(argv):
    print("| run | step | drive tuning | drive noise | drive ratio | drive selective "
          "| lattice tuning | lattice noise | lattice ratio | lattice selective |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for item in argv:
        name, run_dir = item.split("=", 1)
        print(row(name, run_dir), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
