"""Spark SQL data types (``pyspark.sql.types`` names), each mapped to one Arrow type.

They exist so that ``df.schema``, ``printSchema()``, ``dtypes`` and ``createDataFrame(data, schema)``
read as in Spark. Data itself is always Arrow; these classes only describe it.

>>> schema = StructType([StructField("word", StringType()), StructField("n", LongType())])
>>> schema.simpleString()
'struct<word:string,n:bigint>'
>>> schema.to_arrow()
word: string
n: int64
>>> parse_ddl("word string, n int").simpleString()
'struct<word:string,n:int>'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from dstreams.errors import SchemaError


class DataType:
    """Base class: ``simpleString()`` is Spark's name, ``to_arrow()`` the Arrow type."""

    _name = ""  # simpleString(), as in dtypes and DDL: "bigint"
    _type_name = ""  # typeName(), as in printSchema(): "long"
    _arrow: pa.DataType = pa.null()

    def simpleString(self) -> str:
        return self._name

    def typeName(self) -> str:
        return self._type_name or self._name

    def to_arrow(self) -> pa.DataType:
        return self._arrow

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.simpleString()))


def _atomic(class_name: str, spark_name: str, arrow: pa.DataType, type_name: str = "") -> type[DataType]:
    attrs = {"_name": spark_name, "_type_name": type_name, "_arrow": arrow, "__doc__": f"``{spark_name}``"}
    return type(class_name, (DataType,), attrs)


NullType = _atomic("NullType", "void", pa.null())
StringType = _atomic("StringType", "string", pa.string())
BinaryType = _atomic("BinaryType", "binary", pa.binary())
BooleanType = _atomic("BooleanType", "boolean", pa.bool_())
ByteType = _atomic("ByteType", "tinyint", pa.int8(), "byte")
ShortType = _atomic("ShortType", "smallint", pa.int16(), "short")
IntegerType = _atomic("IntegerType", "int", pa.int32(), "integer")
LongType = _atomic("LongType", "bigint", pa.int64(), "long")
FloatType = _atomic("FloatType", "float", pa.float32())
DoubleType = _atomic("DoubleType", "double", pa.float64())
DateType = _atomic("DateType", "date", pa.date32())
TimestampType = _atomic("TimestampType", "timestamp", pa.timestamp("us", tz="UTC"))
TimestampNTZType = _atomic("TimestampNTZType", "timestamp_ntz", pa.timestamp("us"))


class DecimalType(DataType):
    def __init__(self, precision: int = 10, scale: int = 0):
        self.precision, self.scale = precision, scale

    def simpleString(self) -> str:
        return f"decimal({self.precision},{self.scale})"

    def typeName(self) -> str:
        return self.simpleString()

    def to_arrow(self) -> pa.DataType:
        return pa.decimal128(self.precision, self.scale)

    def __repr__(self) -> str:
        return f"DecimalType({self.precision}, {self.scale})"


class ArrayType(DataType):
    def __init__(self, elementType: DataType, containsNull: bool = True):
        self.elementType, self.containsNull = elementType, containsNull

    def simpleString(self) -> str:
        return f"array<{self.elementType.simpleString()}>"

    def to_arrow(self) -> pa.DataType:
        return pa.list_(self.elementType.to_arrow())

    def __repr__(self) -> str:
        return f"ArrayType({self.elementType!r}, {self.containsNull})"


class MapType(DataType):
    def __init__(self, keyType: DataType, valueType: DataType, valueContainsNull: bool = True):
        self.keyType, self.valueType, self.valueContainsNull = keyType, valueType, valueContainsNull

    def simpleString(self) -> str:
        return f"map<{self.keyType.simpleString()},{self.valueType.simpleString()}>"

    def to_arrow(self) -> pa.DataType:
        return pa.map_(self.keyType.to_arrow(), self.valueType.to_arrow())

    def __repr__(self) -> str:
        return f"MapType({self.keyType!r}, {self.valueType!r}, {self.valueContainsNull})"


class StructField:
    """A named column: ``StructField("word", StringType(), nullable=True)``."""

    def __init__(self, name: str, dataType: DataType, nullable: bool = True, metadata: dict | None = None):
        self.name, self.dataType, self.nullable = name, dataType, nullable
        self.metadata = metadata or {}

    def simpleString(self) -> str:
        return f"{self.name}:{self.dataType.simpleString()}"

    def to_arrow(self) -> pa.Field:
        return pa.field(self.name, self.dataType.to_arrow(), self.nullable)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StructField) and (self.name, self.dataType, self.nullable) == (
            other.name,
            other.dataType,
            other.nullable,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.dataType, self.nullable))

    def __repr__(self) -> str:
        return f"StructField({self.name!r}, {self.dataType!r}, {self.nullable})"


class StructType(DataType):
    """The schema of a DataFrame (``df.schema``): a list of :class:`StructField`."""

    def __init__(self, fields: Sequence[StructField] | None = None):
        self.fields = list(fields or [])

    def add(self, field: str | StructField, data_type: DataType | str | None = None, nullable: bool = True):
        if isinstance(field, StructField):
            self.fields.append(field)
        else:
            if isinstance(data_type, str):
                data_type = parse_type(data_type)
            self.fields.append(StructField(field, data_type or NullType(), nullable))
        return self

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def fieldNames(self) -> list[str]:
        return self.names

    def simpleString(self) -> str:
        return "struct<" + ",".join(f.simpleString() for f in self.fields) + ">"

    def to_arrow(self) -> pa.Schema:  # type: ignore[override]
        return pa.schema([f.to_arrow() for f in self.fields])

    def treeString(self) -> str:
        """``printSchema()``'s text."""
        lines = ["root"]
        for f in self.fields:
            _tree(lines, f.name, f.dataType, f"nullable = {str(f.nullable).lower()}", 1)
        return "\n".join(lines) + "\n"

    def __iter__(self) -> Iterator[StructField]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __getitem__(self, key: int | str) -> StructField:
        if isinstance(key, str):
            for f in self.fields:
                if f.name == key:
                    return f
            raise KeyError(f"No StructField named {key}")
        return self.fields[key]

    def __repr__(self) -> str:
        return f"StructType([{', '.join(map(repr, self.fields))}])"


def _tree(lines: list[str], name: str, dt: DataType, note: str, depth: int) -> None:
    prefix = " |" + "    |" * (depth - 1) + "-- "
    lines.append(f"{prefix}{name}: {dt.typeName()} ({note})")
    if isinstance(dt, StructType):
        for f in dt.fields:
            _tree(lines, f.name, f.dataType, f"nullable = {str(f.nullable).lower()}", depth + 1)
    elif isinstance(dt, ArrayType):
        _tree(lines, "element", dt.elementType, f"containsNull = {str(dt.containsNull).lower()}", depth + 1)
    elif isinstance(dt, MapType):
        _tree(lines, "key", dt.keyType, "nullable = false", depth + 1)
        _tree(
            lines,
            "value",
            dt.valueType,
            f"valueContainsNull = {str(dt.valueContainsNull).lower()}",
            depth + 1,
        )


ArrayType._name, MapType._name, StructType._name = "array", "map", "struct"


# -- Arrow -> Spark ------------------------------------------------------------------------------
_FROM_ARROW: list[tuple[Any, type[DataType]]] = [
    (pa.types.is_null, NullType),
    (pa.types.is_boolean, BooleanType),
    (pa.types.is_int8, ByteType),
    (lambda t: pa.types.is_int16(t) or pa.types.is_uint8(t), ShortType),
    (lambda t: pa.types.is_int32(t) or pa.types.is_uint16(t), IntegerType),
    (lambda t: pa.types.is_int64(t) or pa.types.is_uint32(t), LongType),
    (lambda t: pa.types.is_float32(t) or pa.types.is_float16(t), FloatType),
    (pa.types.is_float64, DoubleType),
    (
        lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
        StringType,
    ),
    (
        lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t),
        BinaryType,
    ),
    (pa.types.is_date, DateType),
]


def from_arrow(t: pa.DataType | pa.Schema) -> DataType:
    """The Spark type describing an Arrow type (a schema gives a StructType)."""
    if isinstance(t, pa.Schema):
        return StructType([StructField(f.name, from_arrow(f.type), f.nullable) for f in t])
    for test, kind in _FROM_ARROW:
        if test(t):
            return kind()
    if pa.types.is_uint64(t):
        return DecimalType(20, 0)
    if pa.types.is_decimal(t):
        return DecimalType(t.precision, t.scale)
    if pa.types.is_timestamp(t):
        return TimestampType() if t.tz else TimestampNTZType()
    if pa.types.is_map(t):
        return MapType(from_arrow(t.key_type), from_arrow(t.item_type))
    if pa.types.is_struct(t):
        return StructType([StructField(f.name, from_arrow(f.type), f.nullable) for f in t])
    if hasattr(t, "value_type") and not pa.types.is_dictionary(t):  # the list types
        return ArrayType(from_arrow(t.value_type))
    if pa.types.is_dictionary(t):
        return from_arrow(t.value_type)
    return _Other(str(t))


class _Other(DataType):
    """An Arrow type Spark has no name for (time of day, intervals...): shown by its Arrow name."""

    def __init__(self, name: str):
        self._name = name


# -- DDL strings ---------------------------------------------------------------------------------
_NAMED: dict[str, type[DataType]] = {
    "string": StringType,
    "varchar": StringType,
    "binary": BinaryType,
    "boolean": BooleanType,
    "bool": BooleanType,
    "tinyint": ByteType,
    "byte": ByteType,
    "smallint": ShortType,
    "short": ShortType,
    "int": IntegerType,
    "integer": IntegerType,
    "bigint": LongType,
    "long": LongType,
    "float": FloatType,
    "real": FloatType,
    "double": DoubleType,
    "date": DateType,
    "timestamp": TimestampType,
    "timestamp_ltz": TimestampType,
    "timestamp_ntz": TimestampNTZType,
    "void": NullType,
}


def parse_type(text: str) -> DataType:
    """A Spark type name: ``"bigint"``, ``"decimal(10,2)"``, ``"array<string>"``, ``"map<string,int>"``."""
    t = text.strip()
    low = t.lower()
    if low in _NAMED:
        return _NAMED[low]()
    m = re.fullmatch(r"(?:decimal|dec|numeric)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?", low)
    if m:
        return DecimalType(int(m.group(1) or 10), int(m.group(2) or 0))
    m = re.fullmatch(r"array\s*<(.*)>", t, re.S | re.I)
    if m:
        return ArrayType(parse_type(m.group(1)))
    m = re.fullmatch(r"map\s*<(.*)>", t, re.S | re.I)
    if m:
        key, value = _split_top(m.group(1), ",")
        return MapType(parse_type(key), parse_type(value))
    m = re.fullmatch(r"struct\s*<(.*)>", t, re.S | re.I)
    if m:
        return parse_ddl(m.group(1))
    raise SchemaError(f"unknown Spark type {text!r}: use names such as string, bigint, double, decimal(10,2)")


def parse_ddl(text: str) -> StructType:
    """``"word string, n bigint"`` or ``"word: string, n: bigint"`` as a StructType."""
    fields = []
    for part in _split_top(text, ","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"`?([^`:\s]+)`?\s*:?\s+(.+?)(\s+not\s+null)?", part, re.S | re.I)
        if not m:
            m = re.fullmatch(r"`?([^`:\s]+)`?\s*:\s*(.+?)(\s+not\s+null)?", part, re.S | re.I)
        if not m:
            raise SchemaError(f"cannot read {part!r} as 'name type' in the schema {text!r}")
        fields.append(StructField(m.group(1), parse_type(m.group(2)), nullable=m.group(3) is None))
    return StructType(fields)


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside ``<...>`` and ``(...)``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
