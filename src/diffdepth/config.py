"""Every setting of a run: one nested, frozen, typed config per run kind, and one per stage.

    config = LightFieldConfig()                          # the default light-field run
    config = LightFieldConfig.plain()                    # the SPEC's plain-diffusion baseline
    config = config.replace(optim=config.optim.replace(passes=2))
    data = config.to_dict()                              # what config.json holds
    config = LightFieldConfig.from_dict(data)            # strict: an unknown key is an error
    config = MultiViewConfig.preset("fast")              # a schedule of `PRESETS` (--preset)

A run kind (`LightFieldConfig`, `MultiViewConfig`) nests the configs of its stages:
`EPIConfig` (initial points), `SweepConfig` (densification), `ModelConfig` (splatting, Q and the
solver), `OptimConfig` (the schedule), `LossConfig` (the re-projection loss), `MedianConfig`
(the post-filter) and `EdgeRefineConfig` (the edge refinement).  Each has named presets as
classmethods; a field's comment says what it does and in which unit.  `Literal` fields are
checked on construction, and `from_dict` checks every type, so a misspelled key or value never
passes silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

C = TypeVar("C", bound="Config")

Views = Literal["crosshair", "all"]
Device = Literal["cpu", "cuda"]
Group = Literal["Q", "value", "R", "xy"]
GROUPS: tuple[Group, ...] = ("Q", "value", "R", "xy")
SSIMWindow = Literal["box3", "gauss11"]
Preset = Literal["fast", "default", "paper"]


class Config:
    """Base of the config dataclasses: strict dict round trip and checked Literal fields."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            _check_literals(hints[f.name], getattr(self, f.name), f"{type(self).__name__}.{f.name}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: nested configs as dicts, tuples as lists."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(
        cls: type[C], data: Mapping[str, Any], where: str | None = None, base: C | None = None
    ) -> C:
        """The config of ``data`` (as `to_dict` writes it) over ``base`` (default: ``cls()``):
        absent keys keep the base's values, a nested mapping changes the base's nested config
        key by key.

        Raises ValueError naming the key for an unknown key, a value of the wrong type or a
        value a field does not allow."""
        where = where or cls.__name__
        if not isinstance(data, Mapping):
            found = type(data).__name__
            raise ValueError(f"{where}: expected a mapping of settings, found {found}")
        base = cls() if base is None else base
        hints = _hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        changes = {}
        for key, value in data.items():
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"{where}: unknown key {key!r}{hint}; known keys: {', '.join(names)}"
                )
            changes[key] = _parse(hints[key], value, f"{where}.{key}", getattr(base, key))
        return dataclasses.replace(base, **changes)

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (the config is frozen)."""
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------- the stages


@dataclass(frozen=True)
class EPIConfig(Config):
    """The EPI line detector (initial points of a light field; defaults suit 9x9 grids)."""

    blur_sigma: float = 0.85  # Gaussian blur of every view before filtering (px)
    n_slopes: int = 60  # orientations in the step-edge filter bank
    slope_warp: float = 1.0  # > 0: slopes denser near zero (spacing grows by cosh(warp))
    slope_margin: float = 0.2  # px per view step added beyond each end of the disparity range
    # |disparity| bound of the range estimate when the scene gives no range (px per view step);
    # None: a quarter of the image over the views
    max_disparity: float | None = None
    min_response: float = 0.002  # absolute floor of the edge response (Lab / 100 per px)
    tile: int = 16  # side of the tiles of the adaptive threshold (px)
    tile_fraction: float = 0.08  # keep maxima >= this fraction of their tile's strongest edge
    refine_iters: int = 2  # sub-pixel line fits (edge position per view, least squares)
    max_missing_views: int = 0  # views of an EPI whose gradient may disagree with a line
    agree_cos: float = 0.7  # cosine between a view's gradient and the line's mean gradient
    agree_ratio: float = 0.4  # a view's gradient magnitude / the mean gradient magnitude
    min_peak: float = 1.5  # best slope response / mean response over the bank
    # refine each disparity by a plane sweep of patch variance (off: on rendered scenes with
    # noise, e.g. HCI antinous, the line fit is already more precise)
    polish: bool = False
    polish_radius: float = 0.25  # sweep half-width (px per view step)
    polish_step: float = 0.05  # sweep step (px per view step)
    polish_rounds: int = 2  # re-centre sweeps whose minimum lies on the sweep's end
    polish_patch: int = 1  # patch half-size: (2 p + 1)^2 pixels
    polish_views: Views = "crosshair"  # views of the polish sweep
    # move each point this far (px) off its edge onto the side whose colour follows the line
    # (the occluding side at a depth edge)
    side_shift: float = 0.5
    # thin structures: a line with a line of the same slope (within ridge_tol, px per view
    # step) at most ridge_width px away on one side only takes that side and moves ridge_shift
    # px towards it (at most half way); ridge_width 0: off (see `_epi_lines._ridge_sides`)
    ridge_width: float = 5.0
    ridge_tol: float = 0.1
    ridge_shift: float = 1.0
    chunk: int = 8192  # points per batch in the sampling stages
    consistency_k: int = 8  # neighbours of the spatial consistency check (0: no check)
    # drop a point whose disparity differs from the median of its consistency_k nearest points
    # by more than this (px per view step): isolated wrong slopes (a line fitted across two
    # layers) leave blobs that diffusion spreads
    consistency_threshold: float = 0.1

    @classmethod
    def light_field(cls) -> EPIConfig:
        """The defaults: 9x9 synthetic or plenoptic light fields."""
        return cls()

    @classmethod
    def few_views(cls) -> EPIConfig:
        """A single row (or column) of a handful of wide-baseline views (e.g. 1x5)."""
        return cls(polish_radius=0.4, polish_step=0.1, polish_patch=2, consistency_threshold=1.0)

    @classmethod
    def for_grid(cls, rows: int, cols: int) -> EPIConfig:
        """The preset of a grid of views: `few_views` for a single row or column, else
        `light_field`."""
        return cls.few_views() if min(rows, cols) == 1 else cls.light_field()


@dataclass(frozen=True)
class SweepConfig(Config):
    """The densifying plane sweep and the points it adds."""

    step: float = 0.05  # disparity step of the sweep (px per view step)
    window: int = 5  # side of the box over which per-pixel errors are averaged (odd)
    exclude: float = 0.2  # the second-best minimum lies farther than this from the best
    min_ratio: float = 1.1  # keep an estimate whose second-best cost >= this x its best cost
    # added to both costs of that ratio (mean |colour difference|, 0..1 images): on a surface
    # without texture both costs are near 0 and their plain ratio is noise
    eps: float = 0.01
    grid: int = 3  # candidate pixels every `grid` px in x and y
    min_distance: float = 3.0  # candidates at least this far (px) from every existing point
    max_levels: int = 256  # the step grows when the range would need more levels
    # colour scale of adaptive support weights exp(-sum_c |I_q - I_p| / gamma) over the window
    # (0..1 images; Yoon & Kweon): the window does not reach across the colour edge of an
    # occluder, so a surface's label does not fatten onto its neighbour; 0: a plain box mean
    gamma: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.gamma >= 0:
            raise ValueError(f"SweepConfig.gamma must be >= 0 (0: box window), got {self.gamma}")
        if not self.step > 0 or self.window < 1 or self.window % 2 == 0:
            raise ValueError("SweepConfig: step must be > 0 and window a positive odd number")
        if self.grid < 1 or self.min_ratio < 1.0 or self.max_levels < 3:
            raise ValueError("SweepConfig: grid >= 1, min_ratio >= 1 and max_levels >= 3")


@dataclass(frozen=True)
class ConfidenceConfig(Config):
    """The confidence map of a disparity map (`diffdepth.confidence`); disparities in px per
    view step, errors as mean |colour difference| of 0..1 images."""

    delta: float = 0.25  # the map is compared with itself shifted by this much either way
    window: int = 5  # side of the box over which the errors are averaged (odd)
    noise: float = 0.01  # the error image noise alone gives
    agree: float = 0.07  # a point supports the map where they differ by at most this
    radius: float = 2.0  # px: how far a point's support reaches (Gaussian sigma)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.delta > 0 and self.noise > 0 and self.agree > 0 and self.radius > 0):
            raise ValueError("ConfidenceConfig: delta, noise, agree and radius must be > 0")
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError("ConfidenceConfig.window must be a positive odd number")


@dataclass(frozen=True)
class ModelConfig(Config):
    """The diffusion model at its start: splatting order, smoothness Q, the solver.

    ``ModelConfig()`` is the SPEC's (occlusion order by label, Q from Sobel alone)."""

    q_scale: float = 6.0  # Q initialised to q_scale * |Sobel(grey reference)|
    # ... or of the colour reference (the largest |Sobel| of one channel): edges between
    # colours of one grey level stop the diffusion too
    q_colour: bool = False
    # occlusion order: "depth" (by the label, SPEC) or "robust" (by the median label of the
    # order_neighbours nearest points; see `diffdepth.optimize`)
    order: Literal["depth", "robust"] = "depth"
    order_neighbours: int = 4  # neighbours of the robust order
    cut_radius: float = 0.0  # occlusion cuts in the initial Q: pair radius (px; 0: none)
    cut_jump: float = 1.0  # label difference that makes a pair an occlusion
    cut_strength: float = 8.0  # added to Q at the cut pixels
    # side cuts in the initial Q (points that know their edge's side, e.g. EPI points): the
    # links across a point's edge are cut when its label exceeds the background level within
    # side_cut_radius px (a low quantile of the labels there) by more than side_cut_jump
    # (px; 0: none); see `diffdepth.optimize.side_cuts`
    side_cut_radius: float = 0.0
    side_cut_jump: float = 0.3
    side_cut_depth: int = 1  # pixels across the edge marked: the links between them are cut
    # ... and only where the first points met across the edge (at most side_cut_reach px
    # away) differ from the point's label by more than side_cut_jump, or there are none
    side_cut_reach: int = 24
    confidence_weights: bool = False  # initialise R = -log(confidence) when points have one
    # sigma (px) of each point's opacity footprint g = exp(-r^2 / (2 sigma_s^2)); SPEC's 1.3
    # lets a point hide about 2 px around it, more than a thin structure is wide
    sigma_s: float = 1.3
    tol: float = 1e-6  # relative residual of the forward diffusion solve of the map
    # ... of the forward solves inside the optimisation (None: tol); the map it ends with is
    # solved to tol again, from the last step's solution
    optimise_tol: float | None = None
    # relative residual of the adjoint (backward) solves; None: tol.  The gradient only steers
    # Adam, so it needs far less accuracy than the map (see `diffdepth.diffuse.diffuse`)
    adjoint_tol: float | None = None
    maxiter: int = 500  # cap on solver iterations (a warning is raised if it is reached)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.order_neighbours < 1:
            raise ValueError("ModelConfig.order_neighbours must be >= 1")
        for name in ("adjoint_tol", "optimise_tol"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 1:
                raise ValueError(f"ModelConfig.{name} must be in (0, 1) or null, got {value}")
        if not 0.3 <= self.sigma_s <= 3.0:
            raise ValueError(f"ModelConfig.sigma_s must be from 0.3 to 3 px, got {self.sigma_s}")
        for name in ("cut_radius", "cut_jump", "cut_strength", "side_cut_radius", "side_cut_jump"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"ModelConfig.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def light_field(cls) -> ModelConfig:
        """The robust occlusion order and occlusion cuts (pairs within 10 px differing by
        more than 1 px per view step): see `diffdepth.optimize`.  Inside the optimisation
        the forward solves stop at 1e-5 and the adjoint solves at 1e-3 (median 3 and 2
        V-cycle iterations instead of 4 and 7 on antinous; the map within 0.004 px and the
        gradients within 1.5 % of exact solves': benchmarks/results/solve_tol.json); the map
        it ends with is solved to ``tol``."""
        return cls(
            order="robust", cut_radius=10.0, cut_jump=1.0, adjoint_tol=1e-3, optimise_tol=1e-5
        )


@dataclass(frozen=True)
class OptimConfig(Config):
    """The schedule of the alternating optimisation.  ``OptimConfig()`` is the SPEC's."""

    passes: int = 5  # passes over the phases
    iters_per_phase: int = 13  # Adam steps in each phase
    phases: tuple[Group, ...] = GROUPS  # order of the groups within a pass
    lr: tuple[float, float, float, float] = (0.015, 0.015, 0.015, 0.1)  # Q, value, R, xy (px)
    decay: tuple[float, float, float, float] = (0.9, 0.9, 0.8, 0.75)  # per-pass lr factor
    max_xy_step: float = 3.0  # positions stay within this many px of their start
    first_q_iters: int = 0  # extra smoothness-only iterations before the first pass
    densify_after_first_q: bool = False  # multi-view: add edge points after the first Q phase
    prior_value: float = 0.0  # weight of mean((value - value0)^2) in the loss
    prior_xy: float = 0.0  # weight of mean(|xy - xy0|^2) (px^2) in the loss

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.passes < 0 or self.iters_per_phase < 0:
            raise ValueError("passes and iters_per_phase must be >= 0")
        for name in ("prior_value", "prior_xy"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"OptimConfig.{name} must be >= 0, got {getattr(self, name)}")

    def learning_rate(self, group: str, pass_index: int) -> float:
        i = GROUPS.index(group)
        return self.lr[i] * self.decay[i] ** pass_index

    @classmethod
    def light_field(cls) -> OptimConfig:
        """13 iterations per phase, 5 passes (SPEC section 6), with learning rates for labels
        and positions that suit disparities measured to a few hundredths of a pixel, and
        anchors to the initial labels and positions (see `diffdepth.optimize`)."""
        return cls(lr=(0.015, 0.003, 0.015, 0.01), prior_value=0.1, prior_xy=0.01)

    @classmethod
    def multi_view(cls) -> OptimConfig:
        """25 iterations per phase, 5 passes, densification after the first Q phase."""
        return cls(iters_per_phase=25, densify_after_first_q=True)


@dataclass(frozen=True)
class LossConfig(Config):
    """L = mean(E) + w_ssim (1 - SSIM) - w_g mean|grad E| + w_s E_S.

    Presets: `LossConfig.light_field()`, `LossConfig.multi_view()`.
    """

    # Feature space of the per-pixel error E: "rgb" (fast) or "vgg" (first VGG16 block; the
    # paper found it better in texture-less regions, at roughly 40x the cost on a CPU) or
    # "vgg_warp" (the same block's features of every view computed once, projected onto
    # vgg_channels and warped like colours: a few times the cost of "rgb").
    distance: Literal["rgb", "vgg", "vgg_warp"] = "rgb"
    # Weight of the masked mean of 1 - SSIM(reference, warped view) (RGB); 0 skips SSIM.
    w_ssim: float = 0.0
    # SSIM window: "box3" (3x3 box) or "gauss11" (11x11 Gaussian, sigma 1.5).
    ssim_window: SSIMWindow = "box3"
    # Weight of the gradient reward: the loss subtracts w_g (mean|dx E| + mean|dy E|).
    w_g: float = 0.01
    # Weight of the edge-aware smoothness E_S of the map (image edges from the reference view).
    w_s: float = 0.05
    # Light field: occlusion z-buffer tolerance (px per view step): a pixel is hidden in a view
    # when a pixel landing on the same target is nearer by more than this.
    occlusion_margin: float = 0.1
    # Multi-view: relative depth margin before a pixel counts as occluded.
    occlusion_tol: float = 0.02
    # Multi-view: D (inverse depth) is clamped to at least this before depth = 1 / D.
    min_inverse_depth: float = 1e-6
    # Added to the number of views that see a pixel before dividing (pixels no view sees get 0).
    eps: float = 1e-4
    # Views per VGG forward pass (bounds memory; activations are recomputed in backward).
    vgg_chunk: int = 4
    # "vgg_warp": channels kept of the 64 (principal axes of the reference view's features,
    # scaled to the 64-channel error's size; 64 keeps every channel as it is).
    vgg_channels: int = 16
    # Depth-edge mask (0: off): pixels next to a jump of the current map larger than this (map
    # units), dilated by edge_mask_dilation px, are left out of mean(E) and of the gradient
    # reward. A pixel on a depth edge mixes foreground and background colours, and such
    # pixels are explained best by a soft edge (the paper's Figure 6): left in, they pull the
    # foreground outwards, one ramp of background at a time.
    edge_mask_jump: float = 0.0
    edge_mask_dilation: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.edge_mask_dilation < 0:
            raise ValueError(
                f"LossConfig.edge_mask_dilation must be >= 0, got {self.edge_mask_dilation}"
            )
        for name in ("w_ssim", "w_g", "w_s", "occlusion_margin", "occlusion_tol", "edge_mask_jump"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"LossConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.eps > 0 or not self.min_inverse_depth > 0:
            raise ValueError("LossConfig.eps and min_inverse_depth must be > 0")
        if self.vgg_chunk < 1:
            raise ValueError(f"LossConfig.vgg_chunk must be >= 1, got {self.vgg_chunk}")
        if not 1 <= self.vgg_channels <= 64:
            raise ValueError(f"LossConfig.vgg_channels must be in 1..64, got {self.vgg_channels}")

    @classmethod
    def light_field(cls, **changes: Any) -> LossConfig:
        """Light field (small baseline): RGB error, no SSIM, w_g 0.01, w_s 0.05, and the
        depth-edge mask (jumps > 0.2 px per view step, dilated by 2 px)."""
        base = {"distance": "rgb", "w_ssim": 0.0, "w_g": 0.01, "w_s": 0.05}
        return cls(**{**base, "edge_mask_jump": 0.2, "edge_mask_dilation": 2, **changes})

    @classmethod
    def multi_view(cls, **changes: Any) -> LossConfig:
        """Wider-baseline photos: adds 0.05 (1 - SSIM) to the light-field weights (no
        depth-edge mask), eps 1e-6."""
        base = {"distance": "rgb", "w_ssim": 0.05, "w_g": 0.01, "w_s": 0.05, "eps": 1e-6}
        return cls(**{**base, **changes})


@dataclass(frozen=True)
class MedianConfig(Config):
    """The colour-weighted median post-filter (SPEC section 6, see `diffdepth.postfilter`)."""

    radius: int = 3  # window (2 radius + 1)^2 px
    sigma_colour: float = 0.05  # colour scale of the weights (image units, 0..1)
    sigma_space: float | None = None  # spatial scale (px); None: radius / 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.radius < 0 or not self.sigma_colour > 0:
            raise ValueError("MedianConfig: radius must be >= 0 and sigma_colour > 0")


@dataclass(frozen=True)
class EdgeRefineConfig(Config):
    """The edge refinement (see `diffdepth.refine`)."""

    jump: float = 0.15  # a discontinuity: the map's range over 3x3 px exceeds this (px of disp.)
    radius: float = 10.0  # refine the pixels within this distance (px) of a discontinuity
    distances: tuple[int, ...] = (3, 6, 10, 15)  # candidate shifts (px) along 8 directions
    window: int = 9  # side of the support window (odd)
    gamma: float = 0.05  # colour scale of the support weights (sum over channels, 0..1 images)
    rounds: int = 2  # rounds of re-choosing (each takes its candidates from the map before it)
    min_change: float = 0.03  # candidates closer than this to the current value are not tried
    # pixels whose confidence (`diffdepth.confidence`, given to the refinement) is at least this
    # keep their label: a point that agrees with the map sits on them, or the views single the
    # label out; None: every pixel near a discontinuity may change
    keep_confidence: float | None = 0.95
    # second pass of the light-field refinement: every pixel takes the EPI orientation
    # estimate (`diffdepth.points.orientation`) where its cost is below (1 - adopt_margin) x
    # that of its label, on grids of at least 3 x 3 views; chosen on the accuracy suite's
    # average; None: no second pass
    adopt_margin: float | None = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.adopt_margin is not None and not 0 <= self.adopt_margin < 1:
            raise ValueError(
                f"EdgeRefineConfig.adopt_margin must be in [0, 1) or null, got {self.adopt_margin}"
            )
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError("EdgeRefineConfig: window must be a positive odd number")
        if self.keep_confidence is not None and not 0 < self.keep_confidence <= 1:
            raise ValueError(
                f"EdgeRefineConfig.keep_confidence must be in (0, 1] or null, "
                f"got {self.keep_confidence}"
            )
        if not self.gamma > 0 or self.rounds < 0 or not self.jump > 0 or self.radius < 0:
            raise ValueError("EdgeRefineConfig: gamma, jump > 0; rounds, radius >= 0")
        if any(int(d) < 1 for d in self.distances):
            raise ValueError("EdgeRefineConfig: distances are positive pixel counts")


# ---------------------------------------------------------------------------- the run kinds


@dataclass(frozen=True)
class LightFieldConfig(Config):
    """One light-field run: its stage switches and every stage's settings.

    The stages run in this order (docs/architecture.md): points (EPI detector unless points
    are given), densify, model, optimise, post-filter, edge refinement.
    """

    # views of the loss and of the densifying sweep: "crosshair" (central row and column) or
    # "all" (the edge refinement always uses the crosshair)
    views: Views = "crosshair"
    device: Device = "cpu"  # where the model and the loss run
    seed: int = 0  # seeds torch
    supervised: bool = False  # optimise against the ground truth instead of re-projection
    densify: bool = True  # densify stage: plane-sweep points where the set has none
    optimize: bool = True  # optimise stage: the alternating optimisation
    postfilter: bool = True  # post-filter stage: the colour-weighted median
    # edge refinement stage: re-choose the pixels beside depth edges (photometric: not after a
    # supervised run, which fits the ground truth itself); then the median again
    edge_refine: bool = True
    epi: EPIConfig | None = None  # points stage; None: EPIConfig.for_grid(rows, cols)
    sweep: SweepConfig = field(default_factory=SweepConfig)  # densify stage
    # model stage: the light field's model with a narrower splat footprint (sigma_s 0.8 px)
    # and Q from the colour reference; both chosen on the accuracy suite's average
    # (benchmarks/results/suite.md), not measured on multi-view runs
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig.light_field().replace(sigma_s=0.8, q_colour=True)
    )
    optim: OptimConfig = field(default_factory=OptimConfig.light_field)  # optimise stage
    loss: LossConfig = field(default_factory=LossConfig.light_field)  # optimise stage
    median: MedianConfig = field(default_factory=MedianConfig)  # post-filter stage
    refine: EdgeRefineConfig = field(default_factory=EdgeRefineConfig)  # edge refinement
    confidence: ConfidenceConfig = field(default_factory=ConfidenceConfig)  # confidence.npy

    mode: ClassVar[str] = "light_field"  # its entry in PRESETS

    @classmethod
    def default(cls) -> LightFieldConfig:
        """Every stage with the light-field presets, on the schedule of the "default" preset."""
        return cls.preset("default")

    @classmethod
    def preset(cls, name: str) -> LightFieldConfig:
        """The config of the named entry of `PRESETS` (fast, default, paper)."""
        return _preset(cls, name)

    def orientation_pass(self, grid: tuple[int, int]) -> bool:
        """Whether a run of this config on a light field of this grid has the refinement's
        orientation pass: a self-supervised run with the refinement on and
        ``refine.adopt_margin`` set, on a grid of at least 3 x 3 views.  A single row (or column)
        of views is a stereo rig: one EPI, nothing to cross-check its estimate against, and a
        photo cost that cannot tell labels apart along texture repeating in that one direction
        (on the suite's Tsukuba row the pass took pixels off by > 1 px from 5.15 to 5.83 %)."""
        on = self.edge_refine and not self.supervised and self.refine.adopt_margin is not None
        return on and min(grid) >= 3

    @classmethod
    def plain(cls) -> LightFieldConfig:
        """The SPEC's plain diffusion of the points, the paper's baseline: occlusion order by
        label, Q from Sobel alone, no densification, optimisation, post-filter or refinement."""
        return cls(
            densify=False,
            optimize=False,
            postfilter=False,
            edge_refine=False,
            model=ModelConfig(),
        )


@dataclass(frozen=True)
class SupportConfig(Config):
    """When a view supports a pixel's depth (multi-view validity and confidence, see
    `diffdepth.points.pinhole.photo_support`)."""

    window: int = 7  # side of the adaptive-support window over which errors are averaged
    gamma: float = 0.05  # colour scale of the support weights (as in the edge refinement)
    shift: float = 3.0  # the depth is compared with depths that move the nearest view this many px
    max_error: float = 0.08  # mean |colour difference| (0..1 images) at the pixel's depth
    min_contrast: float = 0.005  # the shifted depths must cost at least this much more
    min_views: int = 2  # supporting views needed (fewer when fewer views are selected)


@dataclass(frozen=True)
class MultiViewConfig(Config):
    """One multi-view run (calibrated photos, inverse depth as the label); see
    `diffdepth.pipeline.multiview` for its stages.  Thresholds of the sweep, the occlusion cuts
    and the edge refinement are in px of disparity of the nearest selected view."""

    device: Device = "cpu"  # where the model and the loss run
    seed: int = 0  # seeds the view subsets and the densification sample
    # optimise stage; False: the plain diffusion of the sparse points (no other stage either)
    optimize: bool = True
    max_views: int = 4  # views the reference is compared with (select_views)
    max_angle: float = 60.0  # ... whose viewing direction is within this many degrees
    # ... and whose baseline is at most this many times the shortest of them: a view at twice
    # the baseline matched worse than it helped (Tsukuba, see `points.pinhole.select_views`)
    max_baseline_ratio: float = 1.5
    n_views: int = 4  # of those, views drawn at random for each loss evaluation
    densify: bool = True  # densify stage: plane-sweep points before optimising
    # its settings, in px of disparity of the nearest view
    sweep: SweepConfig = field(
        default_factory=lambda: SweepConfig(
            step=0.125, window=7, min_ratio=1.2, exclude=1.0, max_levels=96
        )
    )
    # the widest disparity range (px of the view that moves most) the densifying sweep covers;
    # a wider one (a ring of cameras around an object) gets edge points instead
    max_sweep_px: float = 96.0
    densify_points: int = 0  # points added at RGB edges after the first Q phase
    edge_points_wide: int = 3000  # ... instead when the baseline is too wide for the sweep
    postfilter: bool = True  # post-filter stage: the colour-weighted median
    median: MedianConfig = field(default_factory=MedianConfig)  # its settings
    edge_refine: bool = True  # re-choose the pixels beside depth edges after optimising
    # its settings, in px of disparity of the nearest view
    refine: EdgeRefineConfig = field(
        default_factory=lambda: EdgeRefineConfig(jump=0.5, min_change=0.25)
    )
    refine_relative: float = 0.05  # ... its jump is at least this fraction of the median
    fill_hidden: bool = True  # pixels no view sees take the farther neighbour's value
    cross_check_views: int = 1  # ... and so do pixels inconsistent with these views' sweeps
    # ... only those near a depth edge of the map (False: every pixel; on a Tsukuba pair the
    # whole map's check leaves fewer pixels > 1 px wrong, benchmarks/results/mvs.md)
    cross_check_edges_only: bool = False
    # the sweep of the checked views: ``sweep`` with this window and adaptive support (see
    # SweepConfig.gamma): beside an occluder a box window gives the occluder's label to the
    # background, and the check then passes the halo of the occluder it is there to find
    cross_check_window: int = 11
    cross_check_gamma: float = 0.05
    # model stage: the robust occlusion order and occlusion cuts (cut_jump in px of disparity
    # of the nearest view), as on a light field
    model: ModelConfig = field(default_factory=ModelConfig.light_field)
    optim: OptimConfig = field(  # optimise stage, with the light field's anchors
        default_factory=lambda: OptimConfig.multi_view().replace(prior_value=0.1, prior_xy=0.01)
    )
    loss: LossConfig = field(default_factory=LossConfig.multi_view)  # optimise stage
    support: SupportConfig = field(default_factory=SupportConfig)  # validity and confidence

    mode: ClassVar[str] = "multi_view"  # its entry in PRESETS

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.max_baseline_ratio >= 1.0:
            raise ValueError(
                f"MultiViewConfig.max_baseline_ratio must be >= 1, got {self.max_baseline_ratio}"
            )

    @classmethod
    def default(cls) -> MultiViewConfig:
        """Every stage, on the schedule of the "default" preset."""
        return cls.preset("default")

    @classmethod
    def preset(cls, name: str) -> MultiViewConfig:
        """The config of the named entry of `PRESETS` (fast, default, paper)."""
        return _preset(cls, name)

    @classmethod
    def plain(cls) -> MultiViewConfig:
        """The plain diffusion of the sparse points (no optimisation, no other stage)."""
        return cls(optimize=False)


# ---------------------------------------------------------------------------- presets

#: The schedules of ``diffdepth run --preset``: per run kind, the changes to its config
#: (``LightFieldConfig()`` or ``MultiViewConfig()``, which hold the paper's schedule), nested as
#: in ``config.json``.  "default" fits a laptop CPU (a light field within about 150 s, a
#: multi-view image within about 60 s on 2 cores; benchmarks/README.md says how it was
#: measured); "paper" is the schedule of the paper and the SPEC (section 6).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "fast": {
        "light_field": {"optim": {"passes": 1, "iters_per_phase": 5}},
        "multi_view": {"optim": {"passes": 1, "iters_per_phase": 3}, "n_views": 2},
    },
    "default": {
        "light_field": {"optim": {"passes": 2, "iters_per_phase": 8}},
        "multi_view": {"optim": {"passes": 1, "iters_per_phase": 4}, "n_views": 3},
    },
    "paper": {
        "light_field": {"optim": {"passes": 5, "iters_per_phase": 13}},
        # 50 smoothness-only iterations, then the points at RGB edges, then 5 x 25 per phase
        "multi_view": {"optim": {"passes": 5, "iters_per_phase": 25, "first_q_iters": 50}},
    },
}


def _preset(cls: type[C], name: str) -> C:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return cls.from_dict(PRESETS[name][cls.mode], f"preset {name}", cls())


def describe_preset(name: str) -> str:
    """The schedules of a preset in words, e.g. for ``--help``: passes x phases x Adam steps
    per phase of each run kind, and what else the preset sets."""
    parts = []
    for kind, label in ((LightFieldConfig, "light field"), (MultiViewConfig, "multi-view")):
        config = kind.preset(name)
        o = config.optim
        text = f"{label} {o.passes}x{len(o.phases)}x{o.iters_per_phase} steps"
        if o.first_q_iters:
            text = f"{label} {o.first_q_iters} smoothness steps, then " + text[len(label) + 1 :]
        if isinstance(config, MultiViewConfig):
            text += f" of {config.n_views} views each"
        parts.append(text)
    return ", ".join(parts)


# ---------------------------------------------------------------------------- dict round trip


def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls, globalns=globals())


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _union_args(tp: Any) -> tuple | None:
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


def _check_literals(tp: Any, value: Any, where: str) -> None:
    """Raise ValueError when value is not one of the choices of a Literal (inside a tuple or
    an Optional too)."""
    if get_origin(tp) is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            raise ValueError(f"{where} must be one of {choices}, not {value!r}")
    elif get_origin(tp) is tuple and isinstance(value, tuple):
        args = get_args(tp)
        for i, v in enumerate(value):
            _check_literals(args[0] if args[-1] is Ellipsis else args[i], v, where)
    elif (args := _union_args(tp)) is not None and value is not None:
        for a in args:
            if a is not type(None):
                _check_literals(a, value, where)


def _parse(tp: Any, value: Any, where: str, current: Any = None) -> Any:
    """value (from JSON-like data) checked against the annotation tp and converted to it; a
    mapping for a nested config changes ``current`` (the value it replaces) key by key."""
    if (args := _union_args(tp)) is not None:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for a in options:
            try:
                return _parse(a, value, where, current)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    if isinstance(tp, type) and issubclass(tp, Config):
        return tp.from_dict(value, where, current if isinstance(current, tp) else None)
    origin = get_origin(tp)
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            raise ValueError(f"{where}: expected one of {choices}, found {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, found {value!r}")
        args = get_args(tp)
        if args[-1] is Ellipsis:
            return tuple(_parse(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where}: expected {len(args)} values, found {len(value)}")
        return tuple(_parse(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, found {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, found {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, found {value!r}")
        return value
    raise TypeError(f"{where}: no parser for the annotation {tp!r}")  # a field type to add here


__all__ = [
    "Config",
    "EPIConfig",
    "EdgeRefineConfig",
    "LightFieldConfig",
    "LossConfig",
    "MedianConfig",
    "ModelConfig",
    "MultiViewConfig",
    "OptimConfig",
    "PRESETS",
    "Preset",
    "SupportConfig",
    "SweepConfig",
    "describe_preset",
]
