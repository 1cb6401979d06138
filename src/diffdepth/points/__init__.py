"""Initial point sources: EPI line detection, COLMAP, CSV files, sampling protocols."""

from diffdepth.points.base import PointSet
from diffdepth.points.epi import EPIConfig, detect_epi_points

__all__ = ["EPIConfig", "PointSet", "detect_epi_points"]
