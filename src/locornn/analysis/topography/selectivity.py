"""Orientation (or class) selectivity and topographic maps (NumPy only: no JAX, no Flax).

Responses are time-averaged hidden states, one row per stimulus: ``responses`` has shape
``(num_stimuli, num_neurons)`` with the neurons flattened in C order from the lattice
``(H, W)`` or ``(H, W, C)`` (exactly ``z.reshape(T, -1)`` of a ``(T, H, W, C)`` trajectory; see
:func:`time_averaged_responses`). Maps are ``(H, W)`` or ``(H, W, C)`` arrays; channels are
separate maps on the same lattice (neighbours are always within one channel). Angles are in
radians with the convention of :mod:`locornn.analysis.topography.stimuli` (from the column axis
towards the row axis); orientation is 180-periodic, so every map statistic uses the doubled angle
``2 theta`` (the unit vector ``exp(2 i theta)``).

Pipeline: :func:`cohens_d` -> :func:`preferred` -> maps -> topography
(:func:`neighbour_orientation_correlation`, :func:`topography_zscore`), :func:`domain_size`,
:func:`pinwheel_density`; :func:`selectivity_summary` does it all into a JSON-ready dict.
"""

from __future__ import annotations

import numpy as np

from ..waves.statistics import INV_E, correlation_length, radial_profile, spatial_autocorrelation

__all__ = [
    "cohens_d",
    "domain_size",
    "neighbour_orientation_correlation",
    "pinwheel_charges",
    "pinwheel_density",
    "preferred",
    "selectivity_summary",
    "time_averaged_responses",
    "topography_zscore",
]


# ----------------------------------------------------------------------------------------------
# Responses and Cohen's d
# ----------------------------------------------------------------------------------------------


def time_averaged_responses(z, burn_in: int = 0) -> np.ndarray:
    """Time-averaged response of every neuron to every stimulus.

    Args:
      z: ``(num_stimuli, T, H, W, C)`` (any ``(S, T, ...)``) hidden-state trajectories.
      burn_in: initial steps left out of the average (transient).

    Returns:
      ``(num_stimuli, H * W * C)``: ``r[s, j] = mean_{t >= burn_in} z[s, t, j]``, neurons in C
      order.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim < 3:
        raise ValueError(f"expected (num_stimuli, T, ...) trajectories, got shape {z.shape}")
    if not 0 <= burn_in < z.shape[1]:
        raise ValueError(f"burn_in must be in [0, T={z.shape[1]}), got {burn_in}")
    return z[:, burn_in:].mean(axis=1).reshape(z.shape[0], -1)


def cohens_d(responses, labels, num_classes: int | None = None, eps: float = 1e-8) -> np.ndarray:
    """Cohen's d of each class against all other stimuli, for every neuron.

    For class ``c`` and neuron ``j``, with ``n_c`` stimuli of class ``c`` and ``n_r`` of the rest:

        d[c, j] = (mean_c - mean_rest) / max(s_pooled, eps)
        s_pooled = sqrt((SS_c + SS_rest) / (n_c + n_r - 2))

    where ``SS = sum (r - mean)^2`` within each group, i.e. ``SS_c = (n_c - 1) var_c`` with
    ``ddof = 1`` (a single-stimulus group contributes ``SS = 0``).

    Zero-variance guard: the denominator never falls below ``eps`` (in response units), which
    acts as a noise floor. A neuron whose groups have equal means gets ``d = 0`` (in particular
    a constant neuron); a neuron with zero within-group variance but different means gets the
    large finite ``|d| = |mean_c - mean_rest| / eps``; neurons whose response variations are far
    below ``eps`` get small ``d`` and count as non-selective.

    Args:
      responses: ``(num_stimuli, num_neurons)`` time-averaged responses.
      labels: ``(num_stimuli,)`` integer class ids in ``[0, num_classes)``.
      num_classes: default ``labels.max() + 1``; every class needs at least one stimulus.
      eps: floor of the pooled standard deviation.

    Returns:
      ``(num_classes, num_neurons)`` float64.
    """
    r = np.asarray(responses, dtype=np.float64)
    y = np.asarray(labels)
    if r.ndim != 2 or y.shape != (r.shape[0],):
        raise ValueError(f"need responses (S, N) and labels (S,), got {r.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must lie in [0, {k})")
    s = r.shape[0]
    d = np.empty((k, r.shape[1]))
    for c in range(k):
        inc = y == c
        n_c = int(inc.sum())
        n_r = s - n_c
        if n_c == 0 or n_r == 0 or n_c + n_r <= 2:
            raise ValueError(f"class {c} has {n_c} stimuli and the rest {n_r}: d is undefined")
        a, b = r[inc], r[~inc]
        m_a, m_b = a.mean(axis=0), b.mean(axis=0)
        ss = ((a - m_a) ** 2).sum(axis=0) + ((b - m_b) ** 2).sum(axis=0)
        s_pooled = np.sqrt(ss / (n_c + n_r - 2))
        d[c] = (m_a - m_b) / np.maximum(s_pooled, eps)
    return d


def preferred(d, threshold: float = 0.65) -> tuple[np.ndarray, np.ndarray]:
    """Preferred class and selectivity of every neuron.

    Args:
      d: ``(num_classes, num_neurons)`` from :func:`cohens_d`.
      threshold: a neuron is selective when ``max_c d[c, j] >= threshold`` (paper: 0.65).

    Returns:
      ``(preferred_class, selective)``: ``(num_neurons,)`` int ``argmax_c d[c, j]`` and
      ``(num_neurons,)`` bool.
    """
    d = np.asarray(d, dtype=np.float64)
    return np.argmax(d, axis=0), np.max(d, axis=0) >= threshold


# ----------------------------------------------------------------------------------------------
# Maps: shared helpers
# ----------------------------------------------------------------------------------------------


def _as_map(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {a.shape}")
    return a


def _maps(pref_angle_map, selective_mask):
    theta = _as_map(np.asarray(pref_angle_map, dtype=np.float64), "pref_angle_map")
    if selective_mask is None:
        mask = np.ones(theta.shape, dtype=bool)
    else:
        mask = _as_map(np.asarray(selective_mask, dtype=bool), "selective_mask")
    if mask.shape != theta.shape:
        raise ValueError(f"mask shape {mask.shape} != map shape {theta.shape}")
    return theta, mask


def _orientation_embedding(theta: np.ndarray) -> np.ndarray:
    """``(..., 1)`` complex unit vectors ``exp(2 i theta)``: similarity ``cos(2 (a - b))``."""
    return np.exp(2j * theta)[..., None]


def _class_embedding(classes: np.ndarray, num_classes: int) -> np.ndarray:
    """``(..., K)`` one-hot vectors: similarity 1 for equal classes, else 0."""
    return np.eye(num_classes, dtype=np.complex128)[classes]


def _neighbour_pairs(shape: tuple[int, int, int], mask: np.ndarray, circular: bool):
    """4-neighbour pairs of selective sites, as indices into the list of selective sites.

    Each unordered pair (right and lower neighbour, within a channel) appears once.
    """
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    if circular:
        firsts = [idx, idx]
        seconds = [np.roll(idx, -1, axis=1), np.roll(idx, -1, axis=0)]
    else:
        firsts = [idx[:, :-1], idx[:-1, :]]
        seconds = [idx[:, 1:], idx[1:, :]]
    a = np.concatenate([f.ravel() for f in firsts])
    b = np.concatenate([s.ravel() for s in seconds])
    flat = mask.ravel()
    keep = flat[a] & flat[b]
    pos = np.cumsum(flat) - 1  # position of each selective site in the selective list
    return pos[a[keep]], pos[b[keep]]


def _pair_similarity(v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``mean_pairs Re <v_a, v_b>`` over the last axis; ``v`` is ``(..., n, E)``."""
    return np.real(np.sum(v[..., a, :] * np.conj(v[..., b, :]), axis=-1)).mean(axis=-1)


def _topography(emb, mask, circular, num_shuffles, seed):
    """(observed, z-score) of the neighbour similarity against a shuffle of selective sites."""
    a, b = _neighbour_pairs(mask.shape, mask, circular)
    if a.size == 0:
        return float("nan"), float("nan")
    v = emb[mask]  # (n, E)
    observed = float(_pair_similarity(v, a, b))
    if num_shuffles < 2:
        return observed, float("nan")
    rng = np.random.default_rng(seed)
    n = v.shape[0]
    null = np.empty(num_shuffles)
    chunk = max(1, int(2_000_000 // max(1, a.size * v.shape[1])))
    for start in range(0, num_shuffles, chunk):
        stop = min(num_shuffles, start + chunk)
        perms = np.stack([rng.permutation(n) for _ in range(stop - start)])  # (s, n)
        null[start:stop] = _pair_similarity(v[perms], a, b)
    mu, sd = null.mean(), null.std(ddof=1)
    if sd < 1e-12:  # shuffling changes nothing (e.g. one preferred value): nothing to detect
        return observed, 0.0
    return observed, float((observed - mu) / sd)


def _domain_size(emb, mask, circular, level):
    """Correlation length of the mean-removed embedding fields (see :func:`domain_size`)."""
    if not mask.any():
        return float("nan")
    h, w, c = mask.shape
    m = mask.astype(np.float64)[..., None]  # (H, W, C, 1)
    count = np.maximum(m.sum(axis=(0, 1), keepdims=True), 1.0)
    mean = (emb * m).sum(axis=(0, 1), keepdims=True) / count  # per channel and component
    f = (emb - mean) * m  # (H, W, C, E)
    e = f.shape[-1]
    stack = np.moveaxis(f, (2, 3), (0, 1)).reshape(c * e, h, w)
    mstack = np.broadcast_to(np.moveaxis(mask, 2, 0)[:, None], (c, e, h, w)).reshape(c * e, h, w)
    acf = spatial_autocorrelation(stack, mstack, circular=circular)
    return correlation_length(radial_profile(acf, (h, w)), level)


# ----------------------------------------------------------------------------------------------
# Maps: public functions
# ----------------------------------------------------------------------------------------------


def neighbour_orientation_correlation(
    pref_angle_map, selective_mask=None, circular: bool = False
) -> float:
    """Circular correlation of the preferred orientation between lattice neighbours.

    ``rho = mean_{(i, j)} cos(2 (theta_i - theta_j))`` over all 4-neighbour pairs (right and
    lower neighbour, each unordered pair once, within a channel) whose two neurons are both
    selective. The doubled angle makes ``theta`` and ``theta + pi`` identical. 1 for a uniform
    map, ~0 for independent random orientations, negative when neighbours are orthogonal.

    Args:
      pref_angle_map: ``(H, W)`` or ``(H, W, C)`` preferred orientations (radians).
      selective_mask: same shape, bool; default all selective.
      circular: periodic lattice boundaries (pairs wrap around).

    Returns:
      float; NaN if there is no selective neighbour pair.
    """
    theta, mask = _maps(pref_angle_map, selective_mask)
    a, b = _neighbour_pairs(mask.shape, mask, circular)
    if a.size == 0:
        return float("nan")
    return float(_pair_similarity(_orientation_embedding(theta)[mask], a, b))


def topography_zscore(
    pref_angle_map,
    selective_mask=None,
    num_shuffles: int = 200,
    seed: int = 0,
    circular: bool = False,
) -> float:
    """z-score of :func:`neighbour_orientation_correlation` against a position-shuffle null.

    The null permutes the preferred orientations among the selective sites (the selective
    neurons swap positions; the mask, and hence the set of neighbour pairs, stays fixed), so it
    removes exactly the spatial arrangement of preferences and nothing else:

        z = (rho_observed - mean(rho_null)) / std(rho_null)     (std with ddof = 1)

    over ``num_shuffles`` permutations from ``numpy.random.default_rng(seed)``. ``z`` is 0 when
    the null has no spread (all selective neurons prefer one orientation).

    Returns:
      float; NaN without selective neighbour pairs or with ``num_shuffles < 2``.
    """
    theta, mask = _maps(pref_angle_map, selective_mask)
    return _topography(_orientation_embedding(theta), mask, circular, num_shuffles, seed)[1]


def domain_size(
    pref_angle_map, selective_mask=None, circular: bool = False, level: float = INV_E
) -> float:
    """Size of the orientation domains, in lattice units.

    The correlation length of the orientation field ``v = exp(2 i theta)`` on the selective
    sites: remove ``v``'s mean over the selective sites of each channel, take the pair-count
    normalised spatial autocorrelation ``A(d) = Re <conj(v(x)) v(x + d)> / <|v|^2>`` over
    selective pairs (:func:`locornn.analysis.waves.statistics.spatial_autocorrelation`), average it
    radially and return the first lag where it drops below ``level`` (``1/e``, linearly
    interpolated). This is a correlation length, not the map's period (a domain of one
    orientation spans roughly twice it).

    Returns:
      float; NaN without selective sites or if ``A`` stays above ``level`` up to half the
      lattice size.
    """
    theta, mask = _maps(pref_angle_map, selective_mask)
    return _domain_size(_orientation_embedding(theta), mask, circular, level)


def pinwheel_charges(pref_angle_map, selective_mask=None, circular: bool = False) -> np.ndarray:
    """Topological charge of every elementary plaquette of the orientation map.

    Around the plaquette with corners ``(y, x), (y, x+1), (y+1, x+1), (y+1, x)`` (counter-
    clockwise in the ``(x, y)`` frame of the angle convention) sum the wrapped differences of
    ``2 theta``; the total is ``2 pi n`` with integer winding ``n`` and the orientation charge
    is ``n / 2``: ``+1/2`` where ``theta`` turns with the loop (e.g.
    ``theta = atan2(y - y0, x - x0) / 2``), ``-1/2`` where it turns against it, ``0`` elsewhere.
    Plaquettes with a non-selective corner get charge 0.

    Args:
      pref_angle_map: ``(H, W)`` or ``(H, W, C)``.
      selective_mask: same shape, bool; default all selective.
      circular: periodic boundaries (plaquettes wrap around).

    Returns:
      ``(H', W', C)`` charges (``H' = H - 1, W' = W - 1``, or ``H, W`` with ``circular``).
    """
    charges, _ = _pinwheels(pref_angle_map, selective_mask, circular)
    return charges


def _pinwheels(pref_angle_map, selective_mask, circular):
    theta, mask = _maps(pref_angle_map, selective_mask)
    psi = 2.0 * theta

    def corners(a):
        if circular:
            return a, np.roll(a, -1, 1), np.roll(np.roll(a, -1, 0), -1, 1), np.roll(a, -1, 0)
        return a[:-1, :-1], a[:-1, 1:], a[1:, 1:], a[1:, :-1]

    p = corners(psi)
    m = corners(mask)
    total = sum(np.angle(np.exp(1j * (p[(i + 1) % 4] - p[i]))) for i in range(4))
    valid = m[0] & m[1] & m[2] & m[3]
    winding = np.rint(total / (2 * np.pi))
    return np.where(valid, winding / 2.0, 0.0), valid


def pinwheel_density(
    pref_angle_map,
    selective_mask=None,
    circular: bool = False,
    length: float | None = None,
) -> float:
    """Pinwheels per squared domain size.

    ``density = (number of plaquettes with charge +-1/2) / (number of plaquettes with four
    selective corners) * length^2``, with ``length`` the :func:`domain_size` by default: the
    average number of orientation singularities in a ``length x length`` patch. This is not
    the Kaschube et al. (2010) density, which normalises by the map's period (column spacing)
    and is ~pi for visual cortex; compare values of this function only with each other.
    On a lattice, a map with independent random orientations has ~1/3 of its plaquettes
    charged, so densities near ``length^2 / 3`` with ``length < 1`` indicate no map at all.

    Returns:
      float; NaN without complete plaquettes or when ``length`` is NaN.
    """
    charges, valid = _pinwheels(pref_angle_map, selective_mask, circular)
    if length is None:
        length = domain_size(pref_angle_map, selective_mask, circular)
    if not valid.any() or not np.isfinite(length):
        return float("nan")
    return float(np.count_nonzero(charges) / np.count_nonzero(valid) * length**2)


# ----------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------


def selectivity_summary(
    d,
    lattice_shape,
    angles=None,
    threshold: float = 0.65,
    seed: int = 0,
    num_shuffles: int = 200,
    circular: bool = False,
) -> dict:
    """Selectivity and map statistics of one network, as a JSON-ready dict.

    Args:
      d: ``(num_classes, num_neurons)`` from :func:`cohens_d`.
      lattice_shape: ``(H, W)`` or ``(H, W, C)`` with ``H * W * C = num_neurons`` (C order).
      angles: ``(num_classes,)`` orientation of each class in radians (e.g.
        :func:`locornn.analysis.topography.stimuli.orientation_angles`). ``None`` for categorical
        classes (digits): neighbour similarity is then 1 for the same preferred class and 0
        otherwise, the domain size uses one-hot class fields, and there are no pinwheels.
      threshold: selectivity threshold on ``max_c d``.
      seed, num_shuffles: the shuffle null of the z-score.
      circular: periodic lattice boundaries.

    Returns:
      dict with ``num_neurons``, ``num_classes``, ``threshold``, ``fraction_selective``,
      ``mean_max_d``, ``preferred_histogram`` (list of ``num_classes`` ints, selective neurons
      only), ``neighbour_correlation`` (:func:`neighbour_orientation_correlation`; for classes
      the fraction of selective neighbour pairs with the same preferred class),
      ``topography_zscore`` (:func:`topography_zscore`, same null for classes), ``domain_size``
      (:func:`domain_size`) and ``pinwheel_density`` (:func:`pinwheel_density`; ``None`` for
      classes). Undefined floats are NaN.
    """
    d = np.asarray(d, dtype=np.float64)
    k, n = d.shape
    shape = tuple(int(s) for s in lattice_shape)
    if int(np.prod(shape)) != n:
        raise ValueError(f"lattice_shape {shape} holds {np.prod(shape)} neurons, d has {n}")
    pref, sel = preferred(d, threshold)
    pref_map = _as_map(pref.reshape(shape), "lattice")
    mask = _as_map(sel.reshape(shape), "lattice")
    if angles is None:
        emb = _class_embedding(pref_map, k)
    else:
        angles = np.asarray(angles, dtype=np.float64)
        if angles.shape != (k,):
            raise ValueError(f"need one angle per class ({k}), got shape {angles.shape}")
        theta = angles[pref_map]
        emb = _orientation_embedding(theta)
    observed, z = _topography(emb, mask, circular, num_shuffles, seed)
    size = _domain_size(emb, mask, circular, INV_E)
    density = None if angles is None else pinwheel_density(theta, mask, circular, length=size)
    return {
        "num_neurons": int(n),
        "num_classes": int(k),
        "threshold": float(threshold),
        "fraction_selective": float(sel.mean()),
        "mean_max_d": float(d.max(axis=0).mean()),
        "preferred_histogram": [int(c) for c in np.bincount(pref[sel], minlength=k)],
        "neighbour_correlation": observed,
        "topography_zscore": z,
        "domain_size": size,
        "pinwheel_density": density,
    }
