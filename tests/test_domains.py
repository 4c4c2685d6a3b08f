"""Domain statistics of label maps (neighbour agreement, area-weighted domain area, fraction
selective) on maps with known answers, and the same numbers read off a picture of maps."""

import numpy as np
import pytest
from PIL import Image

from locornn import cli
from locornn.analysis.topography import domains
from tests.conftest import ROOT

AUTHORS_PICTURE = ROOT.parent / "shared" / "reference" / "OC_Size_v_WL_v_Ksize.png"


def stripes(side: int, width: int, labels: int = 8) -> np.ndarray:
    """Vertical stripes ``width`` sites wide, labels cycling through ``labels`` values."""
    return np.broadcast_to((np.arange(side) // width) % labels, (side, side)).copy()


def test_a_single_domain_agrees_everywhere_and_has_the_lattice_as_its_area():
    stats = domains.domain_statistics(np.full((6, 9), 3))
    assert stats["neighbour_agreement"] == 1.0
    assert stats["domain_area"] == 54.0
    assert stats["num_domains"] == 1 and stats["largest_domain"] == 54
    assert stats["fraction_selective"] == 1.0
    assert stats["chance_agreement"] == 1.0


def test_a_checkerboard_of_labels_never_agrees_and_every_site_is_its_own_domain():
    rows, cols = np.mgrid[:8, :8]
    board = (rows + cols) % 2
    assert domains.neighbour_agreement(board) == 0.0
    assert domains.domain_statistics(board)["domain_area"] == 1.0
    assert domains.domain_areas(board).size == 64


def test_stripes_agree_along_them_and_break_at_each_edge():
    side, width = 12, 3
    stats = domains.domain_statistics(stripes(side, width))
    # 2 * 12 * 11 pairs; the 3 stripe edges cut 12 horizontal pairs each
    assert stats["neighbour_agreement"] == pytest.approx((2 * side * (side - 1) - 3 * side)
                                                         / (2 * side * (side - 1)))
    assert stats["domain_area"] == side * width
    assert stats["num_domains"] == side // width


def test_random_labels_agree_at_chance():
    labels = np.random.default_rng(0).integers(0, 8, size=(72, 72))
    stats = domains.domain_statistics(labels)
    assert stats["neighbour_agreement"] == pytest.approx(0.125, abs=0.015)
    assert stats["chance_agreement"] == pytest.approx(0.125, abs=0.005)
    assert stats["domain_area"] < 3


def test_domains_are_joined_through_edges_only_and_by_the_same_label():
    labels = np.array([[0, 1],
                       [1, 0]])  # two diagonal pairs: four one-site domains
    np.testing.assert_array_equal(domains.domain_areas(labels), [1, 1, 1, 1])
    # area-weighted: a site sits in a domain of 3 with probability 3/4, of 1 with 1/4
    assert domains.area_weighted_mean_area([3, 1]) == pytest.approx((9 + 1) / 4)


def test_non_selective_sites_cut_domains_and_leave_the_pairs():
    labels = np.zeros((1, 5), dtype=int)
    selective = np.array([[True, True, False, True, True]])
    stats = domains.domain_statistics(labels, selective)
    np.testing.assert_array_equal(domains.domain_areas(labels, selective), [2, 2])
    assert stats["neighbour_agreement"] == 1.0  # the 2 pairs left agree
    assert stats["fraction_selective"] == pytest.approx(0.8)
    assert np.isnan(domains.neighbour_agreement(labels, np.zeros((1, 5), bool)))


def test_channels_are_separate_maps():
    labels = np.stack([np.zeros((4, 4), int), np.ones((4, 4), int)], axis=-1)
    np.testing.assert_array_equal(domains.domain_areas(labels), [16, 16])


def test_orientation_labels_are_the_nearest_grating_orientation_modulo_180_degrees():
    angles = np.deg2rad([0.0, 10.0, 12.0, 90.0, 170.0, 179.0, 180.0])
    np.testing.assert_array_equal(domains.orientation_labels(angles), [0, 0, 1, 4, 0, 0, 0])


# ----------------------------------------------------------------------------------------------
# Maps read from a picture

PALETTE = np.array([[37, 59, 115], [60, 132, 141], [180, 196, 67], [134, 179, 61],
                    [126, 72, 134], [240, 156, 59], [195, 42, 45], [251, 228, 81]], np.uint8)


def draw_panel(canvas, top, left, labels, selective, cell):
    """Paint a label map into an RGB canvas, ``cell`` pixels a site, a black x on every
    non-selective site (as the authors draw them)."""
    side = labels.shape[0]
    block = np.kron(PALETTE[labels], np.ones((cell, cell, 1), np.uint8))
    for r, c in zip(*np.nonzero(~selective), strict=True):
        for i in range(cell):
            block[r * cell + i, c * cell + i] = 0
            block[r * cell + i, c * cell + cell - 1 - i] = 0
    canvas[top:top + side * cell, left:left + side * cell] = block
    canvas[top - 1, left - 1:left + side * cell + 1] = 0  # a frame, as an axes draws it
    canvas[top - 1:top + side * cell + 1, left - 1] = 0


def test_a_picture_of_maps_gives_back_each_panels_labels_and_statistics(tmp_path):
    side, cell = 12, 9
    rng = np.random.default_rng(1)
    maps = [stripes(side, 3), np.full((side, side), 5, int), rng.integers(0, 8, (side, side)),
            stripes(side, 4).T]
    selective = [np.ones((side, side), bool) for _ in maps]
    selective[2][3, 4] = selective[2][7, 7] = False
    canvas = np.full((2 * 160 + 40, 2 * 160 + 40, 3), 255, np.uint8)
    origins = [(30, 30), (30, 200), (200, 30), (200, 200)]  # two rows of two panels
    for (top, left), labels, sel in zip(origins, maps, selective, strict=True):
        draw_panel(canvas, top, left, labels, sel, cell)
    canvas[5:15, 60:160] = 0  # a title: dark, not a panel
    path = tmp_path / "maps.png"
    Image.fromarray(canvas).save(path)

    read = domains.read_figure_maps(path, grid=side, min_side=50)
    assert len(read) == 4
    for (labels, sel), true_labels, true_sel in zip(read, maps, selective, strict=True):
        np.testing.assert_array_equal(sel, true_sel)
        # the picture's labels are the true ones renamed: a one-to-one correspondence
        pairs = set(zip(labels[sel].tolist(), true_labels[sel].tolist(), strict=True))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    names = ("a", "b", "c", "d")
    stats = domains.figure_statistics(path, panels=names, grid=side)
    for name, labels, sel in zip(names, maps, selective, strict=True):
        assert stats[name] == domains.domain_statistics(labels, sel) | {
            "chance_agreement": pytest.approx(domains.chance_agreement(labels, sel))}


def test_the_figure_domains_command_prints_a_row_per_panel(tmp_path, capsys):
    canvas = np.full((200, 200, 3), 255, np.uint8)
    draw_panel(canvas, 20, 20, stripes(12, 6), np.ones((12, 12), bool), 12)
    path = tmp_path / "one.png"
    Image.fromarray(canvas).save(path)
    assert cli.main(["analyze", "figure-domains", str(path), "--grid", "12"]) == 0
    out = capsys.readouterr().out
    assert "| wavelength 5 | 0.955 |" in out  # 1 - 12 / (2 * 12 * 11): one edge cuts 12 pairs


def test_a_picture_without_maps_is_refused(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(path)
    with pytest.raises(ValueError, match="no map panel"):
        domains.read_figure_maps(path)


@pytest.mark.skipif(not AUTHORS_PICTURE.is_file(), reason="the authors' picture is not here")
def test_the_authors_numbers_are_what_their_picture_measures():
    stats = domains.figure_statistics(AUTHORS_PICTURE)
    assert list(stats) == list(domains.AUTHORS_PANELS) == list(domains.AUTHORS_NUMBERS)
    for key, (agreement, area) in domains.AUTHORS_NUMBERS.items():
        assert stats[key]["neighbour_agreement"] == pytest.approx(agreement, abs=0.001)
        assert stats[key]["domain_area"] == pytest.approx(area, abs=0.5)
        assert stats[key]["fraction_selective"] > 0.9  # nearly every site selective
    assert stats[("wavelength", 24)] == stats[("kernel", 3)]  # one map drawn twice
