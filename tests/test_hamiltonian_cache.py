"""The on-disk cache and the training-facing API (load_dataset, sample_windows)."""

from __future__ import annotations

import hashlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from locornn.data.hamiltonian import HamiltonianData, load_dataset, sample_windows
from locornn.data.hamiltonian import cache as cache_module
from locornn.data.hamiltonian.cache import CacheWarning

ENTRY = f"train-n4-steps255-seed0-v{cache_module.GENERATOR_VERSION}"
ARGS = dict(num_train=4, num_test=4, train_steps=255, test_steps=255, seed=0, progress=False)


def load(tmp_path, **overrides) -> HamiltonianData:
    return load_dataset("mass_spring", cache_dir=tmp_path, **{**ARGS, **overrides})


def no_generation(*args, **kwargs):
    raise AssertionError("the cache should have been used")


def test_second_call_reuses_the_cache(tmp_path, monkeypatch):
    """The first call generates and writes the cache; the second reads it without generating."""
    first = load(tmp_path)
    assert {s["status"] for s in first.cache.values()} == {"generated"}
    monkeypatch.setattr(cache_module, "generate", no_generation)
    second = load(tmp_path)
    assert {s["status"] for s in second.cache.values()} == {"hit"}
    np.testing.assert_array_equal(first.train_images, second.train_images)
    np.testing.assert_array_equal(first.test_states, second.test_states)


def test_cache_layout_types_and_metadata(tmp_path):
    """Per split: data.npz (uint8 images, float64 states, params) and metadata.json with the
    generator version, the arguments and the file's SHA-256."""
    data = load(tmp_path)
    entry = tmp_path / "mass_spring" / ENTRY
    assert data.cache["train"]["path"] == str(entry)
    meta = json.loads((entry / "metadata.json").read_text())
    assert meta["generator_version"] == cache_module.GENERATOR_VERSION
    assert meta["args"] == {
        "system": "mass_spring",
        "split": "train",
        "num": 4,
        "num_steps": 255,
        "seed": 0,
        "dt": 0.05,
    }
    for name in ("data.npz", "images.npy"):
        digest = hashlib.sha256((entry / name).read_bytes()).hexdigest()
        assert meta["files"][name]["sha256"] == digest
    with np.load(entry / "data.npz") as npz:
        assert npz["states"].dtype == np.float64
        assert set(npz.files) >= {"params/k", "params/m", "params/offset", "params/color_index"}
    images = np.load(entry / "images.npy", mmap_mode="r")
    assert images.dtype == np.uint8 and images.shape == (4, 256, 32, 32, 3)


def test_cached_images_are_memory_mapped_not_read_whole(tmp_path):
    """A second load maps the images from disk (np.memmap, read-only): a training window is
    read when it is sampled, so the host needs memory for batches, not for the data set."""
    load(tmp_path)
    again = load(tmp_path)
    assert again.cache["train"]["status"] == "hit"
    assert isinstance(again.train_images, np.memmap) or isinstance(
        getattr(again.train_images, "base", None), np.memmap)
    assert not again.train_images.flags.writeable


def corrupt_flip_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def corrupt_truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt_metadata(path):
    (path.parent / "metadata.json").write_text("{not json")


def corrupt_delete_metadata(path):
    (path.parent / "metadata.json").unlink()


@pytest.mark.parametrize("name", ["data.npz", "images.npy"])
@pytest.mark.parametrize(
    "corrupt", [corrupt_flip_byte, corrupt_truncate, corrupt_metadata, corrupt_delete_metadata]
)
def test_corrupted_cache_is_detected_and_regenerated_with_a_warning(tmp_path, corrupt, name):
    """A flipped byte, a truncated file, unreadable or missing metadata: the entry is never
    used; a CacheWarning names it, and the regenerated data equal the original."""
    original = load(tmp_path)
    original_images = np.array(original.train_images)  # a copy: the result maps the file
    corrupt(tmp_path / "mass_spring" / ENTRY / name)
    with pytest.warns(CacheWarning, match=ENTRY):
        again = load(tmp_path)
    assert again.cache["train"]["status"] == "regenerated"
    assert again.cache["test"]["status"] == "hit"
    np.testing.assert_array_equal(original_images, again.train_images)
    np.testing.assert_array_equal(original.train_states, again.train_states)
    # and the rewritten entry is trusted again
    assert load(tmp_path).cache["train"]["status"] == "hit"


def test_long_test_trajectories_for_vpt(tmp_path):
    """Test trajectories can be longer than the training ones (here 1000 frames)."""
    data = load(tmp_path, test_steps=999)
    assert data.train_images.shape == (4, 256, 32, 32, 3)
    assert data.test_images.shape == (4, 1000, 32, 32, 3)
    assert data.test_states.shape == (4, 1000, 2)
    assert data.dt == 0.05 and data.test_params["m"].shape == (4,)
    assert data.params["test"] is data.test_params


def test_images_are_uint8_and_convert_to_floats_in_unit_interval(tmp_path):
    data = load(tmp_path)
    assert data.train_images.dtype == np.uint8
    floats = data.images("test")
    assert floats.dtype == np.float32 and floats.min() >= 0 and floats.max() <= 1
    np.testing.assert_allclose(floats, data.test_images / 255.0, rtol=1e-6)


@pytest.fixture(scope="module")
def toy_images():
    """(5, 20, 32, 32, 3) uint8 whose pixels encode (trajectory i, frame t) as 20 i + t."""
    i = np.arange(5)[:, None, None, None, None]
    t = np.arange(20)[None, :, None, None, None]
    return np.broadcast_to(20 * i + t, (5, 20, 32, 32, 3)).astype(np.uint8)


def decode(batch) -> tuple[np.ndarray, np.ndarray]:
    codes = np.rint(np.asarray(batch)[:, :, 0, 0, 0] * 255).astype(int)
    return codes // 20, codes % 20  # trajectory, frame


def test_sample_windows_returns_contiguous_subsequences_as_floats(toy_images):
    """Each window is frames s..s+w-1 of one trajectory i (i, s random), as float32 in [0, 1]."""
    batch = sample_windows(toy_images, jax.random.PRNGKey(0), 64, 7)
    assert batch.shape == (64, 7, 32, 32, 3) and batch.dtype == jnp.float32
    assert float(batch.min()) >= 0.0 and float(batch.max()) <= 1.0
    traj, frame = decode(batch)
    assert np.all(traj == traj[:, :1])  # one trajectory per window
    assert np.all(np.diff(frame, axis=1) == 1)  # consecutive frames
    assert frame[:, 0].min() >= 0 and frame[:, -1].max() <= 19
    assert len(set(traj[:, 0])) == 5 and len(set(frame[:, 0])) > 5  # both are random


def test_sample_windows_is_jittable_and_host_and_device_paths_agree(toy_images):
    """For the same key, the NumPy (host gather) and JAX (jit) paths give the same batch; a
    full-length window always starts at frame 0; a window longer than T is an error."""
    key = jax.random.PRNGKey(3)
    host = sample_windows(toy_images, key, 16, 20)
    jitted = jax.jit(sample_windows, static_argnums=(2, 3))
    device = jitted(jnp.asarray(toy_images), key, 16, 20)
    np.testing.assert_array_equal(np.asarray(host), np.asarray(device))
    assert np.all(decode(host)[1][:, 0] == 0)
    other = jitted(jnp.asarray(toy_images), key, 16, 5)
    np.testing.assert_array_equal(
        np.asarray(other), np.asarray(sample_windows(toy_images, key, 16, 5))
    )
    with pytest.raises(ValueError, match="window"):
        sample_windows(toy_images, key, 4, 21)


def test_a_split_is_generated_chunk_by_chunk_into_its_memory_mapped_file(tmp_path, monkeypatch):
    """Generating for the cache writes each chunk's images into the file as it is made (the
    split is never held whole in memory): the same images as generating in memory, and the
    first call already returns them memory-mapped and read-only."""
    from locornn.data.hamiltonian import generate as generate_module

    chunks = []
    real = cache_module.generate

    def spy(*args, images_out=None, **kwargs):
        assert isinstance(images_out, np.memmap)  # the target is the file, not RAM
        chunks.append(kwargs["chunk_size"])
        return real(*args, images_out=images_out, **kwargs)

    monkeypatch.setattr(cache_module, "generate", spy)
    traj, entry, status = cache_module.cached_generate(
        "mass_spring", split="train", num=5, num_steps=15, seed=0, cache_dir=tmp_path,
        chunk_size=2)
    assert status == "generated" and chunks == [2]
    assert isinstance(traj.images, np.memmap) and not traj.images.flags.writeable
    in_memory = generate_module.generate("mass_spring", num=5, num_steps=15, seed=0,
                                         split="train", chunk_size=2)
    np.testing.assert_array_equal(traj.images, in_memory.images)
    np.testing.assert_array_equal(traj.states, in_memory.states)
    assert sorted(p.name for p in entry.iterdir()) == ["data.npz", "images.npy", "metadata.json"]


def test_an_images_target_of_the_wrong_shape_is_refused_before_generating():
    from locornn.data.hamiltonian import generate as generate_module

    with pytest.raises(ValueError, match=r"images_out has shape \(4, 16, 32, 32, 3\), expected "
                                         r"\(5, 16, 32, 32, 3\)"):
        generate_module.generate("mass_spring", num=5, num_steps=15, seed=0,
                                 images_out=np.zeros((4, 16, 32, 32, 3), np.uint8))
