"""Synthetic scenes with exact ground truth."""

from diffdepth.synth.lightfield import Surface, default_scene, make_lightfield
from diffdepth.synth.multiview import make_multiview
from diffdepth.synth.scenes import SCENES, make_scene

__all__ = ["SCENES", "Surface", "default_scene", "make_lightfield", "make_multiview", "make_scene"]
