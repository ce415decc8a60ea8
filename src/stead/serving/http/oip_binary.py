"""The binary tensor data extension of the Open Inference Protocol (KServe's and
Triton's), which ``tritonclient.http`` uses by default.

A request with an ``Inference-Header-Content-Length: N`` header is N bytes of JSON, then
the raw bytes of every input whose ``parameters`` carry ``"binary_data_size"``, one after
the other in the order of ``inputs``: little-endian, row-major, no padding; BOOL is one
byte (0 or 1); a BYTES element is a 4-byte little-endian unsigned length and that many
bytes (UTF-8 text here, since contract fields are text).

An output goes back the same way when the request asks: ``"binary_data": true`` in the
output's ``parameters``, or ``"binary_data_output": true`` in the request's for every
output not listed otherwise. The answer is then its JSON (each such output with
``"binary_data_size"`` and no ``"data"``), then the outputs' bytes, with the JSON's
length in the response's ``Inference-Header-Content-Length``.

The codec works on the JSON form: binary inputs become the ``data`` lists a JSON request
would carry, and a JSON answer becomes binary last, so both paths validate, predict,
store and replay the same thing.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from stead.core.errors import UsageError
from stead.serving.http.responses import dump, load

HEADER = "inference-header-content-length"
OCTETS = "application/octet-stream"

FIXED: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("u1"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DATATYPES = ", ".join([*FIXED, "BYTES"])
_LENGTH = struct.Struct("<I")


def read_header(body: bytes, header_length: str) -> tuple[Any, memoryview]:
    """The JSON at the start of a binary request, and the tensor bytes after it.

    Raises:
        UsageError: the header length is not a byte count within the body, or those
            bytes are not JSON.
    """
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if length < 0:
        raise UsageError(
            f"the Inference-Header-Content-Length header must be the byte length of the "
            f"JSON at the start of the body; got {header_length!r}"
        )
    if length > len(body):
        raise UsageError(
            f"Inference-Header-Content-Length is {length} but the body has only "
            f"{len(body)} bytes; it must be the byte length of the JSON at its start"
        )
    try:
        payload = load(body[:length])
    except UsageError as exc:
        raise UsageError(
            f"the first {length} bytes of the body (Inference-Header-Content-Length) must "
            f"be the request's JSON: {exc.message}"
        ) from exc
    return payload, memoryview(body)[length:]


def read_inputs(inputs: list[Any], blob: memoryview) -> None:
    """Give each input sent as binary (``binary_data_size``) its ``data`` from ``blob``.

    Raises:
        UsageError: the sizes do not add up to ``blob``, or a tensor's bytes do not
            match its datatype and shape.
    """
    offset = 0
    for position, tensor in enumerate(inputs):
        size = binary_size(tensor, f"inputs[{position}]")
        if size is None:
            continue
        name = tensor.get("name", f"inputs[{position}]")
        if "data" in tensor:
            raise UsageError(
                f'input {name!r} has both "data" and "binary_data_size"; send its values one way'
            )
        left = len(blob) - offset
        if size > left:
            raise UsageError(
                f"input {name!r}: binary_data_size is {size} bytes but only {left} bytes "
                "are left after the JSON header and the inputs before it; the inputs' "
                "binary_data_size must add up to the bytes after the JSON header"
            )
        tensor["data"] = _decode(
            name, tensor.get("datatype"), tensor.get("shape"), blob, offset, size
        )
        offset += size
    if offset != len(blob):
        raise UsageError(
            f"{len(blob)} bytes follow the JSON header (Inference-Header-Content-Length) "
            f"but the inputs' binary_data_size add up to {offset}; they must be equal"
        )


def binary_size(tensor: Any, where: str) -> int | None:
    """A tensor's ``parameters.binary_data_size``, if it has one.

    Raises:
        UsageError: it is not a byte count.
    """
    parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
    if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
        return None
    size = parameters["binary_data_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise UsageError(
            f"{where}: parameters.binary_data_size must be a byte count (an integer ≥ 0); "
            f"got {size!r}"
        )
    return size


def _decode(
    name: Any, datatype: Any, shape: Any, blob: memoryview, offset: int, size: int
) -> list[Any]:
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise UsageError(
            f"input {name!r}: a binary tensor needs its shape, a list of sizes ≥ 0 such as "
            f"[n] or [n, 1]; got {shape!r}"
        )
    count = math.prod(shape)
    if datatype == "BYTES":
        return _strings(name, blob[offset : offset + size], count, shape)
    dtype = FIXED.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise UsageError(f"input {name!r}: datatype {datatype!r} is not one of {DATATYPES}")
    if size != count * dtype.itemsize:
        raise UsageError(
            f"input {name!r}: shape {shape} of {datatype} is {count} values of "
            f"{dtype.itemsize} bytes, {count * dtype.itemsize} bytes, but binary_data_size "
            f"is {size}"
        )
    values = np.frombuffer(blob, dtype, count, offset)
    if datatype == "BOOL":
        if count and values.max() > 1:
            raise UsageError(f"input {name!r}: a BOOL value is one byte, 0 or 1")
        return values.astype(bool).tolist()
    return values.tolist()


def _strings(name: Any, raw: memoryview, count: int, shape: list[int]) -> list[str]:
    data = bytes(raw)  # slicing bytes is cheaper than slicing a memoryview
    end = len(data)
    pieces: list[bytes] = []
    append, unpack = pieces.append, _LENGTH.unpack_from
    position = 0
    while position < end:
        if position + 4 > end:
            raise UsageError(
                f"input {name!r} (BYTES): element {len(pieces)}'s 4-byte length runs past "
                f"the input's {end} bytes (binary_data_size)"
            )
        (length,) = unpack(data, position)
        position += 4
        stop = position + length
        if stop > end:
            raise UsageError(
                f"input {name!r} (BYTES): element {len(pieces)} says {length} bytes but "
                f"only {end - position} of the input's {end} bytes are left"
            )
        append(data[position:stop])
        position = stop
    if len(pieces) != count:
        raise UsageError(
            f"input {name!r} (BYTES): shape {shape} is {count} values but its "
            f"binary_data_size bytes hold {len(pieces)}"
        )
    try:
        return [piece.decode() for piece in pieces]
    except UnicodeDecodeError:
        for index, piece in enumerate(pieces):
            try:
                piece.decode()
            except UnicodeDecodeError as exc:
                raise UsageError(
                    f"input {name!r} (BYTES): element {index} is not UTF-8 text ({exc.reason})"
                ) from exc
        raise


Wanted = Callable[[str], bool]


def binary_outputs(payload: dict[str, Any]) -> Wanted | None:
    """Which outputs the request wants as binary (``None``: none of them).

    Raises:
        UsageError: ``binary_data`` or ``binary_data_output`` is not a boolean.
    """
    parameters, outputs = payload.get("parameters"), payload.get("outputs")
    if not parameters and not outputs:  # a plain JSON request: answer JSON
        return None
    default = False
    if isinstance(parameters, dict) and "binary_data_output" in parameters:
        default = _flag(parameters["binary_data_output"], "parameters.binary_data_output")
    chosen: dict[Any, bool] = {}
    for position, output in enumerate(outputs if isinstance(outputs, list) else []):
        wish = output.get("parameters") if isinstance(output, dict) else None
        if isinstance(wish, dict) and "binary_data" in wish:
            where = f"outputs[{position}].parameters.binary_data"
            chosen[output.get("name")] = _flag(wish["binary_data"], where)
    if not default and not any(chosen.values()):
        return None
    return lambda name: chosen.get(name, default)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{where} must be true or false; got {value!r}")
    return value


def encode(body: dict[str, Any], wanted: Wanted) -> tuple[bytes, dict[str, str]]:
    """A JSON answer with the ``wanted`` outputs as binary, and the response headers."""
    outputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for output in body["outputs"]:
        if wanted(output["name"]):
            raw = _encode(output["datatype"], output["data"])
            output = {k: v for k, v in output.items() if k != "data"}
            output["parameters"] = {**output.get("parameters", {}), "binary_data_size": len(raw)}
            blobs.append(raw)
        outputs.append(output)
    if not blobs:
        return dump(body), {}
    header = dump({**body, "outputs": outputs})
    return b"".join([header, *blobs]), {"content-type": OCTETS, HEADER: str(len(header))}


def _encode(datatype: str, data: list[Any]) -> bytes:
    if datatype == "BYTES":
        # No null in binary BYTES: a missing value is the empty string.
        texts = [b"" if v is None else v if isinstance(v, bytes) else str(v).encode() for v in data]
        return b"".join(_LENGTH.pack(len(t)) + t for t in texts)
    if datatype == "BOOL":
        return np.asarray(data, dtype=bool).tobytes()
    # A missing float is NaN (JSON says null).
    return np.asarray(data, dtype=FIXED[datatype]).tobytes()
