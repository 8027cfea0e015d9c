"""decode_image: every supported encoding to grey, row padding, and each malformed payload refused by name."""

from __future__ import annotations

from array import array

import cv2
import numpy as np
import pytest

from gps_denied_onboard.vio.errors import VioInputError
from gps_denied_onboard.vio.image_codec import ENCODINGS, decode_image

H, W = 6, 9


def grey_ramp() -> np.ndarray:
    """A (H, W) uint8 image whose every pixel differs from its neighbours."""
    return (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 4 % 256).astype(np.uint8)


def colour(grey: np.ndarray) -> np.ndarray:
    """An (H, W, 3) RGB image with distinct channels, so a swapped channel order shows."""
    return np.dstack((grey, 255 - grey, (grey // 2) + 30)).astype(np.uint8)


def padded(rows: np.ndarray, pad: int) -> tuple[int, bytes]:
    """Each row of ``rows`` (H, row_bytes) followed by ``pad`` junk bytes: (step, data)."""
    junk = np.full((rows.shape[0], pad), 0xAB, dtype=np.uint8)
    data = np.hstack((rows, junk))
    return data.shape[1], data.tobytes()


def test_the_supported_list_is_what_the_brief_names() -> None:
    assert sorted(ENCODINGS) == ["bgr8", "bgra8", "mono16", "mono8", "rgb8", "rgba8"]


def test_mono8_is_returned_as_is_and_owns_its_pixels() -> None:
    image = grey_ramp()
    data = bytearray(image.tobytes())
    out = decode_image("mono8", H, W, W, data)
    assert out.dtype == np.uint8
    assert out.shape == (H, W)
    np.testing.assert_array_equal(out, image)
    data[0] ^= 0xFF  # the message buffer is reused: the decoded image must not change with it
    assert out[0, 0] == image[0, 0]


@pytest.mark.parametrize("container", [bytes, bytearray, memoryview, lambda b: array("B", b)])
def test_every_buffer_type_rclpy_may_hand_over(container: object) -> None:
    image = grey_ramp()
    out = decode_image("mono8", H, W, W, container(image.tobytes()))  # type: ignore[operator]
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("big_endian", [False, True])
def test_mono16_keeps_the_high_byte(big_endian: bool) -> None:
    wide = (np.arange(H * W, dtype=np.uint32).reshape(H, W) * 1201 % 65536).astype(np.uint16)
    data = wide.astype(">u2" if big_endian else "<u2").tobytes()
    out = decode_image("mono16", H, W, 2 * W, data, is_bigendian=big_endian)
    np.testing.assert_array_equal(out, (wide >> 8).astype(np.uint8))


def test_mono16_endianness_flag_accepts_the_message_uint8() -> None:
    wide = np.full((H, W), 0x1234, dtype=np.uint16)
    out = decode_image("mono16", H, W, 2 * W, wide.astype(">u2").tobytes(), is_bigendian=1)
    assert np.all(out == 0x12)


@pytest.mark.parametrize(
    ("encoding", "channels", "code"),
    [
        ("rgb8", "rgb", cv2.COLOR_RGB2GRAY),
        ("bgr8", "bgr", cv2.COLOR_BGR2GRAY),
        ("rgba8", "rgba", cv2.COLOR_RGBA2GRAY),
        ("bgra8", "bgra", cv2.COLOR_BGRA2GRAY),
    ],
)
def test_colour_encodings_convert_with_their_channel_order(encoding: str, channels: str, code: int) -> None:
    rgb = colour(grey_ramp())
    planes = {"r": rgb[..., 0], "g": rgb[..., 1], "b": rgb[..., 2], "a": np.full((H, W), 200, dtype=np.uint8)}
    pixels = np.dstack([planes[c] for c in channels])
    out = decode_image(encoding, H, W, W * len(channels), pixels.tobytes())
    expected = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert out.shape == (H, W)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out, cv2.cvtColor(np.ascontiguousarray(pixels), code))


def test_rgb_and_bgr_differ_on_a_coloured_image() -> None:
    data = colour(grey_ramp()).tobytes()
    assert not np.array_equal(decode_image("rgb8", H, W, 3 * W, data), decode_image("bgr8", H, W, 3 * W, data))


@pytest.mark.parametrize("encoding", ["mono8", "mono16", "rgb8", "bgra8"])
def test_row_padding_is_dropped(encoding: str) -> None:
    grey = grey_ramp()
    if encoding == "mono8":
        rows = grey
    elif encoding == "mono16":
        rows = (grey.astype("<u2") << 8).view(np.uint8).reshape(H, 2 * W)
    elif encoding == "rgb8":
        rows = colour(grey).reshape(H, 3 * W)
    else:
        bgra = np.dstack((colour(grey)[..., ::-1], np.full((H, W), 9, dtype=np.uint8)))
        rows = np.ascontiguousarray(bgra).reshape(H, 4 * W)
    tight = decode_image(encoding, H, W, rows.shape[1], rows.tobytes())
    step, data = padded(rows, pad=7)
    np.testing.assert_array_equal(decode_image(encoding, H, W, step, data), tight)
    if encoding == "mono16":
        np.testing.assert_array_equal(tight, grey)


def test_bytes_beyond_step_times_height_are_ignored() -> None:
    image = grey_ramp()
    out = decode_image("mono8", H, W, W, image.tobytes() + b"\x00" * 5)
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("encoding", ["yuv422", "bayer_rggb8", "16UC1", "MONO8", ""])
def test_unknown_encoding_names_it_and_the_supported_list(encoding: str) -> None:
    with pytest.raises(VioInputError, match=r"encoding .* is not supported") as info:
        decode_image(encoding, H, W, W, bytes(H * W))
    message = str(info.value)
    assert repr(encoding) in message
    assert all(name in message for name in ENCODINGS)


@pytest.mark.parametrize(
    ("height", "width", "field"),
    [(0, W, "height"), (H, 0, "width"), (-3, W, "height"), (H, -1, "width"), (True, W, "height"), (H, 2.5, "width")],
)
def test_non_positive_or_non_integer_sizes_are_refused(height: object, width: object, field: str) -> None:
    with pytest.raises(VioInputError, match=f"{field} must be a positive integer"):
        decode_image("mono8", height, width, W, bytes(H * W))  # type: ignore[arg-type]


@pytest.mark.parametrize(("encoding", "step"), [("mono8", W - 1), ("mono16", 2 * W - 1), ("rgb8", 2 * W), ("rgba8", 0)])
def test_a_step_shorter_than_a_row_is_refused(encoding: str, step: int) -> None:
    with pytest.raises(VioInputError, match=rf"step {step} is shorter than a row"):
        decode_image(encoding, H, W, step, bytes(4 * H * W))


def test_a_non_integer_step_is_refused() -> None:
    with pytest.raises(VioInputError, match="step must be an integer"):
        decode_image("mono8", H, W, float(W), bytes(H * W))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("encoding", "step", "size"),
    [("mono8", W, H * W - 1), ("mono8", W + 3, (W + 3) * H - 3), ("rgb8", 3 * W, 0), ("mono16", 2 * W, 2 * W * H - 1)],
)
def test_data_shorter_than_step_times_height_is_refused(encoding: str, step: int, size: int) -> None:
    with pytest.raises(VioInputError, match=rf"{size} bytes of data, expected step \* height = {step} \* {H}"):
        decode_image(encoding, H, W, step, bytes(size))


def test_data_that_is_not_a_contiguous_buffer_is_refused() -> None:
    strided = np.zeros((H, 2 * W), dtype=np.uint8)[:, ::2].data  # a memoryview with strides
    with pytest.raises(VioInputError, match="contiguous byte buffer"):
        decode_image("mono8", H, W, W, strided)
    with pytest.raises(VioInputError, match="contiguous byte buffer"):
        decode_image("mono8", H, W, W, [0] * (H * W))  # type: ignore[arg-type]
