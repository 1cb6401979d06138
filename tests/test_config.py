"""The configs: presets, the strict dict round trip, checked Literal fields."""

import dataclasses
import json

import pytest

from diffdepth.config import (
    EdgeRefineConfig,
    EPIConfig,
    LightFieldConfig,
    LossConfig,
    ModelConfig,
    MultiViewConfig,
    OptimConfig,
)

KINDS = [
    LightFieldConfig(),
    LightFieldConfig.plain(),
    LightFieldConfig(epi=EPIConfig.few_views(), views="all"),
    MultiViewConfig(),
    MultiViewConfig.plain(),
]


@pytest.mark.parametrize("config", KINDS, ids=lambda c: type(c).__name__)
def test_round_trip_through_json(config):
    data = json.loads(json.dumps(config.to_dict()))
    back = type(config).from_dict(data)
    assert back == config and back.to_dict() == data
    assert isinstance(back.optim.lr, tuple) and isinstance(back.optim.phases, tuple)


def test_absent_keys_keep_their_defaults():
    # a nested mapping changes the run kind's preset of that stage, key by key
    cfg = LightFieldConfig.from_dict({"optim": {"passes": 2}, "seed": 3})
    assert cfg.optim == OptimConfig.light_field().replace(passes=2) and cfg.seed == 3
    assert cfg.model == LightFieldConfig().model and cfg.epi is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"optim": {"iters_per_phse": 2}},
            r"LightFieldConfig\.optim: unknown key 'iters_per_phse' \(did you mean 'iters_per_ph",
        ),
        ({"edge_refin": False}, r"unknown key 'edge_refin' \(did you mean 'edge_refine'\?\)"),
        (
            {"views": "row"},
            r"LightFieldConfig\.views: expected one of 'crosshair', 'all', found 'row'",
        ),
        ({"optim": {"passes": 2.5}}, r"optim\.passes: expected an integer, found 2\.5"),
        ({"densify": 1}, r"densify: expected true or false"),
        ({"optim": {"lr": [0.1, 0.1]}}, r"optim\.lr: expected 4 values, found 2"),
        ({"optim": {"phases": ["Q", "depth"]}}, r"optim\.phases\[1\]: expected one of"),
        ({"epi": {"tile": "big"}}, r"epi\.tile: expected an integer"),
        ({"model": 3}, r"model: expected a mapping"),
        ({"model": {"adjoint_tol": 0}}, r"ModelConfig\.adjoint_tol must be in \(0, 1\) or null"),
        ({"model": {"adjoint_tol": "loose"}}, r"model\.adjoint_tol: expected a number"),
    ],
)
def test_bad_keys_and_values_are_named(data, message):
    with pytest.raises(ValueError, match=message):
        LightFieldConfig.from_dict(data)


def test_literal_fields_are_checked_on_construction():
    with pytest.raises(ValueError, match=r"LightFieldConfig\.device must be one of"):
        LightFieldConfig(device="tpu")
    with pytest.raises(ValueError, match=r"LossConfig\.distance"):
        LossConfig(distance="lab")
    with pytest.raises(ValueError, match=r"OptimConfig\.phases"):
        OptimConfig(phases=("Q", "depth"))
    with pytest.raises(ValueError, match=r"EPIConfig\.polish_views"):
        EPIConfig(polish_views="row")
    with pytest.raises(dataclasses.FrozenInstanceError):
        LightFieldConfig().seed = 1
    with pytest.raises(ValueError, match="odd"):
        EdgeRefineConfig(window=4)


def test_presets():
    plain = LightFieldConfig.plain()
    assert not (plain.densify or plain.optimize or plain.postfilter or plain.edge_refine)
    assert plain.model == ModelConfig() and plain.model.order == "depth"
    default = LightFieldConfig.default()
    assert default.densify and default.optimize and default.postfilter and default.edge_refine
    assert default.model.order == "robust" and default.loss.edge_mask_jump > 0
    assert EPIConfig.for_grid(1, 5) == EPIConfig.few_views() == EPIConfig.for_grid(7, 1)
    assert EPIConfig.for_grid(9, 9) == EPIConfig.light_field() != EPIConfig.few_views()
    mv = MultiViewConfig()
    assert (
        mv.loss.w_ssim > 0
        and mv.optim.densify_after_first_q
        and not MultiViewConfig.plain().optimize
    )
    assert LossConfig.light_field(distance="vgg").distance == "vgg"
