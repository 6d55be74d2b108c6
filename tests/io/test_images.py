"""The safe image loader on real files of every awkward kind."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from study_app.errors import ImageError
from study_app.io.images import load_image, sha256_file


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims a huge size: a decompression bomb's signature."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_plain_jpeg(tmp_path):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (60, 40), (10, 200, 30)).save(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (60, 40)


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (60, 40)).save(path, exif=exif)
    assert load_image(path).size == (40, 60)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: Image.new("CMYK", (20, 10), (0, 255, 0, 0)).save(p.with_suffix(".jpg")) or p.with_suffix(".jpg"),
        lambda p: Image.new("I;16", (20, 10), 40000).save(p.with_suffix(".png")) or p.with_suffix(".png"),
        lambda p: Image.new("LA", (20, 10), (100, 0)).save(p.with_suffix(".png")) or p.with_suffix(".png"),
    ],
    ids=["cmyk", "16-bit", "grey-alpha"],
)
def test_odd_modes_become_rgb(tmp_path, make):
    image = load_image(make(tmp_path / "odd"))
    assert image.mode == "RGB" and image.size == (20, 10)


def test_palette_transparency_is_flattened_on_white(tmp_path):
    path = tmp_path / "p.png"
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0] * 256)
    image.save(path, transparency=0)
    assert load_image(path).getpixel((0, 0)) == (255, 255, 255)


def test_animated_gif_gives_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert load_image(path).getpixel((5, 5))[0] > 200


def test_wrong_extension_still_loads(tmp_path):
    path = tmp_path / "really-a-png.jpg"
    Image.new("RGB", (5, 5)).save(path, format="PNG")
    assert load_image(path).size == (5, 5)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "not an image"), (b"hello world", "not an image")],
    ids=["zero-bytes", "text"],
)
def test_not_images(tmp_path, content, reason):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "t.jpg"
    Image.effect_noise((200, 200), 50).convert("RGB").save(path, quality=95)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ImageError, match="truncated"):
        load_image(path)


def test_decompression_bomb_is_refused_without_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    png_header_only(path, 50_000, 50_000)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(path)


def test_study_pixel_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    with pytest.raises(ImageError, match="over the limit of 5,000"):
        load_image(path, max_pixels=5000)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nothing.jpg")


def test_sha256_of_bytes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
