"""Library face of the command line: everything ``diffdepth run`` does is a call here.

lf = diffdepth.io.read_lightfield("scene/")
result = run_lightfield(lf, points=None, config=LightFieldConfig())
write_lightfield_outputs(result, lf, "out/")

scene = diffdepth.io.read_multiview("photos/")
result = run_multiview(scene, ref=None, config=MultiViewConfig())
write_multiview_outputs(result, scene, "out/")
"""

from diffdepth.config import LightFieldConfig, MultiViewConfig
from diffdepth.pipeline.lightfield import LightFieldResult, run_lightfield, write_lightfield_outputs

#: the former name of `LightFieldConfig`
RunConfig = LightFieldConfig

__all__ = [
    "LightFieldConfig",
    "LightFieldResult",
    "MultiViewConfig",
    "RunConfig",
    "run_lightfield",
    "write_lightfield_outputs",
]
