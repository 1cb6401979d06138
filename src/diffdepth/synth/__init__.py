"""Synthetic scenes with exact ground truth."""

from diffdepth.synth.lightfield import Surface, default_scene, make_lightfield

__all__ = ["Surface", "default_scene", "make_lightfield"]
