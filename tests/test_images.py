import numpy as np
import pytest
import torch
from PIL import Image

from linnet import images
from linnet.errors import LinnetError
from linnet.images import ImageError, load_image


def save(tmp_path, name, array, mode, fmt):
    path = tmp_path / name
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path, format=fmt)
    return path


def bar_on_white(h, w, colour=False):
    """A black vertical bar on white (the usual look of a photo or a drawing)."""
    a = np.full((h, w), 255, dtype=np.uint8)
    a[:, w * 2 // 5: w * 3 // 5] = 0
    return np.stack([a, a, a], axis=-1) if colour else a


def bright_square_on_black(h, w):
    a = np.zeros((h, w), dtype=np.uint8)
    a[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 230
    return a


@pytest.mark.parametrize("name, h, w, colour, fmt", [
    ("big-colour.png", 200, 300, True, "PNG"),
    ("small-grey.png", 5, 7, False, "PNG"),
    ("tiny.png", 1, 1, False, "PNG"),
    ("colour.jpg", 64, 48, True, "JPEG"),
    ("grey.jpeg", 120, 90, False, "JPEG"),
])
@pytest.mark.parametrize("size", [(28, 28), (8, 8)])
def test_load_image_gives_one_grey_channel_in_unit_range(tmp_path, name, h, w, colour, fmt, size):
    array = bar_on_white(h, w, colour)
    path = save(tmp_path, name, array, "RGB" if colour else "L", fmt)
    x = load_image(path, size)
    assert x.shape == (1, *size)
    assert x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.isfinite(x).all()


def test_rgba_and_palette_images_are_accepted(tmp_path):
    rgba = np.zeros((30, 30, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[10:20, 10:20, :3] = 255
    p1 = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(p1)
    p2 = tmp_path / "palette.png"
    Image.fromarray(bright_square_on_black(30, 30)).convert("P").save(p2)
    for p in (p1, p2):
        x = load_image(p, (10, 10))
        assert x.shape == (1, 10, 10) and float(x[0, 5, 5]) > 0.8 and float(x[0, 0, 0]) < 0.1


def test_a_light_background_is_inverted(tmp_path):
    path = save(tmp_path, "bar.png", bar_on_white(40, 40), "L", "PNG")
    x = load_image(path, (40, 40))[0]
    assert float(x[:, 18:22].mean()) > 0.9      # the black bar is now bright
    assert float(x[:, :10].mean()) < 0.1        # the white background is now dark
    assert float(x[:, 30:].mean()) < 0.1


def test_a_dark_background_is_kept(tmp_path):
    path = save(tmp_path, "square.png", bright_square_on_black(40, 40), "L", "PNG")
    x = load_image(path, (40, 40))[0]
    assert float(x[20, 20]) == pytest.approx(230 / 255, abs=0.02)
    assert float(x[0, 0]) == 0.0


def test_a_colour_photo_like_image_matches_its_grey_version(tmp_path):
    grey = bar_on_white(60, 90)
    p_grey = save(tmp_path, "g.png", grey, "L", "PNG")
    p_rgb = save(tmp_path, "c.png", bar_on_white(60, 90, colour=True), "RGB", "PNG")
    assert torch.allclose(load_image(p_grey, (28, 28)), load_image(p_rgb, (28, 28)), atol=1e-6)


def test_a_wide_image_is_padded_to_a_square_not_stretched(tmp_path):
    # a white 20x60 image with a black 20x20 square in the middle: after inversion, padding and
    # resizing to 30x30 the square stays a square in the middle band, the padding stays dark
    a = np.full((20, 60), 255, dtype=np.uint8)
    a[:, 20:40] = 0
    x = load_image(save(tmp_path, "wide.png", a, "L", "PNG"), (30, 30))[0]
    assert float(x[:8].max()) < 0.05 and float(x[-8:].max()) < 0.05      # padding above and below
    assert float(x[12:18, 12:18].min()) > 0.9                            # the square
    assert float(x[12:18, :8].max()) < 0.1 and float(x[12:18, -8:].max()) < 0.1


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty.png: is empty") as info:
        load_image(path, (28, 28))
    assert str(path) in str(info.value)
    assert isinstance(info.value, LinnetError)


def test_a_file_that_is_not_an_image_is_refused(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"these are words, not pixels\n" * 20)
    with pytest.raises(ImageError, match=r"notes.jpg: not an image file linnet can read"):
        load_image(path, (28, 28))


def test_a_truncated_image_is_refused(tmp_path):
    path = save(tmp_path, "cut.png", bar_on_white(100, 100, colour=True), "RGB", "PNG")
    path.write_bytes(path.read_bytes()[:120])
    with pytest.raises(ImageError, match=r"cut.png: cannot be read as an image"):
        load_image(path, (28, 28))


def test_a_directory_is_refused(tmp_path):
    d = tmp_path / "photos.png"
    d.mkdir()
    with pytest.raises(ImageError, match=r"photos.png: is a directory, expected an image file"):
        load_image(d, (28, 28))


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ImageError, match=r"nowhere.png: cannot be read as an image"):
        load_image(tmp_path / "nowhere.png", (28, 28))


def test_an_image_over_max_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = save(tmp_path, "large.png", bar_on_white(40, 50), "L", "PNG")
    monkeypatch.setattr(images, "MAX_PIXELS", 40 * 50 - 1)
    decoded = []
    monkeypatch.setattr(Image.Image, "convert", lambda self, *a, **k: decoded.append(1))
    with pytest.raises(ImageError, match=r"large.png: 50x40 pixels is larger than"):
        load_image(path, (28, 28))
    assert decoded == []
    monkeypatch.undo()
    monkeypatch.setattr(images, "MAX_PIXELS", 40 * 50)        # exactly at the limit: accepted
    assert load_image(path, (28, 28)).shape == (1, 28, 28)


def test_a_16_bit_grey_png_keeps_its_grey_levels(tmp_path):
    a = np.full((30, 30), 20000, dtype=np.uint16)        # mid-grey background (0.305)
    a[10:20, 10:20] = 60000                              # a light square (0.916)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")                   # really decoded as 16-bit
    x = load_image(path, (30, 30))[0]
    assert float(x[0, 0]) == pytest.approx(20000 / 65535, abs=0.01)   # not clipped to white
    assert float(x[15, 15]) == pytest.approx(60000 / 65535, abs=0.01)


def test_a_drawing_on_a_transparent_background_is_seen_on_white(tmp_path):
    """Dark strokes on transparent pixels (whose RGB is black): flattened onto white, then inverted,
    so the stroke comes out bright on dark like the training data, not all black."""
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)         # fully transparent black everywhere
    rgba[5:35, 18:22] = (0, 0, 0, 255)                    # an opaque black vertical bar
    path = tmp_path / "drawing.png"
    Image.fromarray(rgba, "RGBA").save(path)
    x = load_image(path, (20, 20))
    assert float(x[:, 4:16, 9:11].mean()) > 0.6           # the bar is bright
    assert float(x[:, :, :5].mean()) < 0.05               # the background is dark


def test_the_exif_orientation_of_a_photo_is_applied(tmp_path):
    bar = np.full((20, 40), 255, dtype=np.uint8)
    bar[8:12, :] = 0                                      # a horizontal dark bar, stored as is
    exif = Image.Exif()
    exif[0x0112] = 6                                      # "rotate 90 degrees clockwise to display"
    path = tmp_path / "photo.jpg"
    Image.fromarray(bar, "L").save(path, exif=exif.tobytes(), quality=95)
    x = load_image(path, (40, 40))[0]
    column_means, row_means = x.mean(0), x.mean(1)
    assert float(column_means.max()) > 0.4 and float(row_means.max()) < 0.3   # shown as a vertical bar


def _padded_square_reference(grey: np.ndarray, size) -> torch.Tensor:
    """The former way: pad to a max(h, w) float square, then resize it (fine for small images)."""
    h, w = grey.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = grey / 255.0
    x = torch.nn.functional.interpolate(torch.from_numpy(square)[None, None], size=size, mode="bilinear",
                                        antialias=True, align_corners=False)
    return x[0].clamp(0, 1)


@pytest.mark.parametrize("h, w", [(20, 60), (60, 20), (37, 37), (9, 100)])
def test_scaling_into_the_box_matches_padding_to_a_square(tmp_path, h, w):
    a = bright_square_on_black(h, w)
    x = load_image(save(tmp_path, "a.png", a, "L", "PNG"), (28, 28))
    # the same picture, up to rounding at the edges of the centred image
    assert float((x - _padded_square_reference(a, (28, 28))).abs().mean()) < 0.02


@pytest.mark.parametrize("h, w", [(1, 3_000), (3_000, 1), (2, 10_000)])
def test_an_extreme_aspect_ratio_makes_no_square_of_its_long_side(tmp_path, h, w):
    import tracemalloc
    path = save(tmp_path, "line.png", np.full((h, w), 255, dtype=np.uint8), "L", "PNG")   # white: inverted
    tracemalloc.start()
    try:
        x = load_image(path, (28, 28))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.shape == (1, 28, 28) and float(x.max()) == 0.0      # a white line on white, inverted: all dark
    assert peak < 4 * h * w + (1 << 20)      # a float square of the long side would be 36-400 MB here


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path, monkeypatch):
    path = save(tmp_path, "big.jpg", bar_on_white(800, 1200), "L", "JPEG")
    sizes = []
    real = Image.Image.convert
    monkeypatch.setattr(Image.Image, "convert", lambda self, *a, **k: sizes.append(self.size) or real(self, *a, **k))
    x = load_image(path, (28, 28))
    assert sizes and max(sizes) <= (150, 100)          # 1/8 scale: 150x100, never the full 1200x800
    assert float(x[0, 13, 12:16].mean()) > 0.5         # the bar, inverted, still there
