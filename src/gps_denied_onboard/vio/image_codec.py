"""sensor_msgs/Image payloads to the grey (H, W) uint8 image the VIO tracks (no rclpy).

The fields come in as plain values (``encoding``, ``height``, ``width``, ``step``, ``data``), so
the node converts a message without the core knowing its type. Rows may be padded
(``step > width * bytes_per_pixel``); the padding is dropped. Bayer and other raw encodings are
out of scope: a driver publishing them must debayer first.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from gps_denied_onboard.vio.errors import VioInputError

if TYPE_CHECKING:
    from array import array
    from typing import TypeAlias

    ImageData: TypeAlias = bytes | bytearray | memoryview | array[int]  # what rclpy's uint8[] may hold

GreyImage = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class _Layout:
    """How one encoding lays out a pixel, and how it becomes grey."""

    channels: int
    bytes_per_channel: int
    to_grey: int | None  # cv2.cvtColor code; None: already one channel

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.bytes_per_channel


ENCODINGS = MappingProxyType(
    {
        "mono8": _Layout(1, 1, None),
        "mono16": _Layout(1, 2, None),
        "rgb8": _Layout(3, 1, cv2.COLOR_RGB2GRAY),
        "bgr8": _Layout(3, 1, cv2.COLOR_BGR2GRAY),
        "rgba8": _Layout(4, 1, cv2.COLOR_RGBA2GRAY),
        "bgra8": _Layout(4, 1, cv2.COLOR_BGRA2GRAY),
    }
)
"""The sensor_msgs/Image encodings ``decode_image`` accepts."""


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise VioInputError(f"image: {name} must be a positive integer, got {value!r}")
    return int(value)


def decode_image(
    encoding: str,
    height: int,
    width: int,
    step: int,
    data: ImageData,
    *,
    is_bigendian: bool | int = False,
) -> GreyImage:
    """The (height, width) uint8 grey image of a sensor_msgs/Image's fields; a new array, not a view of ``data``.

    mono16 keeps its 8 most significant bits. Raises VioInputError naming what is wrong: an unknown
    encoding, a non-positive size, a step shorter than a row, or fewer than ``step * height`` bytes.
    Bytes beyond ``step * height`` are ignored.
    """
    layout = ENCODINGS.get(encoding)
    if layout is None:
        raise VioInputError(f"image: encoding {encoding!r} is not supported (supported: {sorted(ENCODINGS)})")
    rows, cols = _positive_int("height", height), _positive_int("width", width)
    if isinstance(step, bool) or not isinstance(step, int | np.integer):
        raise VioInputError(f"image: step must be an integer, got {step!r}")
    row_bytes = cols * layout.bytes_per_pixel
    if step < row_bytes:
        raise VioInputError(f"image: step {step} is shorter than a row of {cols} {encoding} pixels ({row_bytes} bytes)")
    try:
        buffer = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError as exc:  # not a buffer, or a strided view
        raise VioInputError(f"image: data must be a contiguous byte buffer, got {type(data).__name__}") from exc
    expected = int(step) * rows
    if buffer.size < expected:
        raise VioInputError(
            f"image: {buffer.size} bytes of data, expected step * height = {step} * {rows} = {expected}"
        )
    pixels = buffer[:expected].reshape(rows, int(step))[:, :row_bytes]
    if layout.bytes_per_channel == 2:
        dtype = np.dtype(">u2" if is_bigendian else "<u2")
        wide = np.ascontiguousarray(pixels).view(dtype).reshape(rows, cols)
        return (wide >> 8).astype(np.uint8)
    if layout.to_grey is None:
        return np.array(pixels, dtype=np.uint8, copy=True)
    colour = np.ascontiguousarray(pixels).reshape(rows, cols, layout.channels)
    return np.asarray(cv2.cvtColor(colour, layout.to_grey), dtype=np.uint8)
