"""Reading the original's test vectors: where they are and what their JSON means.

The files in tests/vectors/original-0.1.0 were written by the Rust original; each NAME.json
records what the original answered after opening NAME.aeon (see HOW-TO-READ.md there).
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import msgpack

import assemblage_kv as kv

VECTORS = Path(__file__).parent / "vectors" / "original-0.1.0"


def load(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text())
    return result


def probed_keys(name: str) -> list[tuple[int, Any]]:
    """The (slot, key) pairs a vector probes, decoded to Python values."""
    pairs = json.loads((VECTORS / f"{name}.keys.json").read_text())
    return [(slot, decode_key_hex(key_hex)) for slot, key_hex in pairs]


def decode_key_hex(key_hex: str) -> Any:
    raw = bytes.fromhex(key_hex)
    key = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    assert msgpack.packb(key) == raw, f"key {key_hex} does not re-encode to itself"
    return key


def tagged(value: Any) -> Any:
    """Python value of the vectors' tagged form (["u8", 5], ["array", [...]], ...)."""
    tag = value[0]
    if tag == "nil":
        return None
    if tag in ("bool", "str") or tag[0] in "ui":
        return value[1]
    if tag in ("f32", "f64"):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(
            value[1], value[1]
        )
    if tag == "bin":
        return bytes.fromhex(value[1])
    if tag == "array":
        return [tagged(item) for item in value[1]]
    if tag == "map":
        return {tagged(k): tagged(v) for k, v in value[1]}
    raise AssertionError(f"unexpected tag {tag}")


def float_bits(value: Any) -> list[str]:
    """Every float's IEEE bits in a tagged value, so -0.0 and NaN are compared exactly."""
    tag = value[0]
    if tag == "f64":
        return [value[2]]
    if tag == "f32":
        return [value[2]]
    if tag == "array":
        return [bits for item in value[1] for bits in float_bits(item)]
    if tag == "map":
        return [bits for pair in value[1] for item in pair for bits in float_bits(item)]
    return []


def python_float_bits(value: Any, widths: list[int]) -> list[str]:
    if isinstance(value, float):
        fmt = ">f" if widths and widths[0] == 4 else ">d"
        return [struct.pack(fmt, value).hex()]
    if isinstance(value, list):
        return [bits for item in value for bits in python_float_bits(item, widths)]
    if isinstance(value, dict):
        pairs = [x for pair in value.items() for x in pair]
        return [bits for x in pairs for bits in python_float_bits(x, widths)]
    return []


def assert_value(actual: Any, expected: Any, where: str) -> None:
    """Compare what our store returned with one recorded answer."""
    if expected is None:
        assert actual is None, f"{where}: expected nothing, got {actual!r}"
        return
    assert "error" not in expected and "panic" not in expected, f"{where}: vector is an error"
    if expected.get("large"):
        encoded = msgpack.packb(actual)
        assert len(encoded) == expected["reencoded_len"], where
        assert f"{zlib.crc32(encoded):08x}" == expected["reencoded_crc32"], where
        assert encoded.startswith(bytes.fromhex(expected["reencoded_prefix_hex"])), where
        assert encoded.endswith(bytes.fromhex(expected["reencoded_suffix_hex"])), where
        return
    want = tagged(expected["v"])
    bits = float_bits(expected["v"])
    if bits:
        widths = [4 if expected["v"][0] == "f32" else 8]
        assert python_float_bits(actual, widths) == bits, f"{where}: {actual!r} != {want!r}"
        return
    assert actual == want and type(actual) is type(want), f"{where}: {actual!r} != {want!r}"
    assert msgpack.packb(actual) == bytes.fromhex(expected["reencoded_hex"]), where


def canonical(keys: list[Any]) -> list[str]:
    return sorted(msgpack.packb(k).hex() for k in keys)


def assert_observations(store: kv.KvStore, observations: dict[str, Any], name: str) -> None:
    """Everything the original reported through one fresh snapshot, but private offsets."""
    probes = json.loads((VECTORS / f"{name}.keys.json").read_text())
    tx = store.current()
    assert tx.last_updated() == observations["last_updated_ms"], f"{name}: last_updated"
    for (slot, key_hex), expected in zip(probes, observations["keys"], strict=True):
        key = decode_key_hex(key_hex)
        where = f"{name} slot {slot} key {key!r}"
        versions = tx.versions(slot, key)
        assert [(v.is_removed, v.is_committed, v.timestamp) for v in versions] == [
            (v["is_removed"], v["is_committed"], v["timestamp_ms"]) for v in expected["versions"]
        ], f"{where}: versions"
        assert_value(tx.get(slot, key), expected["get"], f"{where}: get")
        assert_value(tx.get_unremoved(slot, key), expected["get_unremoved"], f"{where}: unremoved")
        for i, (version, value) in enumerate(
            zip(versions, expected["version_values"], strict=True)
        ):
            assert_value(tx.get_version(slot, key, version), value, f"{where}: version {i}")
    for slot, expected_keys in observations["keys_by_slot"].items():
        want = sorted(k["reencoded_hex"] for k in expected_keys)
        assert canonical(tx.keys(int(slot))) == want, f"{name}: keys({slot})"
    tx.abort()
