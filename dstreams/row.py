"""``Row``: the element type of column-shaped streams, as in ``pyspark.sql.Row``."""

from __future__ import annotations

from typing import Any


class Row(tuple):
    """A record with named fields: ``Row(word="a", n=1)``; attribute, index and key access.

    >>> r = Row(word="hello", n=2)
    >>> r.word, r[1], r["n"], r.asDict()
    ('hello', 2, 2, {'word': 'hello', 'n': 2})
    >>> r
    Row(word='hello', n=2)
    """

    __fields__: tuple[str, ...]

    def __new__(cls, *args: Any, **kwargs: Any) -> Row:
        if args and kwargs:
            raise ValueError("Row takes either positional values or keyword fields, not both")
        if kwargs:
            row = tuple.__new__(cls, kwargs.values())
            row.__fields__ = tuple(kwargs)
            return row
        # Row("word", "n") makes a row *class* in PySpark; calling it fills the fields.
        row = tuple.__new__(cls, args)
        row.__fields__ = ()
        return row

    @classmethod
    def from_fields(cls, names, values) -> Row:
        row = tuple.__new__(cls, values)
        row.__fields__ = tuple(names)
        return row

    def __call__(self, *values: Any) -> Row:
        if self.__fields__:
            raise TypeError("only a Row made of field names can be called to make rows")
        if len(values) != len(self):
            raise ValueError(f"expected {len(self)} values for fields {tuple(self)}, got {len(values)}")
        return Row.from_fields(tuple(self), values)

    def asDict(self, recursive: bool = False) -> dict[str, Any]:
        if not self.__fields__:
            raise TypeError("Cannot convert a Row class into dict")

        def convert(v: Any) -> Any:
            if recursive and isinstance(v, Row):
                return v.asDict(True)
            if recursive and isinstance(v, list):
                return [convert(x) for x in v]
            return v

        return {k: convert(v) for k, v in zip(self.__fields__, self)}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[self.__fields__.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __getitem__(self, item):  # type: ignore[override]
        if isinstance(item, str):
            try:
                return tuple.__getitem__(self, self.__fields__.index(item))
            except ValueError:
                raise KeyError(item) from None
        return tuple.__getitem__(self, item)

    def __contains__(self, item: object) -> bool:
        return item in self.__fields__ if self.__fields__ else tuple.__contains__(self, item)

    def __repr__(self) -> str:
        if self.__fields__:
            return "Row(" + ", ".join(f"{k}={v!r}" for k, v in zip(self.__fields__, self)) + ")"
        return "<Row(" + ", ".join(repr(v) for v in self) + ")>"

    def __reduce__(self):
        return (Row.from_fields, (self.__fields__, tuple(self)))
