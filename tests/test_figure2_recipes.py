"""Figure 2's recipes in which the lattice has to propagate, and the measures that judge them.

The pieces: a retinotopic decoder (each site draws its own block), free-running frames (the
drive withheld), a wave-equation start for K_z, retinal-wave fronts, the orientation-vs-phase
match, and the screen that writes sweep.csv (the static spread of a held input is specified in
test_reach.py).
"""

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn import cli, configs, dynamics, models
from locornn.analysis.topography import gradient_sharing, map_match
from locornn.data import waves
from locornn.models.codecs import RetinotopicDecoder
from locornn.models.oscillator import wave_kernel
from locornn.reproduce import figure2_screen
from tests.conftest import ROOT, experiment_config

# ---------------------------------------------------------------------------------------------
# The model's pieces
# ---------------------------------------------------------------------------------------------


def test_a_retinotopic_decoder_draws_each_site_only_into_its_own_block():
    decoder = RetinotopicDecoder((8, 8, 1), output="linear")
    state = jnp.zeros((1, 4, 4, 3))
    params = decoder.init(jax.random.PRNGKey(0), state)
    base = decoder.apply(params, state)
    poked = decoder.apply(params, state.at[0, 1, 2, :].set(1.0))
    changed = np.argwhere(np.abs(np.asarray(poked - base))[0, ..., 0] > 0)
    # site (1, 2) of a 4x4 lattice owns pixels rows 2-3, columns 4-5 of the 8x8 image
    assert {tuple(p) for p in changed} == {(2, 4), (2, 5), (3, 4), (3, 5)}
    with pytest.raises(ValueError, match="multiple of the lattice"):
        RetinotopicDecoder((9, 9, 1)).init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 1)))


@pytest.mark.parametrize("kernel_size", [3, 7])
def test_a_wave_kernel_carries_an_impulse_at_its_stated_speed(kernel_size):
    speed, dt, steps, side = 0.5, 0.5, 30, 80
    kernel = wave_kernel((kernel_size, kernel_size, 1, 1), speed, dt)
    assert float(kernel.sum()) == pytest.approx(0.0, abs=1e-6)  # no net force on a flat field
    params = dynamics.OscillatorParams(kernel, jnp.zeros_like(kernel), jnp.zeros(1), dt, 0.0, 0.0)
    drives = jnp.zeros((steps, 1, side, side, 1)).at[0, 0, side // 2, side // 2, 0].set(0.01)
    zs = dynamics.rollout(params, drives)[:, 0, side // 2, :, 0]  # (T, W) along a row
    # the front (the farthest site above a tenth of the row's peak) moves `speed` sites a step
    front = [np.max(np.nonzero(np.abs(z[side // 2:]) > 0.1 * np.abs(z).max())[0])
             for z in np.asarray(zs)]
    velocity = np.polyfit(np.arange(10, steps), front[10:], 1)[0]
    assert velocity == pytest.approx(speed, abs=0.15)
    with pytest.raises(ValueError, match="k >= 3"):
        wave_kernel((1, 1, 1, 1), speed, dt)


def test_free_running_frames_are_forecast_without_reading_them():
    config = experiment_config("waves", model__lattice=8, data__image_size=8)
    model = models.build_model(config.model, (8, 8, 1))
    frames = jax.random.uniform(jax.random.PRNGKey(0), (2, 8, 8, 8, 1))
    params = jax.jit(model.init)(jax.random.PRNGKey(1), frames)["params"]
    other = frames.at[:, 5:].set(0.0)  # the last 3 frames replaced
    # jitted: one compiled program each (op-by-op dispatch compiles every op afresh)
    free_running = jax.jit(lambda p, x: model.apply({"params": p}, x, 3)["prediction"])
    driven_run = jax.jit(lambda p, x: model.apply({"params": p}, x)["prediction"])
    free = [free_running(params, x) for x in (frames, other)]
    driven = [driven_run(params, x) for x in (frames, other)]
    np.testing.assert_array_equal(free[0], free[1])  # the free frames were never read
    assert not np.allclose(driven[0][:, 5:], driven[1][:, 5:])  # but the driven run reads them
    np.testing.assert_allclose(free[0][:, :5], driven[0][:, :5], rtol=1e-6, atol=1e-6)


def test_a_frozen_coupling_gets_no_gradient_and_the_rest_of_the_model_does():
    config = experiment_config("waves", model__lattice=8, data__image_size=8,
                               model__coupling_init="wave", model__freeze_coupling=True)
    model = models.build_model(config.model, (8, 8, 1))
    frames = jax.random.uniform(jax.random.PRNGKey(0), (2, 6, 8, 8, 1))
    params = jax.jit(model.init)(jax.random.PRNGKey(1), frames)["params"]
    np.testing.assert_allclose(params["core"]["position_kernel"],
                               wave_kernel((3, 3, 1, 1), config.model.wave_speed,
                                           config.model.dt))

    def loss(p):
        return jnp.mean((model.apply({"params": p}, frames)["prediction"][:, :-1]
                         - frames[:, 1:]) ** 2)

    grads = jax.jit(jax.grad(loss))(params)  # one compiled program
    assert not np.any(grads["core"]["position_kernel"])
    assert not np.any(grads["core"]["velocity_kernel"])
    assert np.any(grads["core"]["bias"]) and np.any(grads["drive"]["kernel"])


def test_retinal_waves_are_fronts_that_move_at_their_speed_and_die():
    params = waves.sample_front_params(jax.random.PRNGKey(3), 1, 1, 40, 48, speed=(1.0, 1.0),
                                       lifetime=20.0)
    params = params._replace(onset=jnp.full((1, 1), 5.0), origin_row=jnp.full((1, 1), 24.0),
                             origin_col=jnp.full((1, 1), 10.0), direction=jnp.zeros((1, 1)))
    frames = np.asarray(waves.render_fronts(params, 40, 48, 1.5, 6.0, 20.0))[0, ..., 0]
    assert frames.min() >= 0 and frames.max() <= 1
    assert frames[:5].max() == 0 and frames[26:].max() == 0  # dark before onset and after death
    centroid = [(f.sum(0) * np.arange(48)).sum() / f.sum() for f in frames[8:23]]
    assert np.polyfit(np.arange(8, 23), centroid, 1)[0] == pytest.approx(1.0, abs=0.05)
    eager = waves.retinal_waves(jax.random.PRNGKey(1), 6, 10, 16)
    lazy = waves.retinal_waves_on_demand(jax.random.PRNGKey(1), 6, 10, 16)
    np.testing.assert_allclose(lazy[[4, 1]], np.asarray(eager)[[4, 1]], atol=1e-6)
    assert eager.shape == (6, 10, 16, 16, 1) and float(eager.max()) > 0.5


def test_each_recipe_field_refuses_a_bad_value_in_one_line():
    bad = {
        "model.decoder=retinotopic": "retinotopic",  # image 12 on an 8x8 lattice
        "model.wave_speed=0.9": "wave_speed",
        "train.free_frames=7": "free_frames",  # smoke sequences have 8 frames
        "train.free_frames=-1": "free_frames",
        "data.retinal_events=0": "retinal_events",
        "data.retinal_width=nan": "retinal_width",
    }
    for override, name in bad.items():
        with pytest.raises(configs.ConfigError, match=name) as error:
            configs.load("waves:smoke", [f"--config.{override}"])
        assert "\n" not in str(error.value)
    for overrides in (["--config.model.coupling_init=wave", "--config.model.tie_kernels=True"],
                      ["--config.model.coupling_init=wave", "--config.model.kind=cornn"]):
        with pytest.raises(configs.ConfigError, match="'wave'"):
            configs.load("waves:smoke", overrides)
    with pytest.raises(configs.ConfigError, match="free_frames"):
        configs.load("hamiltonian:smoke", ["--config.train.free_frames=2"])


# ---------------------------------------------------------------------------------------------
# The measures
# ---------------------------------------------------------------------------------------------


def test_map_match_is_high_for_maps_that_share_domains_and_at_chance_for_unrelated_ones():
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.integers(0, 8, (16, 16)), np.ones((3, 3), int))  # 48x48, 3x3 domains
    same = map_match.map_match(blocks, None, (blocks + 0.5) * 2 * np.pi / 8)
    assert same["mutual_information"] == pytest.approx(same["orientation_entropy"])
    assert same["excess"] > 0.5 and same["zscore"] > 10
    other = np.kron(rng.integers(0, 8, (16, 16)), np.ones((3, 3), int))
    unrelated = map_match.map_match(blocks, None, (other + 0.5) * 2 * np.pi / 8)
    assert abs(unrelated["excess"]) < 0.15 and abs(unrelated["zscore"]) < 3
    assert map_match.mutual_information([0, 1, 0, 1], [0, 1, 0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one shape"):
        map_match.map_match(blocks, None, np.zeros((3, 3)))


def test_map_match_reads_an_orientation_map_beside_a_phase_map_from_a_picture(tmp_path):
    from matplotlib.colors import hsv_to_rgb
    from PIL import Image

    rng = np.random.default_rng(1)
    labels = np.kron(rng.integers(0, 8, (4, 4)), np.ones((4, 4), int))  # 16x16 sites
    palette = (hsv_to_rgb(np.stack([np.arange(8) / 8, np.full(8, 0.8), np.full(8, 0.8)], 1))
               * 255).astype(np.uint8)
    phase = (labels + 0.5) / 8
    hue = (hsv_to_rgb(np.stack([phase, np.ones_like(phase), np.ones_like(phase)], -1)) * 255)
    canvas = np.full((200, 420, 3), 255, np.uint8)
    canvas[20:180, 20:180] = np.kron(palette[labels], np.ones((10, 10, 1), np.uint8))
    canvas[20:180, 240:400] = np.kron(hue.astype(np.uint8), np.ones((10, 10, 1), np.uint8))
    Image.fromarray(canvas).save(tmp_path / "maps.png")
    read_labels, selective, read_phase = map_match.maps_from_picture(tmp_path / "maps.png",
                                                                     grid=16)
    assert selective.all()
    assert map_match.mutual_information(read_labels, labels) == pytest.approx(
        map_match.mutual_information(labels, labels))
    np.testing.assert_allclose(np.cos(read_phase - 2 * np.pi * phase), 1.0, atol=0.01)


def test_the_median_domain_area_is_the_area_a_typical_selective_site_lies_in():
    labels = np.zeros((4, 4), int)
    labels[:, 3] = 1  # a 12-site domain and a 4-site one
    assert figure2_screen.domain_area_median(labels, np.ones((4, 4), bool)) == 12.0
    assert np.isnan(figure2_screen.domain_area_median(labels, np.zeros((4, 4), bool)))


def test_gradient_sharing_is_one_for_identical_neighbours_and_zero_for_independent_sites():
    rng = np.random.default_rng(0)
    stripes = np.repeat(rng.normal(size=(1, 16, 1, 400)), 16, axis=0)  # columns share one
    same = gradient_sharing.neighbour_correlation(stripes)
    # vertical pairs correlate 1, horizontal ones and distant ones 0
    assert same["neighbour"] == pytest.approx(0.5, abs=0.05) and same["excess"] > 0.4
    independent = gradient_sharing.neighbour_correlation(rng.normal(size=(16, 16, 1, 400)))
    assert abs(independent["neighbour"]) < 0.02 and abs(independent["excess"]) < 0.03
    mlp = rng.normal(size=(30, 4 * 4 * 2))  # (pixels, sites x channels)
    as_sites = gradient_sharing.site_gradients(mlp, "mlp", (4, 4, 2))
    np.testing.assert_array_equal(as_sites[1, 2, 1], mlp[:, (1 * 4 + 2) * 2 + 1])
    local = rng.normal(size=(4, 4, 9, 2))  # flax ConvLocal: (H, W, k*k*c, C)
    as_sites = gradient_sharing.site_gradients(local, "retinotopic", (4, 4, 2))
    np.testing.assert_array_equal(as_sites[3, 0, 1], local[3, 0, :, 1])
    with pytest.raises(ValueError, match="encoders"):
        gradient_sharing.site_gradients(mlp, "conv", (4, 4, 2))


# ---------------------------------------------------------------------------------------------
# The screen
# ---------------------------------------------------------------------------------------------


def test_the_screen_writes_one_row_per_run_and_state_and_keeps_other_rows(tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    with out.open("w", newline="") as f:  # a row of another run, kept
        writer = csv.DictWriter(f, fieldnames=figure2_screen.COLUMNS)
        writer.writeheader()
        writer.writerow({k: "x" for k in figure2_screen.COLUMNS})
    args = ["reproduce", "figure2-screen", "--preset", "smoke", "--recipes", "free_wave",
            "--seeds", "0", "--train-steps", "4", "--runs-root", str(tmp_path / "runs"),
            "--out", str(out), "--quiet"]
    assert cli.main(args) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["data"] for r in rows] == ["x", "waves", "untrained"]
    trained = rows[1]
    assert trained["recipe"] == "free_wave" and trained["steps"] == "4"
    for column in ("agreement", "chance_agreement", "fraction_selective", "reach",
                   "static_spread", "phase_map_match", "frame_error", "gradient_sharing",
                   "gradient_sharing_noise"):
        assert np.isfinite(float(trained[column])), column
    assert float(trained["reach"]) > 0.5  # the wave-equation start carries the impulse away
    with np.load(figure2_screen.maps_path(out)) as maps:  # the map behind the row, recounted
        key = figure2_screen.map_key(trained)
        labels, selective = maps[f"{key}|preferred"][..., 0], maps[f"{key}|selective"][..., 0]
    from locornn.analysis.topography import domains
    assert domains.domain_statistics(labels, selective)["neighbour_agreement"] == (
        pytest.approx(float(trained["agreement"]), rel=1e-3))
    assert cli.main(args + ["--no-train", "--draw"]) == 0  # measured again: replaced
    assert (tmp_path / "figure2_free_wave_L8.png").is_file()  # trained beside untrained
    assert not (tmp_path / "figure2_sweep_free_wave_L8.png").exists()  # no sweep run to draw
    assert len(list(csv.DictReader(out.open()))) == 3
    table = out.with_suffix(".md").read_text().splitlines()
    assert len(table) == 2 + 3 and table[3].startswith("| free_wave | waves | 8 |")
    assert cli.main(args[:5] + ["nope"] + args[6:]) == 2
    assert "'nope'" in capsys.readouterr().err


REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.mark.skipif(not (REFERENCE / figure2_screen.PHASE_PICTURE).is_file(),
                    reason="the authors' pictures are not here")
def test_the_authors_rows_are_their_pictures_measured_by_the_same_code(tmp_path):
    rows = figure2_screen.authors_rows(REFERENCE)
    assert len(rows) == 8  # 7 distinct sweep panels and the map beside the phase map
    for row in rows:
        assert row["lattice"] == 72 and row["fraction_selective"] > 0.9
        assert row["agreement"] > 0.7 and row["domain_area_median"] >= 32
    by_size = {(r["wavelength"], r["kernel"]): r for r in rows[:7]}
    assert (by_size[("24", 3)]["domain_area_median"]
            > by_size[("5", 3)]["domain_area_median"])  # their domains grow with the wavelength
    assert rows[-1]["phase_map_match"] > 0
    with pytest.raises(FileNotFoundError, match="OC_Size_v_WL_v_Ksize.png"):
        figure2_screen.authors_rows(tmp_path)
