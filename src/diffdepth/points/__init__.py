"""Initial point sources: EPI line detection, COLMAP, CSV files, sampling protocols."""

from diffdepth.config import EPIConfig
from diffdepth.points.epi import detect_epi_points
from diffdepth.types import PointSet

__all__ = ["EPIConfig", "PointSet", "detect_epi_points"]
