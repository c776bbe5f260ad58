import numpy as np
import pytest
import torch
from PIL import Image

from linnet.d2l.transforms import Compose, Resize, ToTensor
from linnet.errors import ConfigError

rng = np.random.default_rng(0)
GREY = rng.integers(0, 256, size=(28, 20), dtype=np.uint8)
RGB = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)


def test_to_tensor_takes_pil_images_and_uint8_arrays_as_torchvision_does():
    for pic in (Image.fromarray(GREY), GREY):
        x = ToTensor()(pic)
        assert x.shape == (1, 28, 20) and x.dtype == torch.float32
        assert torch.equal(x[0], torch.from_numpy(GREY).float() / 255)
    x = ToTensor()(Image.fromarray(RGB))
    assert x.shape == (3, 6, 5)                                     # (H, W, C) -> (C, H, W)
    assert torch.equal(x, torch.from_numpy(RGB).permute(2, 0, 1).float() / 255)


def test_to_tensor_scales_only_uint8_and_passes_float_tensors_through():
    floats = np.full((4, 4), 0.5, dtype=np.float64)
    assert torch.equal(ToTensor()(floats), torch.full((1, 4, 4), 0.5))        # not divided by 255
    t = torch.rand(1, 28, 28)
    assert torch.equal(ToTensor()(t), t)                                      # a linnet split item stays as it is
    assert torch.equal(ToTensor()(torch.from_numpy(GREY)), torch.from_numpy(GREY)[None].float() / 255)


@pytest.mark.parametrize("bad, match", [
    ("img.png", "ToTensor: the image must be a PIL image, a numpy array or a tensor. Got str."),
    (np.zeros((2, 2, 2, 2), np.uint8), r"ToTensor: the image must be \(H, W\) or \(H, W, C\). Got shape \(2, 2, 2, 2\)."),
])
def test_to_tensor_rejects_what_is_not_an_image(bad, match):
    with pytest.raises(ConfigError, match=match):
        ToTensor()(bad)


def test_resize_keeps_pil_as_pil_and_tensors_as_tensors():
    img = Resize((14, 10))(Image.fromarray(GREY))
    assert isinstance(img, Image.Image) and img.size == (10, 14)               # PIL sizes are (w, h)
    t = Resize((14, 10))(torch.from_numpy(GREY).float()[None] / 255)
    assert t.shape == (1, 14, 10) and t.dtype == torch.float32
    u = Resize(7)(torch.from_numpy(GREY))
    assert u.shape == (9, 7) and u.dtype == torch.uint8                       # int: the shorter side, ratio kept
    assert Resize([7])(Image.fromarray(GREY)).size == (7, 9)


def test_resize_of_pil_and_of_tensor_agree():
    via_pil = ToTensor()(Resize(64)(Image.fromarray(GREY[:20])))
    via_tensor = Resize(64)(ToTensor()(GREY[:20]))
    assert via_pil.shape == via_tensor.shape == (1, 64, 64)
    assert (via_pil - via_tensor).abs().mean() < 0.02


def test_resize_a_constant_image_stays_constant():
    flat = torch.full((1, 28, 28), 0.25)
    assert torch.allclose(Resize(64)(flat), torch.full((1, 64, 64), 0.25))


@pytest.mark.parametrize("size, match", [
    (0, "The 'size' parameter must be an int >= 1. Got 0."),
    ((64, 0), "The 'size' parameter must be an int >= 1. Got 0."),
    ((1, 2, 3), r"The 'size' parameter must be an int or \(height, width\). Got \(1, 2, 3\)."),
    ("64", "The 'size' parameter must be an int >= 1. Got '64'."),
])
def test_resize_validates_its_size(size, match):
    with pytest.raises(ConfigError, match=match):
        Resize(size)


def test_resize_rejects_what_is_not_an_image():
    with pytest.raises(ConfigError, match="Resize: the image must be a PIL image or a tensor"):
        Resize(4)(GREY)


def test_compose_applies_in_order_and_checks_its_members():
    trans = Compose([Resize(14), ToTensor()])
    x = trans(Image.fromarray(GREY))
    assert x.shape == (1, 19, 14) and x.dtype == torch.float32
    assert repr(trans) == "Compose(Resize(size=14), ToTensor())"
    with pytest.raises(ConfigError, match="Compose: every transform must be callable. Got 3."):
        Compose([ToTensor(), 3])
