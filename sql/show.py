"""``DataFrame.show()``: Spark's text table, character for character.

Spark (``Dataset.showString``, 3.5 and 4.x) turns every cell into a string (``ToPrettyString``),
escapes control characters, cuts cells longer than ``truncate`` to ``truncate - 3`` characters plus
``...``, pads every column to its widest cell (at least 3; East Asian wide characters count twice)
and right-aligns cells and headers; ``truncate=False`` left-aligns instead. Cells read as Spark
prints them: ``NULL``, ``true``/``false``, doubles as Java's ``Double.toString`` (``1.0E7``),
arrays ``[1, 2]``, structs ``{1, a}``, maps ``{a -> 1}``, binary ``[01 FF]``.

>>> print(format_table(["word", "n"], [pa.string(), pa.int64()], [("a", 2), ("bb", None)], 20, 20), end="")
+----+----+
|word|   n|
+----+----+
|   a|   2|
|  bb|NULL|
+----+----+
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import re
import struct
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

_MIN_WIDTH = 3
_FULL_WIDTH = re.compile(
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6]"
)
_ESCAPES = str.maketrans(
    {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f", "\b": "\\b", "\v": "\\v", "\a": "\\a"}
)
NULL = "NULL"


def format_table(
    names: Sequence[str],
    types: Sequence[pa.DataType],
    rows: Sequence[Sequence[Any]],
    num_rows: int,
    truncate: int,
    vertical: bool = False,
) -> str:
    """The text ``show(num_rows, truncate, vertical)`` prints (without ``print``'s final newline).

    ``rows`` holds up to ``num_rows + 1`` rows; one more than ``num_rows`` adds the
    ``only showing top n rows`` footer.
    """
    num_rows = max(num_rows, 0)
    has_more = len(rows) > num_rows
    header = [escape(n) for n in names]
    cells = [[_cut(escape(cell_text(v, t)), truncate) for v, t in zip(row, types)] for row in rows[:num_rows]]
    text = _vertical(header, cells) if vertical else _horizontal(header, cells, truncate)
    if vertical and not cells:
        text += "(0 rows)\n"
    elif has_more:
        text += f"only showing top {num_rows} {'row' if num_rows == 1 else 'rows'}\n"
    return text


def _horizontal(header: list[str], cells: list[list[str]], truncate: int) -> str:
    widths = [_MIN_WIDTH] * len(header)
    for row in [header, *cells]:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], half_width(cell))

    def line(row: list[str]) -> str:
        padded = []
        for cell, width in zip(row, widths):
            pad = " " * (width - half_width(cell))
            padded.append(pad + cell if truncate > 0 else cell + pad)
        return "|" + "|".join(padded) + "|\n"

    sep = "+" + "+".join("-" * w for w in widths) + "+\n"
    return sep + line(header) + sep + "".join(line(r) for r in cells) + sep


def _vertical(header: list[str], cells: list[list[str]]) -> str:
    name_width = max([_MIN_WIDTH, *(half_width(h) for h in header)])
    data_width = max([_MIN_WIDTH, *(half_width(c) for row in cells for c in row)])
    out = []
    for i, row in enumerate(cells):
        out.append(f"-RECORD {i}".ljust(name_width + data_width + 5, "-") + "\n")
        for name, cell in zip(header, row):
            name_pad = " " * (name_width - half_width(name))
            cell_pad = " " * (data_width - half_width(cell))
            out.append(f" {name}{name_pad} | {cell}{cell_pad} \n")
    return "".join(out)


def half_width(text: str) -> int:
    """Display width as Spark counts it: full-width (East Asian) characters count twice."""
    return len(text) + len(_FULL_WIDTH.findall(text))


def escape(text: str) -> str:
    """Spark's ``escapeMetaCharacters``: control characters as ``\\n``, ``\\t``... so rows stay one line."""
    return text.translate(_ESCAPES)


def _cut(text: str, truncate: int) -> str:
    if truncate > 0 and len(text) > truncate:
        return text[:truncate] if truncate < 4 else text[: truncate - 3] + "..."
    return text


def truncate_width(truncate: bool | int) -> int:
    """PySpark's ``show(truncate=...)``: True means 20, False means 0 (no cutting)."""
    if isinstance(truncate, bool):
        return 20 if truncate else 0
    return int(truncate)


# -- cells ---------------------------------------------------------------------------------------
def cell_text(value: Any, arrow_type: pa.DataType) -> str:
    """One value as Spark's ``ToPrettyString`` writes it."""
    if value is None:
        return NULL
    if pa.types.is_boolean(arrow_type):
        return "true" if value else "false"
    if pa.types.is_float32(arrow_type) or pa.types.is_float16(arrow_type):
        return java_float(value, single=True)
    if pa.types.is_floating(arrow_type):
        return java_float(value)
    if pa.types.is_decimal(arrow_type):
        return format(value, "f") if isinstance(value, decimal.Decimal) else str(value)
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
    ):
        return "[" + " ".join(f"{b:02X}" for b in value) + "]"
    if pa.types.is_timestamp(arrow_type):
        return _timestamp(value)
    if pa.types.is_date(arrow_type):
        return value.isoformat()
    if pa.types.is_time(arrow_type):
        return _fraction(value.strftime("%H:%M:%S"), value.microsecond)
    if pa.types.is_map(arrow_type):
        kt, vt = arrow_type.key_type, arrow_type.item_type
        return "{" + ", ".join(f"{cell_text(k, kt)} -> {cell_text(v, vt)}" for k, v in value) + "}"
    if pa.types.is_struct(arrow_type):
        parts = [cell_text(value.get(f.name), f.type) for f in arrow_type]
        return "{" + ", ".join(parts) + "}"
    if _is_list(arrow_type):
        item = arrow_type.value_type
        return "[" + ", ".join(cell_text(v, item) for v in value) + "]"
    if pa.types.is_dictionary(arrow_type):
        return cell_text(value, arrow_type.value_type)
    return str(value)


def _is_list(t: pa.DataType) -> bool:
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def _timestamp(value: Any) -> str:
    if not isinstance(value, _dt.datetime):  # out of Python's range: pyarrow gives an int or Timestamp
        return str(value)
    if value.tzinfo is not None:  # Spark shows instants in the session (local) time zone
        value = value.astimezone().replace(tzinfo=None)
    return _fraction(value.strftime("%Y-%m-%d %H:%M:%S"), value.microsecond)


def _fraction(text: str, microsecond: int) -> str:
    return f"{text}.{microsecond:06d}".rstrip("0") if microsecond else text


def java_float(value: float, single: bool = False) -> str:
    """Java's ``Double.toString`` (or ``Float.toString``): ``1.0``, ``0.001``, ``1.0E7``, ``1.0E-4``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if single:
        value = struct.unpack("<f", struct.pack("<f", value))[0]
    digits, exponent = _shortest_digits(abs(value), single)  # value = 0.d1d2... * 10**exponent
    sign = "-" if value < 0 else ""
    if 1e-3 <= abs(value) < 1e7:
        if exponent <= 0:
            return f"{sign}0.{'0' * -exponent}{digits}"
        whole, frac = digits[:exponent].ljust(exponent, "0"), digits[exponent:]
        return f"{sign}{whole}.{frac or '0'}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent - 1}"


def _shortest_digits(value: float, single: bool) -> tuple[str, int]:
    """Shortest decimal digits that read back as ``value`` (as float32 when ``single``)."""
    if single:
        want = struct.pack("<f", value)
        for precision in range(1, 10):
            text = f"{value:.{precision - 1}e}"
            try:
                if struct.pack("<f", float(text)) == want:
                    break
            except OverflowError:  # rounded past the largest float32
                continue
    else:
        text = repr(value)
    shortest = decimal.Decimal(text).normalize()
    if len(shortest.as_tuple().digits) == 1:
        # Java picks the closest of the 1- and 2-digit decimals that read back as the value
        # (only differs for subnormals: Float.MIN_VALUE prints as 1.4E-45).
        shortest = _closest_two_digits(value, shortest, single)
    parts = shortest.as_tuple()
    digits = "".join(map(str, parts.digits))
    return digits, len(digits) + int(parts.exponent)


def _closest_two_digits(value: float, one: decimal.Decimal, single: bool) -> decimal.Decimal:
    exact = decimal.Decimal(value)
    two = exact.quantize(decimal.Decimal(1).scaleb(exact.adjusted() - 1), rounding=decimal.ROUND_HALF_EVEN)
    try:
        back = float(two)
        same = struct.pack("<f", back) == struct.pack("<f", value) if single else back == value
    except OverflowError:
        return one
    return two.normalize() if same and abs(two - exact) < abs(one - exact) else one
