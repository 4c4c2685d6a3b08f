"""Image sequences from tensorflow-datasets (``data.name = "tfds"``), read from prepared data.

``data.tfds_name`` names a set (``moving_mnist``, ``bair_robot_pushing_small``, your own
builder, ...) already prepared in ``data.tfds_data_dir`` (``""``: ``$TFDS_DATA_DIR``, else
``~/tensorflow_datasets``) by ``tfds build`` on a machine with network: nothing is downloaded
at run time. ``data.feature`` names the feature that holds the frames, a video ``(T, H, W, C)``
(``""``: the set's only one). The recordings of ``data.tfds_split`` (tfds's slicing works:
``"test[:90%]"``) are windowed, scaled and split as your own files are
(:mod:`locornn.data.video`); ``data.tfds_test_split`` reads the held-out recordings from a split
of their own instead of the last ``data.test_fraction`` of the frames. Splits are read into
memory: slice a large one.

Needs the optional extra ``pip install 'locornn[tfds]'`` (TensorFlow for the CPU and
tensorflow-datasets); TensorFlow is imported only when such a run loads its data.
"""

from __future__ import annotations

import contextlib
import os
import pathlib

import numpy as np

from locornn.data import video
from locornn.data.errors import DataError


def data_dir(data_config) -> str:
    """Where the prepared set is looked for."""
    folder = (data_config.tfds_data_dir or os.environ.get("TFDS_DATA_DIR")
              or "~/tensorflow_datasets")
    return str(pathlib.Path(folder).expanduser())


def import_tfds():
    """tensorflow_datasets, TensorFlow's start-up and deprecation lines off (stderr is for
    locornn's one-line errors)."""
    # TensorFlow's start-up lines on stderr: its C++ log level, and the oneDNN notice that
    # ignores it (TensorFlow only decodes the stored frames here: no arithmetic to speed up)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError("data.name = 'tfds' needs TensorFlow and tensorflow-datasets: pip "
                        "install 'locornn[tfds]'") from None
    tf.get_logger().setLevel("ERROR")  # deprecation notes of tf.data are not the user's
    return tfds


@contextlib.contextmanager
def _quiet():
    """tensorflow-datasets' own deprecation warnings (absl logging, to stderr) held back."""
    from absl import logging

    level = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        logging.set_verbosity(level)


def _frames_feature(builder, name: str, feature: str) -> str:
    """The feature holding the frames: ``feature``, or the set's only video."""
    features = builder.info.features
    videos = [key for key, value in features.items() if len(value.shape) in (3, 4)]
    if feature:
        if feature not in features:
            raise DataError(f"tensorflow-datasets set {name!r} has no feature {feature!r} "
                            f"(data.feature); it has {', '.join(features)}")
        if feature not in videos:
            raise DataError(f"feature {feature!r} of tensorflow-datasets set {name!r} has "
                            f"shape {features[feature].shape}, not frames (T, H, W[, C]); "
                            f"frames: {', '.join(videos) or 'none'}")
        return feature
    if len(videos) != 1:
        raise DataError(f"tensorflow-datasets set {name!r} has {len(videos)} features shaped "
                        f"as frames ({', '.join(videos) or 'none'}): name one by data.feature")
    return videos[0]


def _read(tfds, builder, name: str, split: str, feature: str, folder: str) -> video.Recordings:
    where = f"tensorflow-datasets {name}:{split} in {folder}"
    try:
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        recordings = [np.asarray(example[feature]) for example in tfds.as_numpy(dataset)]
    except AssertionError:  # tfds's word for "not prepared in data_dir"
        raise DataError(f"tensorflow-datasets set {name!r} is not prepared in {folder}; "
                        f"nothing is downloaded at run time: prepare it where there is network "
                        f"(tfds build {name} --data_dir DIR), copy DIR here and set "
                        f"data.tfds_data_dir") from None
    except ValueError as error:  # an unknown split, a malformed slice
        detail = " ".join(str(error).split())[:200]
        raise DataError(f"{where}: no such split ({detail}); set data.tfds_split / "
                        f"data.tfds_test_split") from None
    if not recordings:
        raise DataError(f"{where} holds no examples; choose another split")
    return video.in_memory(where, recordings)


def load(data_config) -> video.Splits:
    """``data.name = "tfds"``: the recordings of a prepared tensorflow-datasets set."""
    try:
        return _load(data_config)
    except TypeError as error:
        if "descriptor pool" not in str(error):
            raise
        raise DataError("TensorFlow cannot load in a process that has read the Hamiltonian "
                        "suite's TFRecord files (the tfrecord package defines TensorFlow's "
                        "Example protobuf again): read the tfds set in a process of its own"
                        ) from None


def _load(data_config) -> video.Splits:
    tfds = import_tfds()
    name, folder = data_config.tfds_name, data_dir(data_config)
    with _quiet():
        try:
            builder = tfds.builder(name, data_dir=folder)
        except tfds.core.registered.DatasetNotFoundError:
            raise DataError(f"no tensorflow-datasets set {name!r} (data.tfds_name); the names "
                            f"are tfds.list_builders()'s, e.g. moving_mnist") from None
        feature = _frames_feature(builder, name, data_config.feature)
        train = _read(tfds, builder, name, data_config.tfds_split, feature, folder)
        test = (_read(tfds, builder, name, data_config.tfds_test_split, feature, folder)
                if data_config.tfds_test_split else None)
    return video.build_splits(data_config, train, test,
                              what=f"tensorflow-datasets {name} ({feature}) in {folder}")
