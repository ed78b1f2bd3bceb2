"""The batched augmentation must equal torchvision's per-image PIL pipeline for the same draws."""
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from core import augment
from core.trainer import MEAN, STD


def torchvision_reference(image: torch.Tensor, d, i: int, normalize: bool) -> torch.Tensor:
    """RandomHorizontalFlip -> RandomVerticalFlip -> RandomAffine -> ToTensor (-> Normalize) on PIL."""
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    if d.hflip[i]:
        pil = TF.hflip(pil)
    if d.vflip[i]:
        pil = TF.vflip(pil)
    pil = TF.affine(pil, angle=0.0, translate=[int(d.tx[i]), int(d.ty[i])], scale=float(d.scale[i]),
                    shear=[0.0, 0.0], interpolation=InterpolationMode.NEAREST, fill=0)
    out = T.ToTensor()(pil)
    return T.Normalize(MEAN, STD)(out) if normalize else out


@pytest.mark.parametrize("normalize", [False, True])
def test_equal_to_torchvision_for_the_same_draws(normalize):
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (400, 3, 32, 32), dtype=torch.uint8, generator=g)
    d = augment.draw(len(images), g)
    ours = augment.apply(images, d).float().div(255)
    if normalize:
        ours = (ours - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    for i in range(len(images)):
        ref = torchvision_reference(images[i], d, i, normalize)
        assert torch.allclose(ours[i], ref, atol=1e-6), f"image {i} differs"


def test_uint8_output_is_bit_exact():
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8, generator=g)
    d = augment.draw(len(images), g)
    ours = augment.apply(images, d)
    for i in range(len(images)):
        ref = (torchvision_reference(images[i], d, i, False) * 255).round().to(torch.uint8)
        assert torch.equal(ours[i], ref)


def test_draws_follow_torchvisions_ranges_and_differ_per_image():
    d = augment.draw(20_000, torch.Generator().manual_seed(0))
    assert set(d.tx.unique().tolist()) == set(range(-3, 4))     # round(U(-3.2, 3.2))
    assert set(d.ty.unique().tolist()) == set(range(-10, 11))   # round(U(-9.6, 9.6))
    assert 1.1 <= d.scale.min() and d.scale.max() <= 1.2
    assert abs(d.hflip.float().mean() - 0.5) < 0.02
    assert abs(d.vflip.float().mean() - 0.2) < 0.02


def test_identity_draw_is_a_zoom_not_a_copy():
    """scale >= 1.1 always: even with no shift or flip the border pixels change."""
    images = torch.arange(32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(1, 1, 32, 32).repeat(1, 3, 1, 1)
    d = augment.AffineDraw(torch.tensor([False]), torch.tensor([False]), torch.tensor([0]), torch.tensor([0]),
                           torch.tensor([1.15]))
    out = augment.apply(images, d)
    assert not torch.equal(out, images)
    assert torch.equal(out[0, :, 16, 16], images[0, :, 16, 16])  # the centre stays


def test_fill_is_zero_where_the_shift_uncovers():
    images = torch.full((1, 3, 32, 32), 200, dtype=torch.uint8)
    d = augment.AffineDraw(torch.tensor([False]), torch.tensor([False]), torch.tensor([0]), torch.tensor([10]),
                           torch.tensor([1.1]))
    out = augment.apply(images, d)
    assert (out[0, :, :5] == 0).all() and (out[0, :, 20:] == 200).all()


@pytest.mark.parametrize("normalize", [False, True])
def test_trainer_input_equals_totensor_then_normalize(normalize):
    from core.config import make_config
    from core.data import synthetic
    from core.trainer import prepare, to_input

    config = make_config({"dataset": "synthetic", "device": "cpu", "normalize": normalize})
    run = prepare(config, synthetic(8, 8), torch.device("cpu"))
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    ours = to_input(run, images)
    for i in range(len(images)):
        ref = T.ToTensor()(Image.fromarray(images[i].permute(1, 2, 0).numpy()))
        if normalize:
            ref = T.Normalize(MEAN, STD)(ref)
        assert torch.equal(ours[i], ref)
