"""Pure ledger rules: what an entry may hold, its body (format v1) and salted commitments."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785

from openzone.kit.errors import problem

ENTRY_VERSION = 1
MAX_EVENT_TYPE_LENGTH = 64
# "<module>.<event>", each part lower-case ASCII letters, digits and underscores, starting with a letter.
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
# Keys of digests and commitments, and commitment kinds.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
COMMITMENT_PREFIX = "c1:"
COMMITMENT_RE = re.compile(r"^c1:[0-9a-f]{64}$")
SALT_BYTES = 32
MAX_NAMED_ITEMS = 32
MAX_DATA_BYTES = 8 * 1024
# Entry bundles (C2SP tlog-tiles) prefix each entry with a uint16 length, so an entry stays far below 65,536 bytes.
MAX_ENTRY_BYTES = 16 * 1024
MAX_DEPTH = 16
# RFC 8785 §3.2.2.3 serialises numbers as IEEE 754 doubles; integers beyond ±(2^53 − 1) would lose digits.
MAX_SAFE_INTEGER = 2**53 - 1

InvalidEntry = problem("ledger-invalid-entry", 422, "账本条目无效", "The ledger entry is not valid")
InvalidCommitment = problem("ledger-invalid-commitment", 422, "承诺值无效", "The commitment is not valid")


def _reject(field: str, code: str, zh: str, en: str) -> InvalidEntry:
    return InvalidEntry(zh, en, errors=[{"field": field, "code": code}])


def validate_event_type(event_type: str) -> str:
    """Return the event type if it is a lower-case dotted name of at most 64 characters, else raise."""
    if not isinstance(event_type, str) or len(event_type) > MAX_EVENT_TYPE_LENGTH or not EVENT_TYPE_RE.match(event_type):
        raise _reject("event_type", "format",
                      f"事件类型须为不超过{MAX_EVENT_TYPE_LENGTH}个字符的小写点分名称，如 e_license.retrieved",
                      f"An event type is a lower-case dotted name of at most {MAX_EVENT_TYPE_LENGTH} characters, "
                      "e.g. e_license.retrieved")
    return event_type


def _named(field: str, values: Mapping[str, str] | None, pattern: re.Pattern[str], what_zh: str,
           what_en: str) -> dict[str, str]:
    values = dict(values or {})
    if len(values) > MAX_NAMED_ITEMS:
        raise _reject(field, "too_many", f"{what_zh}最多{MAX_NAMED_ITEMS}项", f"At most {MAX_NAMED_ITEMS} {what_en}")
    for key, value in values.items():
        if not isinstance(key, str) or not NAME_RE.match(key):
            raise _reject(field, "key", f"{what_zh}的名称须为小写字母开头的标识符：{key!r}",
                          f"Names of {what_en} are lower-case identifiers: {key!r}")
        if not isinstance(value, str) or not pattern.match(value):
            raise _reject(field, "value", f"{what_zh}“{key}”的格式不正确", f"The {what_en} value {key!r} is malformed")
    return {key: str(value) for key, value in values.items()}


def validate_digests(digests: Mapping[str, str] | None) -> dict[str, str]:
    """Return the digests if every value is "sha256:" and 64 lower-case hex digits, else raise."""
    return _named("digests", digests, DIGEST_RE, "摘要", "digests")


def validate_commitments(commitments: Mapping[str, str] | None) -> dict[str, str]:
    """Return the commitments if every value has the "c1:" form made by commit, else raise."""
    return _named("commitments", commitments, COMMITMENT_RE, "承诺值", "commitments")


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 (JCS) bytes of any JSON value."""
    return rfc8785.dumps(value)


# For plain data (str, int within ±(2^53 − 1), bool, None, list, dict with str keys) orjson writes RFC 8785: compact,
# integers as decimal digits, literals true/false/null, and strings escaping exactly '"', '\\' and the C0 controls
# (\b \t \n \f \r short, the rest as lower-case \u00xx), everything else as UTF-8 (RFC 8785 §3.2.2.2); a lone
# surrogate raises. Only the key order can differ: orjson sorts by code point, RFC 8785 §3.2.3 by UTF-16 code units,
# which disagree when a key holds a character from U+E000 to U+FFFF and another an astral one at the same position.
# Data with such a key goes through rfc8785 instead. tests/core/ledger/test_domain.py proves the two byte-equal with
# hypothesis. orjson took an eighth of the time of the stdlib's C encoder, which wrote the same bytes.
_orjson_dumps = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _check_string(value: str) -> None:
    # The two patterns need at least 11 characters; most strings in entries are shorter.
    if len(value) >= 11:
        found = _identifier_in_string(value)
        if found:
            _refuse_identifier(found)


# _walk's findings, or-ed together: a key whose order differs by UTF-16 code units, a subclass of a plain type.
_RISKY_KEY = 1
_SUBCLASS = 2


def _walk(value: Any, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise _reject("data", "depth", f"数据嵌套不得超过{MAX_DEPTH}层", f"Data may nest at most {MAX_DEPTH} levels")
    kind = type(value)
    if kind is str:
        _check_string(value)
        return 0
    if kind is dict:
        found = 0
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise _reject("data", "key", "数据的键须为字符串", "Keys in data must be strings")
                key = str.__str__(key)
                found |= _SUBCLASS
            if len(key) >= 11:
                _check_string(key)
            if not key.isascii() and max(key) >= "\ue000":
                found |= _RISKY_KEY
            # Inline the common leaves; recurse for the rest.
            item_kind = type(item)
            if item_kind is str:
                if len(item) >= 11:
                    _check_string(item)
            elif not (item_kind is bool or item is None
                      or (item_kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER)):
                found |= _walk(item, depth + 1)
        return found
    if kind is list:
        found = 0
        for item in value:
            found |= _walk(item, depth + 1)
        return found
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return 0
        raise _reject("data", "integer", "整数超出 ±(2^53−1) 范围，请改用字符串",
                      "An integer beyond ±(2^53 − 1) must be given as a string")
    if value is None or kind is bool:
        return 0
    return _walk(_plain_subclass(value), depth) | _SUBCLASS


def _plain_subclass(value: Any) -> Any:
    # Subclasses of the plain types (an IntEnum, a StrEnum, an OrderedDict) become their plain values.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, float):
        raise _reject("data", "float", "数据不得含有浮点数，请使用整数（如以分计的金额）或字符串",
                      "Data may not hold floats; use integers (e.g. amounts in fen) or strings")
    raise _reject("data", "type", f"数据只能由字符串、整数、布尔值、null、列表和对象组成，不支持 {type(value).__name__}",
                  f"Data is made of strings, integers, booleans, null, lists and objects, not {type(value).__name__}")


def plain_data(value: Any) -> Any:
    """Return a copy of value made of plain str, int, bool, None, list and dict, refusing anything else."""
    if value is None or isinstance(value, bool):
        return bool(value) if value is not None else None
    value = _plain_subclass(value)
    if isinstance(value, list):
        return [plain_data(item) for item in value]
    if isinstance(value, dict):
        return {str.__str__(key) if isinstance(key, str) else key: plain_data(item) for key, item in value.items()}
    return value


def canonical_data(data: Mapping[str, Any]) -> bytes:
    """Return the RFC 8785 bytes of an entry's data after checking it is plain JSON without personal identifiers.

    Refused: floats, integers beyond ±(2^53 − 1), other types, nesting deeper than 16, strings that are not valid
    Unicode, and a resident ID number or a mobile number in clear (callers pass commitments made by commit()).
    """
    found = _walk(data, 0)
    if found & _SUBCLASS:
        data = plain_data(data)
    try:
        text = canonical_json(data) if found & _RISKY_KEY else _orjson_dumps(data, option=_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise _reject("data", "unicode", "字符串含有无效的 Unicode 字符", "A string holds invalid Unicode") from exc
    except UnicodeEncodeError as exc:
        raise _reject("data", "unicode", "字符串含有无效的 Unicode 字符", "A string holds invalid Unicode") from exc
    except rfc8785.CanonicalizationError as exc:
        raise _reject("data", "unicode", "字符串含有无效的 Unicode 字符", "A string holds invalid Unicode") from exc
    return text


# GB 11643-1999 resident ID numbers and mainland mobile numbers standing alone in a string.
_ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _is_id_number(candidate: str) -> bool:
    try:
        dt.date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return False
    total = sum(int(c) * w for c, w in zip(candidate[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == candidate[17].upper()


def _identifier_in_string(value: str) -> str | None:
    if any(_is_id_number(m.group(1)) for m in _ID_NUMBER_RE.finditer(value)):
        return "id_number"
    if _MOBILE_RE.search(value):
        return "mobile"
    return None


def personal_identifier_in(value: Any) -> str | None:
    """Return "id_number" or "mobile" if a string in value holds one in clear, else None."""
    if isinstance(value, str):
        return _identifier_in_string(value)
    if isinstance(value, list):
        items: list[Any] = value
    elif isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    else:
        return None
    for item in items:
        found = personal_identifier_in(item)
        if found:
            return found
    return None


def _refuse_identifier(found: str) -> None:
    if found == "id_number":
        raise _reject("data", "personal_data", "账本条目不得含有明文身份证号码，请改用承诺值（ledger.commit）",
                      "A ledger entry may not hold a resident ID number in clear; pass a commitment (ledger.commit)")
    raise _reject("data", "personal_data", "账本条目不得含有明文手机号码，请改用承诺值（ledger.commit）",
                  "A ledger entry may not hold a mobile number in clear; pass a commitment (ledger.commit)")


def refuse_personal_identifiers(data: Any) -> None:
    """Raise if data holds a resident ID number or a mobile number in clear; callers pass commitments instead."""
    found = personal_identifier_in(data)
    if found:
        _refuse_identifier(found)


def entry_body(*, event_type: str, time: str, actor: str | None, digests: dict[str, str],
               commitments: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON object of a version-1 entry, before canonicalisation (see the module README)."""
    return {"v": ENTRY_VERSION, "type": event_type, "time": time, "actor": actor, "digests": digests,
            "commitments": commitments, "data": data}


def _ascii_object(values: dict[str, str]) -> bytes:
    # Keys are validated lower-case identifiers and values "sha256:"/"c1:" hex, so sorting and quoting are plain ASCII.
    return ("{" + ",".join(f'"{k}":"{values[k]}"' for k in sorted(values)) + "}").encode() if values else b"{}"


def entry_bytes_v1(*, event_type: str, time: str, actor: str | None, digests: dict[str, str],
                   commitments: dict[str, str], data: bytes) -> bytes:
    """Return the RFC 8785 bytes of entry_body(...) from validated parts and the canonical bytes of its data.

    The members are written in RFC 8785 order (actor, commitments, data, digests, time, type, v): every part but data
    is validated ASCII that needs no escaping, and data is already canonical.
    """
    actor_json = b"null" if actor is None else b'"' + actor.encode() + b'"'
    return b"".join((b'{"actor":', actor_json, b',"commitments":', _ascii_object(commitments), b',"data":', data,
                     b',"digests":', _ascii_object(digests), b',"time":"', time.encode(), b'","type":"',
                     event_type.encode(), b'","v":1}'))


def validate_kind(kind: str) -> str:
    """Return a commitment kind if it is a lower-case identifier (e.g. id_number), else raise."""
    if not isinstance(kind, str) or not NAME_RE.match(kind):
        raise InvalidCommitment("承诺类别须为小写字母开头、不超过32个字符的标识符，如 id_number",
                                "A commitment kind is a lower-case identifier of at most 32 characters, e.g. id_number",
                                errors=[{"field": "kind", "code": "format"}])
    return kind


@dataclass(frozen=True)
class Opening:
    """Give what a holder needs to prove that a commitment hides their value: its kind and salt."""

    commitment: str
    kind: str
    salt: bytes

    @property
    def salt_hex(self) -> str:
        """Return the salt as lower-case hex, the form shown to holders."""
        return self.salt.hex()


def commitment_of(kind: str, salt: bytes, value: str) -> str:
    """Return "c1:" + hex SHA-256(salt ‖ UTF-8(kind) ‖ 0x00 ‖ UTF-8(value)) for a 32-byte salt.

    The salt has a fixed length and a kind never contains 0x00, so the hashed bytes split one way only.
    """
    if len(salt) != SALT_BYTES:
        raise ValueError("a commitment salt is 32 bytes")
    digest = hashlib.sha256(salt + kind.encode("utf-8") + b"\x00" + value.encode("utf-8")).hexdigest()
    return COMMITMENT_PREFIX + digest


def check_opening(commitment: str, *, kind: str, salt: bytes, value: str) -> bool:
    """Say whether a kind, salt and value open a commitment, as an outside verifier would check it."""
    if not COMMITMENT_RE.match(commitment) or len(salt) != SALT_BYTES or not NAME_RE.match(kind):
        return False
    return hmac.compare_digest(commitment_of(kind, salt, value), commitment)
