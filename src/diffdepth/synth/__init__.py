"""Synthetic scenes with exact ground truth."""

from diffdepth.synth.lightfield import Surface, default_scene, make_lightfield
from diffdepth.synth.multiview import make_multiview

__all__ = ["Surface", "default_scene", "make_lightfield", "make_multiview"]
