"""Scene readers and writers: images, disparity maps, PFM, light fields, multi-view scenes,
point files."""

from diffdepth.io.atomic import atomic_write, save_npy_atomic, save_text_atomic
from diffdepth.io.errors import InputError
from diffdepth.io.images import read_disparity_map, read_image
from diffdepth.io.lightfield import LightField, LightFieldLayout, read_lightfield, scan_lightfield
from diffdepth.io.mvs import (
    MultiViewScene,
    is_multiview,
    read_middlebury_cameras,
    read_multiview,
    validate_cameras,
)
from diffdepth.io.pfm import read_pfm, write_pfm
from diffdepth.io.points_csv import read_points_csv, write_points_csv

__all__ = [
    "InputError",
    "LightField",
    "LightFieldLayout",
    "MultiViewScene",
    "is_multiview",
    "read_middlebury_cameras",
    "read_multiview",
    "atomic_write",
    "read_disparity_map",
    "read_image",
    "read_lightfield",
    "read_pfm",
    "read_points_csv",
    "save_npy_atomic",
    "save_text_atomic",
    "scan_lightfield",
    "validate_cameras",
    "write_pfm",
    "write_points_csv",
]
