"""Trade data-asset vault (贸易数据资产保管箱): trade documents on record, shipment dossiers, profile, bank sharing."""

from openzone.services.trade_vault.domain import (
    CATEGORY_LABELS,
    DECLARATION_SCHEMA,
    Category,
    FileKind,
    Limits,
    Parsed,
    classify,
    code_tables,
    parse_dcsa,
    parse_declaration,
    parse_ubl,
    retention,
)

__all__ = [
    "CATEGORY_LABELS",
    "DECLARATION_SCHEMA",
    "Category",
    "FileKind",
    "Limits",
    "Parsed",
    "classify",
    "code_tables",
    "parse_dcsa",
    "parse_declaration",
    "parse_ubl",
    "retention",
]
