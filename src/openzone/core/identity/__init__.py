"""Organisations, people, roles, API tokens, sessions and access policies."""

from openzone.core.identity.access import Access, load_principal, platform_admin, public, roles, route_access, signed_in
from openzone.core.identity.domain import ORG_KIND_LABELS, ROLE_LABELS, OrgKind, Principal, Role, mask
from openzone.core.identity.service import (
    add_membership,
    contact_for,
    create_organisation,
    create_person,
    create_token,
    find_person_by_id_number,
    hash_password,
    masked_identifiers,
    memberships,
    platform_admin_ids,
    validate_id_number,
    validate_uscc,
)

__all__ = [
    "ORG_KIND_LABELS",
    "ROLE_LABELS",
    "Access",
    "OrgKind",
    "Principal",
    "Role",
    "add_membership",
    "contact_for",
    "create_organisation",
    "create_person",
    "create_token",
    "find_person_by_id_number",
    "hash_password",
    "load_principal",
    "mask",
    "masked_identifiers",
    "memberships",
    "platform_admin",
    "platform_admin_ids",
    "public",
    "roles",
    "route_access",
    "signed_in",
    "validate_id_number",
    "validate_uscc",
]
