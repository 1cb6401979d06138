"""Named synthetic light fields for accuracy tests: each stresses one thing real scenes throw
at a depth estimator (modelled on the kinds of scene in the HCI 4D light field benchmark).

Every scene function takes the view size and returns a :class:`SceneSpec` (the surfaces, in
that size's pixel coordinates, and the sensor noise); :func:`make_scene` renders one by name
with :func:`diffdepth.synth.make_lightfield`. Geometry is fixed (widths of thin structures and
dots are in pixels, positions scale with the view); ``seed`` seeds the textures and the noise.
Disparities stay within -1.5..2 px per view step, so the corner views of a 9x9 grid shift by at
most 8 px.

    lf = make_scene("thin", seed=0)          # 9x9 views of 256x256, exact lf.gt
    lf = make_scene("dots", window=(0, 0, 64, 64), grid=(3, 3))   # a small crop for tests
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diffdepth.io.lightfield import LightField
from diffdepth.synth.lightfield import Surface, default_scene, make_lightfield

#: a scene's noise: one standard deviation, or the standard deviation at reference pixel
#: coordinates (x, y) (arrays of one shape -> array of that shape)
Noise = float | Callable[[np.ndarray, np.ndarray], np.ndarray]

_DARK = (0.12, 0.13, 0.16)
_BRIGHT = (0.88, 0.86, 0.8)


@dataclass(frozen=True)
class SceneSpec:
    surfaces: list[Surface]  # the first is a plane that covers everything
    noise: Noise = 0.0


def thin_structures(height: int = 256, width: int = 256) -> SceneSpec:
    """Thin structures (like HCI 'backgammon'): vertical strips 1, 2, 3 and 4 px wide and
    wedges tapering from 4 px to 0.5 px, at disparities from -0.5 to 1.9, plus two long slanted
    strips crossing them, in front of a slanted background plane that is textured except in a
    band without any texture (rows 0.5 to 0.85 of the height: its disparity is known only
    from the textured plane around it). Stresses structures narrower than a splat footprint or
    a filter window, and foreground disparity bleeding into the background beside them."""
    h, w = float(height), float(width)
    background = (-1.0, 0.25 / w, 0.0)
    surfaces = [
        # The band of the background plane without texture comes first: where its support and
        # the plane's overlap, equal disparities leave the first surface in front.
        Surface("rect", background, (-40, 0.5 * h, w + 40, 0.85 * h), 0.0, (0.5, 0.5, 0.52)),
        Surface("plane", background),
    ]
    strip_d = [1.6, -0.3, 0.9, 0.3, 1.2, -0.5, 0.6, 1.9]
    for k, d in enumerate(strip_d):
        x = w * (0.06 + 0.055 * k)
        half = 0.5 * (1 + k % 4)
        colour = _DARK if k % 2 else _BRIGHT
        surfaces.append(
            Surface("strip", (d, 0.0, 0.0), (x, 0.04 * h, x, 0.96 * h, half), 0.3, colour)
        )
    wedge_d = [0.2, 1.4, -0.4, 0.8, 1.8, 0.0, 1.1, 0.5]
    for k, d in enumerate(wedge_d):
        x = w * (0.52 + 0.06 * k)
        top, bottom = (2.0, 0.25) if k % 2 == 0 else (0.25, 2.0)
        colour = _BRIGHT if k % 2 else _DARK
        shape = (x, 0.04 * h, x, 0.96 * h, top, bottom)
        surfaces.append(Surface("wedge", (d, 0.0, 0.0), shape, 0.3, colour))
    surfaces += [
        Surface("strip", (1.0, 0.0, 0.0), (0.03 * w, 0.78 * h, 0.97 * w, 0.62 * h, 1.0), 0.3),
        Surface("strip", (-0.2, 0.0, 0.0), (0.03 * w, 0.3 * h, 0.97 * w, 0.18 * h, 0.75), 0.3),
    ]
    return SceneSpec(surfaces)


def dots(height: int = 256, width: int = 256) -> SceneSpec:
    """Fine dots (like HCI 'dots'): clusters of 3x3 dots of radius 0.6 to 3.5 px (one size per
    column) at disparities -0.4 to 1.9 in front of a mildly textured plane at -0.8; the image
    noise grows from none in the top quarter to 0.005, 0.01 and 0.02 (of the 0..1 range) in the
    quarters below. Stresses tiny isolated structures and noise."""
    h, w = float(height), float(width)
    surfaces = [Surface("plane", (-0.8, 0.0, 0.0), contrast=0.5)]
    radii = [0.6, 0.9, 1.25, 1.75, 2.5, 3.5]
    levels = [-0.4, 0.2, 0.8, 1.4, 1.9, 0.5]
    cw, ch = w / len(radii), h / 4
    for row in range(4):
        for col, radius in enumerate(radii):
            d = levels[(col + 2 * row) % len(levels)]
            colour = _BRIGHT if (row + col) % 2 == 0 else _DARK
            cx, cy = (col + 0.5) * cw, (row + 0.5) * ch
            step = min(cw, ch) / 3.4
            for i in (-1, 0, 1):
                for j in (-1, 0, 1):
                    shape = (cx + i * step, cy + j * step, radius)
                    surfaces.append(Surface("disc", (d, 0.0, 0.0), shape, 0.2, colour))
    bands = np.array([0.0, 0.005, 0.01, 0.02])

    def noise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return bands[np.clip((np.asarray(y) / ch).astype(int), 0, 3)] + 0.0 * x

    return SceneSpec(surfaces, noise)


def slanted_curved(height: int = 256, width: int = 256) -> SceneSpec:
    """Slanted and curved surfaces (like HCI 'pyramids'): a convex dome, a concave bowl, a
    pyramid and an inverted pyramid on a slanted background, and a strongly slanted board.
    Stresses disparity that changes continuously (no fronto-parallel bias, creases, smooth
    curvature) and the occlusion edges around each object."""
    h, w = float(height), float(width)
    s = float(min(height, width))
    return SceneSpec(
        [
            Surface("plane", (-1.2, 0.6 / w, 0.3 / h)),
            Surface("dome", (0.0, 0.0, 0.0), (0.28 * w, 0.3 * h, 0.2 * s, 1.3)),
            Surface("dome", (0.9, 0.0, 0.0), (0.72 * w, 0.3 * h, 0.18 * s, -0.9)),
            Surface("pyramid", (-0.4, 0.0, 0.0), (0.28 * w, 0.74 * h, 0.17 * s, 1.4)),
            Surface("pyramid", (1.0, 0.0, 0.0), (0.72 * w, 0.74 * h, 0.15 * s, -0.8)),
            Surface("rect", (-0.6, 0.0, 1.6 / h), (0.45 * w, 0.05 * h, 0.57 * w, 0.95 * h)),
        ]
    )


def low_texture(height: int = 256, width: int = 256) -> SceneSpec:
    """Large low-texture regions (like HCI 'stripes' and plain walls): a slanted wall with
    almost no texture, a perfectly uniform board with a small textured disc in front of it,
    boards of horizontal stripes (nothing to match along a row of views) and vertical stripes
    (nothing along a column), and a disc of diagonal stripes. Stresses interpolation across
    regions without matchable texture and the aperture problem of one-dimensional texture."""
    h, w = float(height), float(width)
    s = float(min(height, width))
    return SceneSpec(
        [
            Surface("plane", (-0.9, 0.4 / w, -0.3 / h), contrast=0.02),
            Surface("rect", (0.7, 0, 0), (0.08 * w, 0.1 * h, 0.46 * w, 0.55 * h), 0.0, _BRIGHT),
            Surface("disc", (1.6, 0, 0), (0.3 * w, 0.35 * h, 0.06 * s)),
            Surface(
                "rect",
                (-0.2, 0.3 / w, 0.0),
                (0.55 * w, 0.08 * h, 0.93 * w, 0.45 * h),
                stripes=(9.0, 90.0),
            ),
            Surface(
                "rect", (1.3, 0, 0), (0.1 * w, 0.62 * h, 0.45 * w, 0.93 * h), stripes=(7.0, 0.0)
            ),
            Surface("disc", (0.3, 0, 0), (0.72 * w, 0.74 * h, 0.17 * s), stripes=(11.0, 45.0)),
        ]
    )


def specular(height: int = 256, width: int = 256) -> SceneSpec:
    """A non-Lambertian scene: glossy surfaces whose white highlights slide over them as the
    view moves (a dome, a slanted board, a nearly untextured board whose only texture is the
    highlights), beside a matte disc, on a textured background. The highlights are consistent
    with a disparity other than the surface's. Stresses photo-consistency that does not hold."""
    h, w = float(height), float(width)
    s = float(min(height, width))
    return SceneSpec(
        [
            Surface("plane", (-0.8, 0.3 / w, 0.2 / h), contrast=0.8),
            Surface("dome", (0.0, 0, 0), (0.33 * w, 0.4 * h, 0.22 * s, 1.2), 0.5, gloss=(0.6, 1.5)),
            Surface(
                "rect",
                (0.5, 0.0, 0.4 / h),
                (0.6 * w, 0.15 * h, 0.92 * w, 0.55 * h),
                0.4,
                gloss=(0.5, -1.0),
            ),
            Surface("disc", (1.0, 0, 0), (0.75 * w, 0.75 * h, 0.14 * s), 0.8),
            Surface(
                "rect", (0.5, 0, 0), (0.1 * w, 0.68 * h, 0.5 * w, 0.92 * h), 0.1, gloss=(0.5, 2.0)
            ),
        ]
    )


def noisy(height: int = 256, width: int = 256) -> SceneSpec:
    """Sensor noise over an ordinary scene: the demo scene (a slanted plane, a textured board,
    a nearly uniform disc, a slanted strip) with Gaussian noise of 0.025 (of the 0..1 range,
    about 6 grey levels) in every view. Stresses robustness of matching and of the points."""
    return SceneSpec(default_scene(height, width), 0.025)


def clutter(height: int = 256, width: int = 256) -> SceneSpec:
    """A cluttered scene: 45 boards, discs, strips 2-6 px wide and low domes at disparities
    -1 to 1.8 overlapping in front of a slanted plane (a fixed layout, not seeded). Stresses
    many occlusion edges, small disoccluded regions and objects with similar disparities."""
    h, w = float(height), float(width)
    s = float(min(height, width))
    rng = np.random.default_rng(20160)  # the layout, fixed: the seed argument is for textures
    surfaces = [Surface("plane", (-1.3, 0.5 / w, 0.2 / h))]
    for _ in range(45):
        kind = rng.choice(["rect", "disc", "strip", "dome"])
        d = float(rng.uniform(-1.0, 1.8))
        cx, cy = rng.uniform(0.02, 0.98) * w, rng.uniform(0.02, 0.98) * h
        size = float(rng.uniform(0.03, 0.2)) * s
        contrast = float(rng.uniform(0.3, 1.0))
        if kind == "rect":
            aspect = float(rng.uniform(0.4, 2.5))
            hw, hh = size * np.sqrt(aspect) / 2, size / np.sqrt(aspect) / 2
            slope = tuple(rng.uniform(-0.4, 0.4, 2) / s)
            a = d - slope[0] * cx - slope[1] * cy
            shape = (cx - hw, cy - hh, cx + hw, cy + hh)
            surfaces.append(Surface("rect", (a, *slope), shape, contrast))
        elif kind == "disc":
            surfaces.append(Surface("disc", (d, 0.0, 0.0), (cx, cy, size / 2), contrast))
        elif kind == "strip":
            angle = rng.uniform(0, np.pi)
            dx, dy = np.cos(angle) * size, np.sin(angle) * size
            half = float(rng.uniform(1.0, 3.0))
            shape = (cx - dx, cy - dy, cx + dx, cy + dy, half)
            surfaces.append(Surface("strip", (d, 0.0, 0.0), shape, contrast))
        else:
            radius = max(12.0, size / 2)
            bump = float(rng.uniform(-0.3, 0.5))
            surfaces.append(Surface("dome", (d, 0.0, 0.0), (cx, cy, radius, bump), contrast))
    return SceneSpec(surfaces)


#: name -> scene function; the order is the order of the accuracy suite's tables
SCENES: dict[str, Callable[[int, int], SceneSpec]] = {
    "thin": thin_structures,
    "dots": dots,
    "slanted": slanted_curved,
    "lowtex": low_texture,
    "specular": specular,
    "noisy": noisy,
    "clutter": clutter,
}


def make_scene(
    name: str,
    height: int = 256,
    width: int = 256,
    grid: tuple[int, int] = (9, 9),
    seed: int = 0,
    window: tuple[int, int, int, int] | None = None,
) -> LightField:
    """Render the named scene of :data:`SCENES` (views float32 [U, V, h, w, 3], exact gt).

    window: (y0, x0, h, w), render only that crop of the height x width views (same scene).
    """
    if name not in SCENES:
        raise ValueError(f"unknown synthetic scene {name!r}; known: {', '.join(SCENES)}")
    spec = SCENES[name](height, width)
    y0, x0, wh, ww = window if window is not None else (0, 0, height, width)
    noise = spec.noise
    if callable(noise):
        yy, xx = np.mgrid[y0 : y0 + wh, x0 : x0 + ww].astype(np.float64)
        noise = noise(xx, yy)
    return make_lightfield(
        height, width, grid, seed, spec.surfaces, noise=noise, window=window, name=name
    )
