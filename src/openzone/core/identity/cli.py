"""Identity commands: create organisations, people and API tokens from the shell."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy import select

from openzone.core.identity import domain, service
from openzone.core.identity.models import Organisation, Person
from openzone.db import transaction
from openzone.kit.errors import Forbidden, NotFound, Problem

console = Console()
org_app = typer.Typer(help="机构 · Organisations", no_args_is_help=True)
user_app = typer.Typer(help="人员 · People", no_args_is_help=True)
token_app = typer.Typer(help="接口令牌 · API tokens", no_args_is_help=True)


def fail(problem: Problem) -> None:
    """Print a problem in both languages and exit with status 1."""
    console.print(f"[red]错误：{problem.detail or problem.title}[/red]")
    console.print(f"[red]Error: {problem.detail_en or problem.title_en}[/red]")
    raise typer.Exit(1)


@org_app.command("create")
def org_create(name: str, kind: str = typer.Option(..., help=", ".join(k.value for k in domain.OrgKind)),
               uscc: str = typer.Option("", help="统一社会信用代码 (GB 32100-2015)"),
               name_en: str = typer.Option("", help="English name")) -> None:
    """Create an organisation and print its id."""
    try:
        with transaction() as session:
            org = service.create_organisation(session, name=name, kind=kind, uscc=uscc or None, name_en=name_en)
            console.print(str(org.id))
    except Problem as problem:
        fail(problem)


def _org(session, ref: str) -> Organisation:
    try:
        return service.find_organisation(session, ref)
    except Problem as problem:
        fail(problem)


@user_app.command("create")
def user_create(email: str, name: str = typer.Option(...),
                password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
                org: str = typer.Option("", help="机构 id、代码或名称 · organisation id, credit code or name"),
                role: str = typer.Option("", help=", ".join(r.value for r in domain.Role)),
                platform_admin: bool = typer.Option(False, "--platform-admin"),
                phone: str = typer.Option(""), id_number: str = typer.Option("")) -> None:
    """Create a person, optionally with a role in an organisation."""
    try:
        with transaction() as session:
            person = service.create_person(session, name=name, email=email, password=password, phone=phone or None,
                                           id_number=id_number or None, is_platform_admin=platform_admin)
            if org:
                service.add_membership(session, person_id=person.id, org_id=_org(session, org).id, role=role or "staff")
            console.print(str(person.id))
    except Problem as problem:
        fail(problem)


@token_app.command("create")
def token_create(email: str = typer.Option(..., help="创建人 · the administrator creating it"),
                 org: str = typer.Option(...), name: str = typer.Option(...),
                 scope: list[str] = typer.Option(["read"], help=", ".join(domain.TOKEN_SCOPES)),
                 days: int = typer.Option(90)) -> None:
    """Create an API token and print its secret once."""
    try:
        with transaction() as session:
            person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
            if person is None:
                fail(NotFound(f"找不到人员：{email}", f"No person: {email}"))
            organisation = _org(session, org)
            principal = service.principal_for(session, person)
            if not principal.has_role(organisation.id, domain.Role.ORG_ADMIN):
                fail(Forbidden("只有机构管理员可以为本机构创建令牌",
                                       "Only an organisation administrator can create its tokens"))
            _, secret = service.create_token(session, person=person, org_id=organisation.id, name=name,
                                             scopes=scope, days=days)
            console.print(secret)
    except Problem as problem:
        fail(problem)

