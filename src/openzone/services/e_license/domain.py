"""Pure rules of the e-license library: catalogues, Verifiable Credentials, eddsa-jcs-2022 proofs and status lists."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import gzip
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

DATA = Path(__file__).resolve().parent / "data"

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CRYPTOSUITE = "eddsa-jcs-2022"
# Multicodec prefixes (varint) of the Multikey format: ed25519-pub 0xed, ed25519-priv 0x1300 (Controlled Identifiers v1.0 §2.2.2).
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
# Bitstring Status List v1.0 §6.1: a list holds at least 131,072 entries (16 KB) so one entry does not single out a holder.
STATUS_LIST_MIN_BITS = 131_072


class HolderKind(enum.StrEnum):
    """Say who holds a license: a person or an organisation (enterprise, agency)."""

    PERSON = "person"
    ORGANISATION = "organisation"


class LicenseStatus(enum.StrEnum):
    """Give the status of a license: valid, suspended (may be reinstated) or revoked (final)."""

    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class StatusPurpose(enum.StrEnum):
    """Name the purposes of a status list (Bitstring Status List v1.0 §2.1)."""

    REVOCATION = "revocation"
    SUSPENSION = "suspension"


STATUS_LABELS = {
    LicenseStatus.VALID: ("有效", "Valid"),
    LicenseStatus.SUSPENDED: ("已中止", "Suspended"),
    LicenseStatus.REVOKED: ("已撤销", "Revoked"),
}
HOLDER_KIND_LABELS = {HolderKind.PERSON: ("个人", "Person"), HolderKind.ORGANISATION: ("单位", "Organisation")}
FIELD_TYPES = frozenset({"text", "date", "id_number", "uscc"})
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
MATTER_CODE_RE = re.compile(r"^M[0-9]{3,5}$")
# Hall and window codes as consent binds them (core/consent PLACE_RE).
PLACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_FIELD_CHARS = 500
MAX_NUMBER_CHARS = 100  # the license number column
# Dates a license may carry, in its fields and its term: beyond them, years after a term or a day's end in UTC leave
# what dates can hold (and no Chinese license is dated there). Long-term licenses have no end date at all.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2199, 12, 31)
# C0 control characters (and DEL) have no place in a printed license; PostgreSQL text cannot even hold NUL.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class CatalogueInvalid(ValueError):
    """Signal a catalogue file that breaks its schema (a packaging error, found when the module loads)."""


class ProofInvalid(ValueError):
    """Signal a Data Integrity proof that is malformed or does not verify."""


class MultibaseInvalid(ValueError):
    """Signal a multibase or Multikey string that cannot be decoded."""


@dataclass(frozen=True)
class FieldSpec:
    """Describe one field of a license type: code, labels, value type and whether it is required."""

    code: str
    zh: str
    en: str
    type: str
    required: bool


@dataclass(frozen=True)
class Validity:
    """Give the terms a license type may run: a fixed number of years, up to a maximum, or long-term."""

    years: tuple[int, ...]
    long_term: bool
    max_years: int | None = None


@dataclass(frozen=True)
class LicenseType:
    """Describe a license type of the catalogue: issuing agency, holder kinds, field schema and validity."""

    code: str
    zh: str
    en: str
    agency: str
    agency_en: str
    holder_kinds: tuple[HolderKind, ...]
    fields: tuple[FieldSpec, ...]
    validity: Validity
    basis: str

    def field(self, code: str) -> FieldSpec | None:
        """Return the field spec with this code, or None."""
        return next((f for f in self.fields if f.code == code), None)

    @property
    def field_codes(self) -> tuple[str, ...]:
        """Return the field codes in catalogue order."""
        return tuple(f.code for f in self.fields)


@dataclass(frozen=True)
class Material:
    """Describe one material a matter needs and the license types that can stand in for the paper."""

    code: str
    zh: str
    en: str
    replaced_by: tuple[str, ...]


@dataclass(frozen=True)
class Matter:
    """Describe a matter (事项) handled at a service hall and the materials it needs."""

    code: str
    zh: str
    en: str
    department: str
    department_en: str
    applicant_kind: HolderKind
    materials: tuple[Material, ...]

    @property
    def license_types(self) -> tuple[str, ...]:
        """Return every license type that can replace one of the matter's materials, in order, once each."""
        seen: dict[str, None] = {}
        for m in self.materials:
            for t in m.replaced_by:
                seen.setdefault(t, None)
        return tuple(seen)


@dataclass(frozen=True)
class Catalogue:
    """Hold the license types and matters, indexed by code."""

    types: Mapping[str, LicenseType]
    matters: Mapping[str, Matter]


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise CatalogueInvalid(message)


def parse_license_types(doc: Mapping[str, Any]) -> dict[str, LicenseType]:
    """Validate the license-type catalogue document and return its types by code."""
    _need(doc.get("version") == 1, "license types: version must be 1")
    out: dict[str, LicenseType] = {}
    for raw in doc.get("types", []):
        code = raw.get("code", "")
        _need(bool(CODE_RE.match(code)), f"license type code {code!r} is not valid")
        _need(code not in out, f"license type {code} appears twice")
        for key in ("zh", "en", "agency", "agency_en", "basis"):
            _need(isinstance(raw.get(key), str) and raw[key].strip() != "", f"{code}: {key} is required")
        kinds = tuple(HolderKind(k) for k in raw.get("holder_kinds", []))
        _need(bool(kinds) and len(set(kinds)) == len(kinds), f"{code}: holder_kinds must be a non-empty set")
        fields: list[FieldSpec] = []
        for f in raw.get("fields", []):
            _need(bool(CODE_RE.match(f.get("code", ""))), f"{code}: field code {f.get('code')!r} is not valid")
            _need(f["code"] not in {x.code for x in fields}, f"{code}: field {f['code']} appears twice")
            _need(f.get("type") in FIELD_TYPES, f"{code}.{f['code']}: unknown type {f.get('type')!r}")
            _need(bool(f.get("zh")) and bool(f.get("en")), f"{code}.{f['code']}: labels are required")
            fields.append(FieldSpec(f["code"], f["zh"], f["en"], f["type"], bool(f.get("required", True))))
        _need(len(fields) >= 2, f"{code}: a license type needs at least two fields")
        v = raw.get("validity", {})
        years = tuple(int(y) for y in v.get("years", []))
        max_years = v.get("max_years")
        _need(all(0 < y <= 100 for y in years), f"{code}: validity years must be 1..100")
        _need(bool(years) or bool(v.get("long_term")) or bool(max_years), f"{code}: validity allows no term")
        _need(not (years and max_years), f"{code}: give either fixed years or max_years")
        out[code] = LicenseType(code, raw["zh"], raw["en"], raw["agency"], raw["agency_en"], kinds, tuple(fields),
                                Validity(years, bool(v.get("long_term")), int(max_years) if max_years else None),
                                raw["basis"])
    _need(len(out) >= 30, "the catalogue must hold at least 30 license types")
    return out


def parse_matters(doc: Mapping[str, Any], types: Mapping[str, LicenseType]) -> dict[str, Matter]:
    """Validate the matter catalogue against the license types and return the matters by code."""
    _need(doc.get("version") == 1, "matters: version must be 1")
    out: dict[str, Matter] = {}
    for raw in doc.get("matters", []):
        code = raw.get("code", "")
        _need(bool(MATTER_CODE_RE.match(code)), f"matter code {code!r} is not valid")
        _need(code not in out, f"matter {code} appears twice")
        kind = HolderKind(raw.get("applicant_kind"))
        materials: list[Material] = []
        for m in raw.get("materials", []):
            _need(bool(CODE_RE.match(m.get("code", ""))), f"{code}: material code {m.get('code')!r} is not valid")
            _need(m["code"] not in {x.code for x in materials}, f"{code}: material {m['code']} appears twice")
            for t in m.get("replaced_by", []):
                _need(t in types, f"{code}.{m['code']}: unknown license type {t}")
            materials.append(Material(m["code"], m["zh"], m["en"], tuple(m.get("replaced_by", []))))
        _need(bool(materials), f"{code}: a matter needs materials")
        out[code] = Matter(code, raw["zh"], raw["en"], raw["department"], raw["department_en"], kind, tuple(materials))
    _need(len(out) >= 100, "the catalogue must hold at least 100 matters")
    return out


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """Load and validate the packaged catalogues (data/license_types.json and data/matters.json)."""
    types = parse_license_types(json.loads((DATA / "license_types.json").read_text("utf-8")))
    matters = parse_matters(json.loads((DATA / "matters.json").read_text("utf-8")), types)
    return Catalogue(types, matters)


# ---- fields and validity ----

def add_years(day: dt.date, years: int) -> dt.date:
    """Return the same calendar day years later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def field_errors(ltype: LicenseType, fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """List what is wrong with a license's fields against its type's schema (shape only; codes are checked by the service)."""
    errors: list[dict[str, str]] = []
    for name in fields:
        if ltype.field(name) is None:
            errors.append({"field": name, "code": "unknown"})
    for spec in ltype.fields:
        value = fields.get(spec.code)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                errors.append({"field": spec.code, "code": "required"})
            continue
        if not isinstance(value, str):
            errors.append({"field": spec.code, "code": "type"})
        elif len(value) > MAX_FIELD_CHARS:
            errors.append({"field": spec.code, "code": "too_long"})
        elif CONTROL_RE.search(value):
            errors.append({"field": spec.code, "code": "control"})
        elif spec.type == "date":
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                errors.append({"field": spec.code, "code": "date"})
            else:
                if not EARLIEST_DAY <= day <= LATEST_DAY:
                    errors.append({"field": spec.code, "code": "date_range"})
    return errors


def term_errors(valid_from: dt.date, valid_until: dt.date | None) -> list[dict[str, str]]:
    """List the term's dates that lie outside the years a license may carry (EARLIEST_DAY to LATEST_DAY)."""
    return [{"field": name, "code": "date_range"} for name, day in (("valid_from_on", valid_from),
                                                                    ("valid_until_on", valid_until))
            if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY]


def validity_error(ltype: LicenseType, valid_from: dt.date, valid_until: dt.date | None) -> str | None:
    """Return why a term breaks the type's validity rule ("long_term_not_allowed", "term", "order"), or None."""
    v = ltype.validity
    if valid_until is None:
        return None if v.long_term else "long_term_not_allowed"
    if valid_until <= valid_from:
        return "order"
    if v.years:
        # A term of N years ends the day before the anniversary, as Chinese certificates print it (起止日期).
        allowed = {add_years(valid_from, y) - dt.timedelta(days=1) for y in v.years} | {
            add_years(valid_from, y) for y in v.years}
        return None if valid_until in allowed else "term"
    if v.max_years is not None:
        return None if valid_until <= add_years(valid_from, v.max_years) else "term"
    return "term"


def released_fields(ltype: LicenseType, fields: Mapping[str, Any], allowed: Sequence[str] | None) -> dict[str, Any]:
    """Return only the fields a grant allows (None or "*" means every field), in catalogue order."""
    keep = set(ltype.field_codes) if allowed is None or "*" in allowed else set(allowed)
    return {c: fields[c] for c in ltype.field_codes if c in keep and c in fields}


# ---- multibase base58btc and Multikey ----

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def b58encode(data: bytes) -> str:
    """Encode bytes in base58 with the Bitcoin alphabet (draft-msporny-base58 §3); leading zeros become '1's."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58 (Bitcoin alphabet); refuse any character outside it."""
    n = 0
    for c in text:
        i = _B58_INDEX.get(c)
        if i is None:
            raise MultibaseInvalid(f"not a base58btc character: {c!r}")
        n = n * 58 + i
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def multibase_b58(data: bytes) -> str:
    """Return multibase base58btc ("z" prefix)."""
    return "z" + b58encode(data)


def from_multibase_b58(text: str) -> bytes:
    """Decode a multibase base58btc string; other bases are refused."""
    if not isinstance(text, str) or not text.startswith("z") or len(text) < 2:
        raise MultibaseInvalid("expected multibase base58btc (prefix z)")
    return b58decode(text[1:])


def public_multikey(public_key: Ed25519PublicKey) -> str:
    """Return an Ed25519 public key as a Multikey publicKeyMultibase ("z6Mk…")."""
    return multibase_b58(ED25519_PUB_PREFIX + public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_from_multikey(text: str) -> Ed25519PublicKey:
    """Parse a Multikey publicKeyMultibase into an Ed25519 public key; other key types are refused."""
    raw = from_multibase_b58(text)
    if len(raw) != 34 or raw[:2] != ED25519_PUB_PREFIX:
        raise MultibaseInvalid("not an Ed25519 Multikey public key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def secret_multikey(private_key: Ed25519PrivateKey) -> str:
    """Return an Ed25519 private key as a Multikey secretKeyMultibase (for the key file, never a database row)."""
    return multibase_b58(ED25519_PRIV_PREFIX + private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def private_key_from_multikey(text: str) -> Ed25519PrivateKey:
    """Parse a Multikey secretKeyMultibase into an Ed25519 private key."""
    raw = from_multibase_b58(text)
    if len(raw) != 34 or raw[:2] != ED25519_PRIV_PREFIX:
        raise MultibaseInvalid("not an Ed25519 Multikey secret key")
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


# ---- Data Integrity eddsa-jcs-2022 (W3C Data Integrity EdDSA Cryptosuites v1.0 §3.3) ----

def _rfc3339_seconds(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()[:-6] + "Z"


def _hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    # §3.3.4 Hashing: SHA-256 of the canonical proof configuration, then SHA-256 of the canonical document.
    return hashlib.sha256(rfc8785.dumps(proof_config)).digest() + hashlib.sha256(rfc8785.dumps(document)).digest()


def proof_config(document: Mapping[str, Any], *, verification_method: str, created: dt.datetime | str,
                 proof_purpose: str = "assertionMethod") -> dict[str, Any]:
    """Return the proof options of §3.3.5, carrying the document's @context as the spec requires."""
    config: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created if isinstance(created, str) else _rfc3339_seconds(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def add_proof(document: Mapping[str, Any], private_key: Ed25519PrivateKey, *, verification_method: str,
              created: dt.datetime | str, proof_purpose: str = "assertionMethod") -> dict[str, Any]:
    """Return the document secured with an eddsa-jcs-2022 DataIntegrityProof (§3.3.1 Create Proof)."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = proof_config(unsecured, verification_method=verification_method, created=created,
                          proof_purpose=proof_purpose)
    signature = private_key.sign(_hash_data(unsecured, config))
    return {**unsecured, "proof": {**config, "proofValue": multibase_b58(signature)}}


def verify_proof(document: Mapping[str, Any], public_key: Ed25519PublicKey, *,
                 expected_purpose: str = "assertionMethod") -> None:
    """Check a document's eddsa-jcs-2022 proof (§3.3.2 Verify Proof); raise ProofInvalid saying what failed."""
    proof = document.get("proof")
    if not isinstance(proof, Mapping):
        raise ProofInvalid("no proof")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofInvalid("not an eddsa-jcs-2022 DataIntegrityProof")
    if proof.get("proofPurpose") != expected_purpose:
        raise ProofInvalid("unexpected proof purpose")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in config:
        # §3.3.2 step 4: the proof's @context must match the start of the document's @context.
        doc_ctx = unsecured.get("@context")
        proof_ctx = config["@context"]
        doc_list = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
        ctx_list = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
        if doc_list[:len(ctx_list)] != ctx_list:
            raise ProofInvalid("the proof's @context does not match the document's")
    try:
        signature = from_multibase_b58(proof.get("proofValue", ""))
    except MultibaseInvalid as exc:
        raise ProofInvalid(str(exc)) from exc
    if len(signature) != 64:
        raise ProofInvalid("an Ed25519 signature has 64 bytes")
    try:
        public_key.verify(signature, _hash_data(unsecured, config))
    except InvalidSignature as exc:
        raise ProofInvalid("the signature does not verify") from exc


def digest(document: Mapping[str, Any]) -> str:
    """Return the SHA-256 of a document's RFC 8785 form, as the ledger records it."""
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


# ---- W3C Verifiable Credentials 2.0 ----

def _day_start(day: dt.date) -> str:
    # A civil date in China Standard Time starts at 16:00 UTC the day before.
    return _rfc3339_seconds(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8))))


def _day_end(day: dt.date) -> str:
    return _rfc3339_seconds(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(),
                                                tzinfo=dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(seconds=1))


def status_entry(list_url: str, index: int, purpose: StatusPurpose) -> dict[str, Any]:
    """Return a BitstringStatusListEntry (Bitstring Status List v1.0 §2.1)."""
    return {"id": f"{list_url}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": purpose.value,
            "statusListIndex": str(index), "statusListCredential": list_url}


def build_credential(*, credential_id: str, ltype: LicenseType, issuer_id: str, issuer_name: str, subject_id: str,
                     fields: Mapping[str, Any], valid_from: dt.date, valid_until: dt.date | None,
                     status: Sequence[Mapping[str, Any]], version: int) -> dict[str, Any]:
    """Return an unsecured VC 2.0 for a license (credentialSubject carries the fields; term in CST civil dates)."""
    vc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenZoneLicense"],
        "name": ltype.zh,
        "description": ltype.en,
        "issuer": {"id": issuer_id, "name": issuer_name},
        "validFrom": _day_start(valid_from),
        "credentialSubject": {"id": subject_id, "licenseType": ltype.code, "version": version,
                              **{k: fields[k] for k in ltype.field_codes if k in fields}},
        "credentialStatus": [dict(s) for s in status],
    }
    if valid_until is not None:
        vc["validUntil"] = _day_end(valid_until)
    return vc


# ---- Bitstring Status List v1.0 ----

class StatusBits:
    """Hold a status bitstring; index 0 is the most significant bit of the first byte (Bitstring Status List §4.1)."""

    def __init__(self, size: int = STATUS_LIST_MIN_BITS, data: bytes | None = None) -> None:
        if size < STATUS_LIST_MIN_BITS or size % 8:
            raise ValueError(f"a status list holds at least {STATUS_LIST_MIN_BITS} bits, a multiple of 8")
        self.size = size
        self.bits = bytearray(data) if data is not None else bytearray(size // 8)
        if len(self.bits) != size // 8:
            raise ValueError("bitstring length does not match its size")

    def get(self, index: int) -> bool:
        """Return the bit at index."""
        self._check(index)
        return bool(self.bits[index // 8] & (0x80 >> (index % 8)))

    def set(self, index: int, value: bool) -> None:
        """Set or clear the bit at index."""
        self._check(index)
        mask = 0x80 >> (index % 8)
        if value:
            self.bits[index // 8] |= mask
        else:
            self.bits[index // 8] &= ~mask & 0xFF

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(f"status index {index} outside 0..{self.size - 1}")

    def encode(self) -> str:
        """Return encodedList: GZIP, then base64url without padding, with the multibase prefix "u" (§4.1)."""
        # mtime=0 keeps the bytes stable for an unchanged list.
        return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(self.bits), mtime=0)).rstrip(b"=").decode()

    @classmethod
    def decode(cls, encoded: str) -> StatusBits:
        """Parse an encodedList; refuse other multibase prefixes and lists shorter than the minimum."""
        if not encoded.startswith("u"):
            raise ValueError("encodedList must be multibase base64url (prefix u)")
        body = encoded[1:]
        raw = gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return cls(len(raw) * 8, raw)


def status_list_credential(*, list_url: str, issuer_id: str, purpose: StatusPurpose, bits: StatusBits,
                           valid_from: dt.datetime) -> dict[str, Any]:
    """Return an unsecured BitstringStatusListCredential (Bitstring Status List v1.0 §2.2)."""
    return {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": _rfc3339_seconds(valid_from),
        "credentialSubject": {"id": f"{list_url}#list", "type": "BitstringStatusList",
                              "statusPurpose": purpose.value, "encodedList": bits.encode()},
    }


def controller_document(*, controller: str, key_id: str, multikey: str) -> dict[str, Any]:
    """Return a controller document publishing the issuer's Multikey (Controlled Identifiers v1.0 §2.1)."""
    method = {"id": key_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": multikey}
    return {"@context": ["https://www.w3.org/ns/cid/v1"], "id": controller, "verificationMethod": [method],
            "assertionMethod": [key_id]}


# ---- batch import files ----

class ImportFileInvalid(ValueError):
    """Signal an import file that is neither a JSON list of rows nor a CSV with the expected header."""


CSV_COLUMNS = ("type", "holder_kind", "holder_id", "valid_from_on", "valid_until_on")


def parse_import(name: str, data: bytes) -> list[dict[str, Any]]:
    """Read an import file: JSON (a list of rows, or {"licenses": [...]}) or UTF-8 CSV with field.<code> columns."""
    import csv
    import io

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileInvalid("the file is not UTF-8") from exc
    if name.lower().endswith(".json"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFileInvalid(f"not JSON: {exc.msg} at line {exc.lineno}") from exc
        except RecursionError as exc:
            raise ImportFileInvalid("the JSON nests too deeply") from exc
        rows = doc.get("licenses") if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportFileInvalid("JSON must be a list of objects or {\"licenses\": [...]}")
        return rows
    if name.lower().endswith(".csv"):
        return _csv_rows(csv, io.StringIO(text))
    raise ImportFileInvalid("import .json or .csv files")


def _csv_rows(csv: Any, stream: Any) -> list[dict[str, Any]]:
    # Every row must have exactly the header's cells: DictReader would file extra cells (an unquoted comma in an
    # address) under None and fill missing ones with None, silently issuing altered data.
    reader = csv.reader(stream)
    try:
        names = [h.strip() for h in next(reader, None) or []]
        missing = [c for c in CSV_COLUMNS if c not in names]
        if missing:
            raise ImportFileInvalid(f"CSV header lacks: {', '.join(missing)}")
        if any(not h for h in names):
            raise ImportFileInvalid(f"CSV header has an empty column name (column {names.index('') + 1})")
        repeated = sorted({h for h in names if names.count(h) > 1})
        if repeated:
            raise ImportFileInvalid(f"CSV header repeats: {', '.join(repeated)}")
        rows = []
        for cells in reader:
            if not cells:
                continue  # a blank line
            if len(cells) != len(names):
                raise ImportFileInvalid(f"CSV line {reader.line_num} has {len(cells)} cells, the header {len(names)} "
                                        "(quote values that contain commas)")
            rows.append(dict(zip(names, cells, strict=True)))
        return rows
    except csv.Error as exc:
        raise ImportFileInvalid(f"not valid CSV at line {reader.line_num}: {exc}") from exc
