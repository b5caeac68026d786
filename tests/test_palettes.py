"""Map palettes stay distinguishable with colour-vision deficiencies: every pair of classes a map can show side by
side differs by at least a CIEDE2000 ΔE threshold under protan, deutan and tritan simulation (Machado, Oliveira and
Fernandes 2009, severity 1.0: complete dichromacy), and "0 episodes" never looks like "no value".

Thresholds (ΔE00: about 1 is a just-noticeable difference, 10 is plainly different at a glance):
- SEQUENTIAL_MIN = 10 between adjacent classes of one sequential scale (the need map, deprivation classes and deciles
  are read in order, so adjacent classes are the ones that must not merge);
- CATEGORY_MIN = 10 between any two categories with no order (zero, suppressed, no value, a map's classes; hot spot
  labels; coverage gap categories), since any two can be neighbours;
- BIVARIATE_MIN = 10 between any two of the 3x3 need x deprivation cells;
- DECILE_MIN = 8 between adjacent deciles and between any decile and "no value": ten ordered classes from near black
  to near white leave about 9 lightness units a step, and CIEDE2000 weighs lightness differences near black and near
  white down, so a ramp readable by all three dichromacies tops out near 8.9 (searched with scipy's
  differential_evolution over lightness-hue ramps); 8 is well above the just-noticeable difference.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from ehmap.context import BIVARIATE_PALETTE, CLASS_PALETTE, DECILE_PALETTE, HIDDEN_COLOUR
from ehmap.coverage import GAP_COLOURS
from ehmap.hotspots import LABEL_COLOURS, NOT_SIGNIFICANT, NOT_TESTED
from ehmap.maps import NO_DATA_COLOUR, PALETTE, SUPPRESSED_COLOUR, ZERO_COLOUR

SEQUENTIAL_MIN = 10.0
CATEGORY_MIN = 10.0
BIVARIATE_MIN = 10.0
DECILE_MIN = 8.0

# Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color vision deficiency",
# IEEE TVCG 15(6): the severity-1.0 matrices, applied to linear RGB.
MACHADO_2009 = {
    "protan": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                        [-0.003882, -0.048116, 1.051998]]),
    "deutan": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                        [-0.011820, 0.042940, 0.968881]]),
    "tritan": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                        [0.004733, 0.691367, 0.303900]]),
}
VISIONS = ("normal", *MACHADO_2009)
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
D65 = np.array([0.95047, 1.0, 1.08883])


def linear_rgb(colour: str) -> np.ndarray:
    """'#rrggbb' as linear-light sRGB in [0, 1]."""
    srgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def simulate(colour: str, vision: str) -> np.ndarray:
    """The linear RGB a viewer with `vision` sees (clipped to the sRGB gamut, as a screen shows it)."""
    rgb = linear_rgb(colour)
    return rgb if vision == "normal" else np.clip(MACHADO_2009[vision] @ rgb, 0, 1)


def lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of a linear RGB colour."""
    t = (SRGB_TO_XYZ @ rgb) / D65
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005), kL = kC = kH = 1."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    dhp = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    dhp_big = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dhp / 2))
    lp_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hp_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hp_bar = (h1p + h2p) / 2
    else:
        hp_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * np.cos(np.radians(hp_bar - 30)) + 0.24 * np.cos(np.radians(2 * hp_bar))
         + 0.32 * np.cos(np.radians(3 * hp_bar + 6)) - 0.20 * np.cos(np.radians(4 * hp_bar - 63)))
    d_theta = 30 * np.exp(-(((hp_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (lp_bar - 50) ** 2 / np.sqrt(20 + (lp_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return float(np.sqrt((dlp / s_l) ** 2 + (dcp / s_c) ** 2 + (dhp_big / s_h) ** 2
                         + r_t * (dcp / s_c) * (dhp_big / s_h)))


def delta_e(first: str, second: str, vision: str) -> float:
    """ΔE00 between two '#rrggbb' colours as a viewer with `vision` sees them."""
    return ciede2000(lab(simulate(first, vision)), lab(simulate(second, vision)))


def smallest(pairs: list[tuple[str, str]]) -> tuple[float, str, str, str]:
    """The smallest ΔE00 over the pairs and every vision: (ΔE, vision, colour, colour)."""
    return min((delta_e(a, b, vision), vision, a, b) for a, b in pairs for vision in VISIONS)


def adjacent(palette) -> list[tuple[str, str]]:
    return list(zip(palette[:-1], palette[1:], strict=True))


def every_pair(colours) -> list[tuple[str, str]]:
    return list(combinations(dict.fromkeys(colours), 2))


# Sharma, Wu and Dalal (2005), Table 1: reference pairs for CIEDE2000 implementations.
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("first", "second", "expected"), SHARMA_PAIRS)
def test_ciede2000_matches_sharma_reference_pairs(first, second, expected):
    assert ciede2000(np.array(first), np.array(second)) == pytest.approx(expected, abs=1e-4)


def test_machado_simulation_keeps_greys_and_merges_red_green_for_deutan():
    # Each severity-1.0 matrix's rows sum to 1: a grey stays that grey.
    for vision in MACHADO_2009:
        assert np.allclose(simulate("#808080", vision), linear_rgb("#808080"), atol=1e-5)
    # The textbook confusion: pure red and green, far apart for normal vision, are close for a deuteranope.
    assert delta_e("#ff0000", "#00ff00", "normal") > 70
    assert delta_e("#d62728", "#2ca02c", "deutan") < delta_e("#d62728", "#2ca02c", "normal") / 2


def assert_apart(pairs: list[tuple[str, str]], threshold: float, what: str) -> None:
    """Every pair at least `threshold` apart for every vision; the message names the closest pair."""
    worst, vision, first, second = smallest(pairs)
    assert worst >= threshold, f"{what}: ΔE00 {worst:.1f} < {threshold} ({vision}: {first} vs {second})"


def test_need_map_classes_adjacent_and_zero_suppressed_no_value_all_distinct():
    assert_apart(adjacent(PALETTE), SEQUENTIAL_MIN, "need map classes")
    assert_apart(every_pair([ZERO_COLOUR, SUPPRESSED_COLOUR, NO_DATA_COLOUR, *PALETTE]), CATEGORY_MIN,
                 "zero / suppressed / no value / a class")


def test_zero_and_no_value_are_different_colours_and_no_value_is_not_a_class():
    assert ZERO_COLOUR.lower() != NO_DATA_COLOUR.lower()
    assert NO_DATA_COLOUR.lower() not in {c.lower() for c in PALETTE}


def test_bivariate_cells_all_distinct():
    assert_apart(every_pair(BIVARIATE_PALETTE.values()), BIVARIATE_MIN, "bivariate 3x3")
    assert_apart([(HIDDEN_COLOUR, colour) for colour in BIVARIATE_PALETTE.values()], CATEGORY_MIN, "hidden vs a cell")


def test_deprivation_classes_and_deciles_adjacent_and_no_value():
    for palette, threshold in ((CLASS_PALETTE, SEQUENTIAL_MIN), (DECILE_PALETTE, DECILE_MIN)):
        assert_apart(adjacent(palette) + [(NO_DATA_COLOUR, colour) for colour in palette], threshold, str(palette))


def test_hot_spot_labels_all_distinct():
    gi = [colour for label, colour in LABEL_COLOURS.items() if "spot" in label]
    lisa = [LABEL_COLOURS[label] for label in ("High-High", "High-Low", "Low-High", "Low-Low")]
    for labels in (gi, lisa):
        assert_apart(every_pair([*labels, LABEL_COLOURS[NOT_SIGNIFICANT], LABEL_COLOURS[NOT_TESTED]]), CATEGORY_MIN,
                     "hot spot labels")


def test_coverage_gap_categories_all_distinct():
    assert_apart(every_pair([colour for colour, _ in GAP_COLOURS.values()]), CATEGORY_MIN, "coverage gaps")
