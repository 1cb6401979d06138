"""Initial point sources: EPI line detection, COLMAP, CSV files, sampling protocols."""

from diffdepth.points.base import PointSet

__all__ = ["PointSet"]
