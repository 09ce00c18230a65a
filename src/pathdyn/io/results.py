"""One result protocol: every report writes and reads JSON, xarray/netCDF and pandas through here.

A report is a frozen dataclass that subclasses :class:`Record`. Its fields say what they
are, once, in their type annotation and in the metadata :func:`labelled` gives them:

* a field with ``dims`` is an array (or a tuple along one dimension): a variable of the
  xarray ``Dataset``, nested lists in JSON, and, along the report's :attr:`Record.TABLE_DIM`,
  columns of its table;
* a field with ``coord`` holds the labels of one dimension (``widths`` labels ``width``);
* every other field is a scalar, text or a small dictionary: an attribute of the Dataset
  (JSON text where netCDF cannot store it) and an entry of the JSON document, nested under a
  group where :attr:`Record.JSON_GROUPS` says so.

The readers (:meth:`Record.from_json_dict`, :meth:`Record.from_xarray`) rebuild every field
from the same description, so a report read back equals the one written. Numbers that are
not finite are written as JSON ``null`` and read back as NaN (as ``None`` where the field
may be ``None``). Every document names its class (``"record"``), and :func:`record_class`
finds the class again; documents written before that key existed are read as the class the
caller asks for.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, ClassVar, cast

import numpy as np

from pathdyn.errors import ConfigError
from pathdyn.io.reading import parse_json
from pathdyn.io.jsonio import finite_or_none, json_text, save_json, to_jsonable
from pathdyn.io.labelled import require, save_netcdf

__all__ = ["RECORDS", "Record", "field_kind", "labelled", "record_class"]

#: Every record class by name (filled as classes are defined).
RECORDS: dict[str, type] = {}

#: The key of a JSON document or Dataset attribute that names its record class.
RECORD_KEY = "record"

#: Annotation words and the kind of value they stand for, most specific first.
_KINDS = ("ndarray", "tuple", "list", "dict", "bool", "int", "float", "str")


def labelled(*, dims: tuple | None = None, name: str | None = None, coord: str | None = None, dtype: str = "float",
             keyed: bool = False, array_keys: tuple = (), encode: Callable | None = None,
             decode: Callable | None = None, to_xarray: Callable | None = None,
             from_xarray: Callable | None = None, sample: Callable | None = None) -> dict:
    """The metadata of one record field (``dataclasses.field(metadata=labelled(...))``).

    Parameters
    ----------
    dims : tuple of str, optional
        The field is an array with these dimensions.
    name : str, optional
        Its name as an xarray variable and table column (default: the field's name).
    coord : str, optional
        The field labels this dimension (a coordinate of the Dataset).
    dtype : {"float", "bool", "int"}
        Of an array read back.
    keyed : bool
        The field is a dictionary of arrays keyed by the labels of its first dimension.
    array_keys : tuple of str
        For a dictionary field: the entries that are arrays.
    encode, decode : callable, optional
        For a field of another type: to plain JSON values and back.
    to_xarray, from_xarray : callable, optional
        For a field stored as several variables: ``to_xarray(value) -> {name: (dims, array,
        attrs)}`` and ``from_xarray(dataset) -> value`` (None when its variables are absent).
    sample : callable, optional
        For a field of another type: ``sample(sizes, rng) -> value``, an example value for
        dimension sizes ``sizes`` (the round-trip test of every record builds one).

    Returns
    -------
    dict
    """
    return {"dims": dims, "name": name, "coord": coord, "dtype": dtype, "keyed": keyed, "array_keys": tuple(array_keys),
            "encode": encode, "decode": decode, "to_xarray": to_xarray, "from_xarray": from_xarray,
            "sample": sample}


def field_kind(field: dataclasses.Field) -> tuple[str, bool]:
    """The kind of a field's values (``"ndarray"``, ``"tuple"``, ``"float"``, ...) and whether it may be ``None``.

    Parameters
    ----------
    field : dataclasses.Field
        A field of a record class (its annotation is read as text).

    Returns
    -------
    (kind, optional) : (str, bool)
        ``"object"`` for an annotation of another type.
    """
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    parts = [part.strip().removeprefix("np.").removeprefix("numpy.") for part in text.split("|")]
    optional = "None" in parts
    base = next((part for part in parts if part != "None"), "object")
    kind = next((k for k in _KINDS if base == k or base.startswith(k + "[")), "object")
    return kind, optional


def _meta(field: dataclasses.Field) -> dict:
    return {**labelled(), **field.metadata}


def record_class(data: dict, default: type) -> type:
    """The record class a JSON document or Dataset attribute set names, or ``default``.

    Parameters
    ----------
    data : dict
        A document (or ``Dataset.attrs``).
    default : type
        The class for documents that name none (written before the key existed).

    Returns
    -------
    type

    Raises
    ------
    ConfigError
        If the document names a class that is not ``default`` or one of its subclasses.
    """
    name = data.get(RECORD_KEY) if hasattr(data, "get") else None
    if name is None:
        return default
    cls = RECORDS.get(name)
    if cls is None or not issubclass(cls, default):
        raise ConfigError(f"{RECORD_KEY}: {name!r} is not a {default.__name__}; read it with its own class")
    return cls


# ---------------------------------------------------------------------------------------- values
def _encode(field: dataclasses.Field, value: Any) -> Any:
    meta = _meta(field)
    if value is None:
        return None
    if meta["encode"] is not None:
        return meta["encode"](value)
    kind, _ = field_kind(field)
    if kind == "float":
        return finite_or_none(value)
    return to_jsonable(value, non_finite="null")


def _array(value: Any, dtype: str) -> np.ndarray:
    if dtype == "float":
        return np.array(value, dtype=float)  # null (None) becomes NaN
    return np.asarray(value, dtype=dtype)


def _decode(field: dataclasses.Field, value: Any) -> Any:
    meta = _meta(field)
    kind, optional = field_kind(field)
    if value is None:
        return float("nan") if kind == "float" and not optional else None
    if meta["decode"] is not None:
        return meta["decode"](value)
    if meta["keyed"]:
        return {key: _array(item, meta["dtype"]) for key, item in value.items()}
    if kind == "ndarray":
        return _array(value, meta["dtype"])
    if kind == "tuple":
        return tuple(float("nan") if item is None else _plain(item) for item in value)
    if kind == "dict" and meta["array_keys"]:
        return {key: (_array(item, "float") if key in meta["array_keys"] else item) for key, item in value.items()}
    converters: dict[str, Callable] = {"float": float, "int": int, "bool": bool, "str": str, "list": list, "dict": dict}
    return converters.get(kind, lambda v: v)(value)


def _plain(item: Any) -> Any:
    return tuple(item) if isinstance(item, list) else item


# ------------------------------------------------------------------------------------------ JSON
def _groups(cls: Any) -> dict[str, str]:
    """Field name -> the JSON group it is nested under."""
    return {name: group for group, names in cls.JSON_GROUPS.items() for name in names}


def record_to_json(record: "Record") -> dict:
    """The JSON document of a record: every field, grouped, then its extras.

    Parameters
    ----------
    record : Record

    Returns
    -------
    dict
        Plain JSON values; ``"record"`` names the class.
    """
    groups = _groups(type(record))
    out: dict[str, Any] = {group: {} for group in type(record).JSON_GROUPS}
    for field in dataclasses.fields(cast(Any, record)):
        value = _encode(field, getattr(record, field.name))
        (out[groups[field.name]] if field.name in groups else out)[field.name] = value
    for key, value in record.json_extras().items():
        group, _, name = key.rpartition(".")
        (out[group] if group else out)[name] = to_jsonable(value, non_finite="null")
    out[RECORD_KEY] = type(record).__name__
    return out


def record_from_json(cls: type, data: dict) -> "Record":
    """Rebuild a record from :func:`record_to_json` (extras and unknown keys are ignored).

    Parameters
    ----------
    cls : type
        The record class (or a base of the class the document names).
    data : dict

    Returns
    -------
    Record

    Raises
    ------
    ConfigError
        If the document is not a dictionary, names another class, or lacks a field without a default.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} JSON: expected an object, got {type(data).__name__}")
    cls = record_class(data, cls)
    groups = _groups(cls)
    values = {}
    for field in dataclasses.fields(cls):
        source = data.get(groups[field.name], {}) if field.name in groups else data
        if field.name in source:
            values[field.name] = _decode(field, source[field.name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            where = f"{groups[field.name]}.{field.name}" if field.name in groups else field.name
            raise ConfigError(f"{cls.__name__} JSON: missing entry {where!r}; write the file with pathdyn itself")
    return cls(**values)


# ---------------------------------------------------------------------------------------- xarray
def _attribute(field: dataclasses.Field, value: Any) -> Any:
    kind, _ = field_kind(field)
    if kind in ("str", "int", "float") and value is not None and _meta(field)["encode"] is None:
        return value
    return json_text(_encode(field, value))


def record_to_xarray(record: "Record") -> Any:
    """The record as an ``xarray.Dataset``: arrays as variables, labels as coordinates, the rest as attributes.

    Parameters
    ----------
    record : Record

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    ConfigError
        If ``xarray`` is not installed.
    """
    xr = require("xarray")
    coords: dict[str, Any] = {}
    data: dict[str, Any] = {}
    attrs: dict[str, Any] = {"title": type(record).XARRAY_TITLE or type(record).__name__, RECORD_KEY: type(record).__name__}
    for field in dataclasses.fields(cast(Any, record)):
        meta, value = _meta(field), getattr(record, field.name)
        if meta["coord"]:
            coords[meta["coord"]] = (meta["coord"], np.asarray(value))
        elif meta["to_xarray"] is not None:
            if value is not None:
                data.update(meta["to_xarray"](value))
        elif meta["dims"] and meta["keyed"]:
            keys = list(value)
            data[meta["name"] or field.name] = (meta["dims"], np.stack([np.asarray(value[k]) for k in keys]))
            coords.setdefault(meta["dims"][0], (meta["dims"][0], np.asarray(keys)))
        elif meta["dims"]:
            if value is not None and np.size(value):
                data[meta["name"] or field.name] = (meta["dims"], np.asarray(value))
        else:
            attrs[field.name] = _attribute(field, value)
    data.update(record.xarray_extras())
    dataset = xr.Dataset(data, coords=coords, attrs=attrs)
    unlabelled = {dim: np.arange(1, size + 1) for dim, size in dataset.sizes.items() if dim not in dataset.coords}
    return dataset.assign_coords(unlabelled)


def record_from_xarray(cls: type, dataset: Any) -> "Record":
    """Rebuild a record from :func:`record_to_xarray` (or a netCDF file of it).

    Parameters
    ----------
    cls : type
    dataset : xarray.Dataset

    Returns
    -------
    Record

    Raises
    ------
    ConfigError
        If the Dataset names another class or lacks a field without a default.
    """
    cls = record_class(dict(dataset.attrs), cls)
    values = {}
    for field in dataclasses.fields(cls):
        meta = _meta(field)
        kind, optional = field_kind(field)
        name = meta["name"] or field.name
        if meta["coord"]:
            values[field.name] = _decode(field, dataset[meta["coord"]].values.tolist())
        elif meta["from_xarray"] is not None:
            values[field.name] = meta["from_xarray"](dataset)
        elif meta["dims"] and meta["keyed"]:
            keys = dataset[meta["dims"][0]].values.tolist()
            values[field.name] = {str(k): _array(dataset[name].values[i], meta["dtype"]) for i, k in enumerate(keys)}
        elif meta["dims"]:
            if name in dataset:
                array = dataset[name].values
                values[field.name] = _decode(field, array.tolist() if kind in ("tuple", "list") else array)
        elif field.name in dataset.attrs:
            raw = dataset.attrs[field.name]
            plain = kind in ("str", "int", "float") and meta["encode"] is None
            values[field.name] = _decode(field, _from_attribute(raw, kind) if plain else json.loads(raw))
        if field.name not in values and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{cls.__name__} Dataset: missing {name!r}; write it with {cls.__name__}.to_xarray")
    return cls(**values)


def _from_attribute(raw: Any, kind: str) -> Any:
    if isinstance(raw, str) and kind != "str":
        return json.loads(raw)  # a None written as JSON null
    return raw.item() if hasattr(raw, "item") else raw  # a numpy number read from netCDF


# ---------------------------------------------------------------------------------------- pandas
def records_to_dataframe(records: Any, names: Any = None) -> Any:
    """One table row per record and label of its :attr:`Record.TABLE_DIM`.

    Parameters
    ----------
    records : Record or sequence of Record
        Of classes with a :attr:`Record.TABLE_DIM`.
    names : sequence of str, optional
        The ``case`` column (default ``"case 1"``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``case``, the record's :attr:`Record.TABLE_FIELDS` (a pair such as a
        confidence interval as ``_low`` and ``_high``), the dimension's label, and every
        array along that dimension: itself if it has no other dimension, else its
        ``median_``, ``min_`` and ``max_`` over the others and the count of the second
        dimension.

    Raises
    ------
    ConfigError
        When ``names`` and ``records`` differ in length, or pandas is missing.
    """
    pd = require("pandas")
    records = [records] if isinstance(records, Record) else list(records)
    names = list(names) if names is not None else [f"case {k + 1}" for k in range(len(records))]
    if len(names) != len(records):
        raise ConfigError(f"names: {len(names)} names for {len(records)} reports")
    rows = []
    for name, record in zip(names, records):
        rows.extend(_table_rows(name, record))
    return pd.DataFrame(rows)


def _table_rows(name: str, record: "Record") -> list[dict]:
    cls = type(record)
    dim = cls.TABLE_DIM
    fields = {field.name: field for field in dataclasses.fields(cast(Any, record))}
    head: dict[str, Any] = {"case": name}
    for key in cls.TABLE_FIELDS:
        value = getattr(record, key)
        if isinstance(value, tuple) and len(value) == 2 and field_kind(fields[key])[0] == "tuple" and _meta(fields[key])["dims"] is None:
            head[f"{key}_low"], head[f"{key}_high"] = value
        elif isinstance(value, tuple):
            head[key] = ",".join(map(str, value))
        else:
            head[key] = np.nan if value is None and field_kind(fields[key])[0] == "float" else value
    labels = next(getattr(record, f.name) for f in fields.values() if _meta(f)["coord"] == dim)
    rows = []
    for i, label in enumerate(labels):
        row = dict(head)
        row[str(dim)] = label
        for field in fields.values():
            meta, value = _meta(field), getattr(record, field.name)
            if not meta["dims"] or meta["dims"][0] != dim or meta["keyed"] or value is None:
                continue
            column = meta["name"] or field.name
            cell = np.asarray(value, dtype=float)[i]
            if cell.ndim == 0:
                row[column] = float(cell)
            else:
                row[meta["dims"][1] + "s"] = int(cell.shape[0])
                row[f"median_{column}"] = float(np.median(cell))
                row[f"min_{column}"] = float(np.min(cell))
                row[f"max_{column}"] = float(np.max(cell))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------- mixin
class Record:
    """The result protocol, for frozen dataclasses: JSON, xarray/netCDF and pandas in both directions.

    Class attributes
    ----------------
    JSON_GROUPS : dict
        Group key -> field names nested under it in the JSON document (``{"config": (...)}``).
    XARRAY_TITLE : str
        The Dataset's ``title`` attribute.
    TABLE_DIM : str or None
        The dimension whose labels are the rows of :meth:`to_dataframe`.
    TABLE_FIELDS : tuple of str
        The scalar fields repeated on every row of :meth:`to_dataframe`.
    """

    JSON_GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {}
    XARRAY_TITLE: ClassVar[str] = ""
    TABLE_DIM: ClassVar[str | None] = None
    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RECORDS[cls.__name__] = cls

    def json_extras(self) -> dict:
        """Derived values the JSON document also holds for its readers (not read back).

        Returns
        -------
        dict
            Key (``"group.name"`` to nest it in a group) -> value; none by default.
        """
        return {}

    def xarray_extras(self) -> dict:
        """Derived variables the Dataset also holds for its readers (not read back).

        Returns
        -------
        dict
            Name -> ``(dims, array, attrs)``; none by default.
        """
        return {}

    def to_json_dict(self) -> dict:
        """Every field as plain JSON values (grouped as :attr:`JSON_GROUPS` says), then :meth:`json_extras`.

        Returns
        -------
        dict
        """
        return record_to_json(self)

    @classmethod
    def from_json_dict(cls, data: dict) -> Any:
        """Rebuild a record from :meth:`to_json_dict` (of this class or a subclass it names).

        Parameters
        ----------
        data : dict

        Returns
        -------
        Record

        Raises
        ------
        ConfigError
            If an entry without a default is missing or the document names another class.
        """
        return record_from_json(cls, data)

    def save_json(self, path: str | Path) -> None:
        """Write :meth:`to_json_dict` atomically (indented by one space).

        Parameters
        ----------
        path : str or Path
        """
        save_json(path, self.to_json_dict(), indent=1)

    @classmethod
    def load_json(cls, path: str | Path) -> Any:
        """Read a record written by :meth:`save_json`.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Record

        Raises
        ------
        ConfigError
            If the file is missing, not JSON, or not such a record.
        """
        return cls.from_json_dict(read_json(path))

    def to_xarray(self) -> Any:
        """The record as an ``xarray.Dataset`` (needs the ``xarray`` extra).

        Returns
        -------
        xarray.Dataset
            Its arrays as variables over named dimensions, its labels as coordinates, every
            other field as an attribute.
        """
        return record_to_xarray(self)

    @classmethod
    def from_xarray(cls, dataset: Any) -> Any:
        """Rebuild a record from :meth:`to_xarray` (or :meth:`load_netcdf`).

        Parameters
        ----------
        dataset : xarray.Dataset

        Returns
        -------
        Record
        """
        return record_from_xarray(cls, dataset)

    def save_netcdf(self, path: str | Path) -> None:
        """Write :meth:`to_xarray` as netCDF3 (scipy backend), atomically.

        Parameters
        ----------
        path : str or Path
            Ending in ``.nc``.
        """
        save_netcdf(self.to_xarray(), path)

    @classmethod
    def load_netcdf(cls, path: str | Path) -> Any:
        """Read a record written by :meth:`save_netcdf`.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Record
        """
        xr = require("xarray")
        with xr.open_dataset(path, engine="scipy") as dataset:
            return cls.from_xarray(dataset.load())

    def to_dataframe(self, name: str = "case 1") -> Any:
        """One pandas row per label of :attr:`TABLE_DIM` (needs the ``xarray`` extra).

        Parameters
        ----------
        name : str
            The ``case`` column.

        Returns
        -------
        pandas.DataFrame
            See :func:`records_to_dataframe`.
        """
        return records_to_dataframe([self], names=[name])


def read_json(path: str | Path) -> Any:
    """The JSON value of a file, with a one-line error naming the file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    object

    Raises
    ------
    ConfigError
        If the file is missing or not JSON.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"path: {str(path)!r} not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"path: {str(path)!r} is not JSON text ({error})") from None
    return parse_json(text, f"path: {str(path)!r}")
