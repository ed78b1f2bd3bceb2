"""The study's augmentation, per image, on a whole uint8 batch at once, on any device.

It reproduces torchvision's PIL pipeline
    RandomHorizontalFlip(0.5) -> RandomVerticalFlip(0.2)
    -> RandomAffine(degrees=0, translate=(0.1, 0.3), scale=(1.1, 1.2))   (nearest, fill 0)
with its own random draw for every image (transforms.v2 draws one per batch call).

With no rotation or shear the affine is separable: output row y reads input
row iy(y) and output column x reads column ix(x), and PIL's nearest-neighbour
scale (ImagingScaleAffine) picks
    i(k) = floor(a0 * (k + 0.5) + a2),  a0 = 1/s,  a2 = c - (c + t)/s,  c = 16
or fill when that falls outside the image. Flips before the affine just
mirror the index. So each image needs two 32-long index vectors and the
whole batch is one gather, exact to the pixel.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

SIZE = 32
TRANSLATE = (0.1, 0.3)  # fraction of width, height
SCALE = (1.1, 1.2)
P_HFLIP, P_VFLIP = 0.5, 0.2


@dataclass(frozen=True)
class AffineDraw:
    """The random parameters of one batch: one row per image."""
    hflip: torch.Tensor  # bool (B,)
    vflip: torch.Tensor  # bool (B,)
    tx: torch.Tensor     # int (B,) pixels
    ty: torch.Tensor     # int (B,)
    scale: torch.Tensor  # float (B,)


def draw(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> AffineDraw:
    """Draw parameters with torchvision's distributions (translation rounded half-to-even)."""
    u = torch.rand(5, n, generator=generator, device=device, dtype=torch.float64)
    max_dx, max_dy = TRANSLATE[0] * SIZE, TRANSLATE[1] * SIZE
    return AffineDraw(
        hflip=u[0] < P_HFLIP,
        vflip=u[1] < P_VFLIP,
        tx=torch.round((u[2] * 2 - 1) * max_dx).long(),
        ty=torch.round((u[3] * 2 - 1) * max_dy).long(),
        scale=(SCALE[0] + u[4] * (SCALE[1] - SCALE[0])).float(),
    )


def _source_index(shift: torch.Tensor, scale: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """(B, 32) source index per output position; -1 where PIL fills."""
    inv = 1.0 / scale.double()[:, None]
    centre = SIZE * 0.5
    a2 = centre + inv * (-centre - shift.double()[:, None])
    k = torch.arange(SIZE, device=shift.device, dtype=torch.float64)[None, :]
    pos = inv * (k + 0.5) + a2
    idx = torch.where(pos < 0, torch.full_like(pos, -1), torch.floor(pos)).long()
    idx = torch.where(idx >= SIZE, torch.full_like(idx, -1), idx)
    # the flip happened before the affine: read the mirrored source pixel
    mirrored = torch.where(idx >= 0, SIZE - 1 - idx, idx)
    return torch.where(flip[:, None], mirrored, idx)


def apply(images: torch.Tensor, d: AffineDraw) -> torch.Tensor:
    """Augment a uint8 batch (B, C, 32, 32) with the drawn parameters; returns uint8."""
    b, c, h, w = images.shape
    iy = _source_index(d.ty, d.scale, d.vflip)  # (B, 32)
    ix = _source_index(d.tx, d.scale, d.hflip)
    valid = (iy >= 0)[:, :, None] & (ix >= 0)[:, None, :]  # (B, 32, 32)
    rows = iy.clamp(min=0)[:, None, :, None].expand(b, c, h, w)
    out = images.gather(2, rows)
    cols = ix.clamp(min=0)[:, None, None, :].expand(b, c, h, w)
    out = out.gather(3, cols)
    return out * valid[:, None].to(out.dtype)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return apply(images, draw(len(images), generator, images.device))
