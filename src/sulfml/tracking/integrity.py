"""Integrity of a model bundle before anything in it is used: no pickles, JSON only (but for the neural
member's `network.npz`, NumPy arrays read with `allow_pickle=False`), a card that follows `card.schema.json`,
and sha256 checksums of `model.json`, `domain.json` (and `network.npz` when there is one) that match the card.

Light on imports on purpose: the CLI maps `BundleError` to a usage error without loading XGBoost.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from sulfml.errors import BundleError

CHECKSUMMED = ("model.json", "domain.json")
# The neural member's weights (`sulfml.model.neural_forward.NetworkWeights`): in a target's folder only when
# its card has a `neural` section, checksummed like the others, and never unpickled (`allow_pickle=False`).
NETWORK_FILE = "network.npz"
OPTIONAL_CHECKSUMMED = (NETWORK_FILE,)
# Serialised Python objects: loading any of them can run arbitrary code, so a bundle holding one is refused.
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".pck", ".pcl", ".joblib", ".jbl", ".cloudpickle", ".dill",
                             ".sav", ".npy", ".npz", ".pt", ".pth", ".ckpt", ".bin"})
_MAX_SCAN = 200  # files inspected per bundle; a bundle has six (eight with two networks)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def looks_like_pickle(data: bytes) -> bool:
    """True for a pickle stream (protocol 2+ starts with 0x80 and the protocol number), a joblib/zlib or a
    numpy/zip container, and the ASCII protocol-0 opcodes a pickle starts with."""
    head = data[:2]
    if head[:1] == b"\x80" and 2 <= (head[1:2] or b"\x00")[0] <= 5:
        return True
    if data[:4] in (b"PK\x03\x04", b"\x93NUM") or data[:2] in (b"\x78\x9c", b"\x78\xda", b"\x1f\x8b"):
        return True
    return data[:1] in (b"(", b"c") and (b"\n." in data[-4:] or data.rstrip().endswith(b"."))


def scan_for_pickles(root: str | Path, where: str | None = None) -> None:
    """Refuse a bundle directory holding a pickle-like file (by name or by content) anywhere below it;
    `where` names the bundle in the message (default: the directory)."""
    root = Path(root)
    where = where or f"the bundle in {root}"
    for n, path in enumerate(sorted(root.rglob("*"))):
        if n >= _MAX_SCAN:
            raise BundleError(f"{where} holds more than {_MAX_SCAN} files: not a sulfml model bundle")
        if path.is_symlink() or not path.is_file():
            continue
        # The one .npz a bundle may hold: it is checksummed and read with allow_pickle=False (still refused
        # below when its content is a pickle stream rather than a zip of arrays).
        if path.suffix.lower() in PICKLE_SUFFIXES and path.name != NETWORK_FILE:
            raise BundleError(f"refusing {where}: {path.relative_to(root)} is a serialised Python object "
                              "(pickle/joblib); sulfml bundles are JSON only and never unpickled")
        with open(path, "rb") as fh:
            head = fh.read(8)
        if (head[:1] == b"\x80" and 2 <= (head[1:2] or b"\x00")[0] <= 5) or (
                path.suffix.lower() == ".json" and looks_like_pickle(head + b"\n.")):
                raise BundleError(f"refusing {where}: {path.relative_to(root)} holds a pickle, "
                                  "not JSON; it was not loaded")


def _read_bytes(path: Path, what: str, missing: str = "") -> bytes:
    """A bundle file's bytes; a missing or unreadable file is a `BundleError` (`missing` says why it is needed)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{what}: {path} is missing{missing}") from None
    except OSError as exc:
        raise BundleError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def read_bundle_bytes(path: Path, what: str) -> bytes:
    """The bytes of a bundle file; a missing or unreadable file or a pickle is a `BundleError`."""
    data = _read_bytes(path, what)
    if looks_like_pickle(data):
        raise BundleError(f"{what}: {path} is a Python pickle, not JSON; refused (it was not loaded)")
    return data


def read_verified(path: Path, card: dict, what: str) -> bytes:
    """The bytes of a checksummed bundle file, after checking them against the card (before any parsing)."""
    if path.name == NETWORK_FILE:
        return read_network_bytes(path, card, what)
    data = read_bundle_bytes(path, what)
    verify_checksum(card, path.name, data, what)
    return data


def read_network_bytes(path: Path, card: dict, what: str) -> bytes:
    """The bytes of a target's `network.npz`, checked against the card's checksum (before any parsing).

    Raises:
        BundleError: the card names no network file, or the file is missing, not a zip of arrays, or changed.
    """
    if NETWORK_FILE not in card.get("checksums", {}):
        raise BundleError(f"{what}: {path.name} has no checksum in card.json: the card does not vouch for it")
    data = _read_bytes(path, what, " (the card's neural section needs it)")
    if data[:4] != b"PK\x03\x04":  # np.savez's zip container; a pickle stream is refused here
        raise BundleError(f"{what}: {path} is not a NumPy .npz file; refused (it was not loaded)")
    verify_checksum(card, path.name, data, what)
    return data


def load_json(data: bytes | str) -> Any:
    """Parse a checksummed bundle file (`model.json`, `domain.json`, as XGBoost and sulfml's export write
    them) or JSON held in one (a material's evidence): the values `json.loads` reads, through orjson, 3-5x
    faster (a cold `sulfml predict` parses 6 MB of them). What orjson refuses and `json` reads (NaN and
    Infinity, which `json.dumps` writes, lone surrogates, UTF-16) is read by `json`, and `json` raises
    the errors. The one value orjson reads otherwise, an integer beyond 64 bits (as a float), is in neither
    writer's output.

    Raises:
        ValueError: not JSON, as `json.loads` raises it (`json.JSONDecodeError`, or `UnicodeDecodeError`).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def read_card(folder: Path, what: str, fix: str) -> dict:
    """`folder`'s card.json, parsed and validated against the schema; `fix` says how to get a card with
    checksums when it has none."""
    card = read_json_file(folder / "card.json", what)
    if isinstance(card, dict) and "checksums" not in card:
        raise BundleError(f"{what}: card.json has no checksums ({fix})")
    return validate_card(card, what)


def read_json_file(path: Path, what: str) -> object:
    """Read a bundle file and parse it as JSON; refuse pickles and anything that is not JSON."""
    data = read_bundle_bytes(path, what)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{what}: {path} is not UTF-8 JSON (binary or damaged file)") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{what}: {path} is not valid JSON (truncated or damaged?): {exc.msg} at line "
                          f"{exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BundleError(f"{what}: {path} is nested too deeply to be a sulfml file") from None


@functools.cache
def card_schema() -> dict:
    """The JSON schema of card.json (shipped with the package)."""
    return json.loads(resources.files("sulfml.tracking").joinpath("card.schema.json").read_text("utf-8"))


def schema_errors(value: object, schema: dict, path: str = "card") -> list[str]:
    """Validate `value` against the subset of JSON Schema used by `card.schema.json`.

    Supports type, enum, required, properties, additionalProperties, items, minItems, maxItems, minimum,
    maximum, exclusiveMinimum, exclusiveMaximum, maxLength, pattern and oneOf. Returns readable messages, empty
    when valid.
    """
    if "oneOf" in schema:
        if sum(not schema_errors(value, s, path) for s in schema["oneOf"]) != 1:
            return [f"{path}: {_short(value)} does not have an allowed form"]
        return []
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {_short(value)} is not one of {schema['enum']}"]
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: expected {' or '.join(types)}, got {_json_type(value)} {_short(value)}"]
    errors: list[str] = []
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, sub in value.items():
            if key in props:
                errors += schema_errors(sub, props[key], f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(sub, extra, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: needs at least {schema['minItems']} items, has {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: at most {schema['maxItems']} items, has {len(value)}")
        plain = _plain_test(schema["items"]) if "items" in schema else None
        if plain is not None and all(map(plain, value)):
            pass  # long arrays of numbers or of number pairs (the kNN reference set): no recursion, no messages
        elif "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{path}[{i}]")
                if len(errors) > 5:
                    break
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", math.inf):
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {_short(value)} does not match {schema['pattern']}")
    if _is_type(value, "number"):
        if "minimum" in schema and not value >= schema["minimum"]:
            errors.append(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and not value <= schema["maximum"]:
            errors.append(f"{path}: {value} is above {schema['maximum']}")
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            errors.append(f"{path}: {value} must be above {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and not value < schema["exclusiveMaximum"]:
            errors.append(f"{path}: {value} must be below {schema['exclusiveMaximum']}")
    return errors


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
# The exact Python types JSON values load as (bool is no number).
_PLAIN = {"number": (int, float), "integer": (int,), "string": (str,), "boolean": (bool,)}
_PLAIN_KEYS = frozenset(("type", "items", "minItems", "maxItems"))


def _plain_test(schema: object) -> Callable[[object], bool] | None:
    """A quick yes/no for a schema made of a plain type only, or of arrays of such (with their length bounds):
    True only where `schema_errors` finds nothing, so a value it passes needs no walk (one it fails is walked,
    for the messages). None for a schema with anything else."""
    if not isinstance(schema, dict) or not set(schema) <= _PLAIN_KEYS or not isinstance(schema.get("type"), str):
        return None
    if schema["type"] in _PLAIN and set(schema) == {"type"}:
        exact = _PLAIN[schema["type"]]
        return lambda v: type(v) in exact
    if schema["type"] != "array":
        return None
    lo, hi = schema.get("minItems", 0), schema.get("maxItems", math.inf)
    items = schema.get("items", {})
    if isinstance(items, dict) and set(items) == {"type"} and items["type"] in _PLAIN:
        kinds = frozenset(_PLAIN[items["type"]])  # the items' types at C speed, no call per item
        return lambda v: type(v) is list and lo <= len(v) <= hi and kinds.issuperset(map(type, v))
    item = _plain_test(items) if items != {} else (lambda v: True)
    if item is None:
        return None
    return lambda v: type(v) is list and lo <= len(v) <= hi and all(map(item, v))


def _is_type(value: object, t: str) -> bool:
    return _TYPES[t](value)


def _json_type(value: object) -> str:
    for t in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, t):
            return t
    return type(value).__name__


def _short(value: object) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_card(card: object, where: str) -> dict:
    """Check a card against the schema; raise BundleError naming the first problems."""
    errors = schema_errors(card, card_schema())
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise BundleError(f"{where}: card.json does not follow the card schema: {'; '.join(errors[:3])}{more}")
    return card  # type: ignore[return-value]


def checksums(folder: str | Path) -> dict[str, str]:
    """The sha256 of the checksummed bundle files in `folder` (`network.npz` when it is there)."""
    names = [*CHECKSUMMED, *(n for n in OPTIONAL_CHECKSUMMED if (Path(folder) / n).is_file())]
    return {name: sha256_bytes((Path(folder) / name).read_bytes()) for name in names}


def verify_checksum(card: dict, name: str, data: bytes, where: str) -> None:
    """Raise BundleError unless `data` has the sha256 the card records for `name`."""
    expected = card["checksums"][name]
    actual = sha256_bytes(data)
    if actual != expected:
        raise BundleError(f"{where}: {name} does not match the checksum in card.json (sha256 {actual[:12]}... "
                          f"instead of {expected[:12]}...): the file was changed or damaged after export")
