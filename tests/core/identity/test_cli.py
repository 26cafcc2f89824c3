"""The identity commands of `openzone`, run as an operator would."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core.identity.models import Person
from openzone.db import transaction
from tests import builders

runner = CliRunner()


def test_create_org_user_and_token_from_the_shell(client):
    name = f"命令行机构{builders.unique()}"
    org = runner.invoke(app, ["org", "create", name, "--kind", "enterprise"])
    assert org.exit_code == 0, org.output
    email = f"{builders.unique()}@example.cn"
    user = runner.invoke(app, ["user", "create", email, "--name", "运维", "--password", "cli-password-1",
                               "--org", name, "--role", "org_admin"])
    assert user.exit_code == 0, user.output
    token = runner.invoke(app, ["token", "create", "--email", email, "--org", name, "--name", "ops", "--scope", "read"])
    assert token.exit_code == 0, token.output
    secret = token.output.strip().splitlines()[-1]
    assert client.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"}).status_code == 200


def test_bad_input_gets_a_bilingual_message_and_no_traceback():
    bad = runner.invoke(app, ["org", "create", "坏代码公司", "--kind", "enterprise", "--uscc", "91350100M000100Y44"])
    assert bad.exit_code == 1
    assert "校验位" in bad.output and "check character" in bad.output and "Traceback" not in bad.output
    nobody = runner.invoke(app, ["token", "create", "--email", "nobody@example.cn", "--org", "x", "--name", "t"])
    assert nobody.exit_code == 1 and "No person" in nobody.output


def test_a_name_two_organisations_share_is_refused_not_guessed():
    name = f"同名机构{builders.unique()}"
    for _ in range(2):
        assert runner.invoke(app, ["org", "create", name, "--kind", "enterprise"]).exit_code == 0
    email = f"{builders.unique()}@example.cn"
    user = runner.invoke(app, ["user", "create", email, "--name", "运维", "--password", "cli-password-1",
                               "--org", name, "--role", "org_admin"])
    assert user.exit_code == 1 and "give the id or credit code" in " ".join(user.output.split())
    with transaction() as session:
        assert session.scalar(select(func.count()).select_from(Person).where(Person.email == email)) == 0


def test_only_an_org_admin_may_mint_a_token_from_the_shell():
    name = f"命令行机构{builders.unique()}"
    runner.invoke(app, ["org", "create", name, "--kind", "bank"])
    email = f"{builders.unique()}@example.cn"
    runner.invoke(app, ["user", "create", email, "--name", "员工", "--password", "cli-password-1", "--org", name,
                        "--role", "staff"])
    refused = runner.invoke(app, ["token", "create", "--email", email, "--org", name, "--name", "t"])
    assert refused.exit_code == 1 and "administrator" in refused.output


def test_demo_load_twice_changes_nothing():
    first = runner.invoke(app, ["demo", "load"])
    second = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == second.exit_code == 0
    assert "admin@demo.openzone.cn" in second.output
    with transaction() as session:
        assert session.scalar(select(func.count()).select_from(Person).where(Person.email.like("%@demo.openzone.cn"))) == 8
