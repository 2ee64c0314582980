"""``clipflow keys create|list|revoke``: the key is printed once, lists show ids only, a
revoked key stops working, bad input is named."""

from __future__ import annotations

import pytest

from flows.cli import main


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    monkeypatch.setenv("CLIPFLOW_DATABASE_URL", url)
    return url


def test_create_list_revoke(db: str, capsys) -> None:
    from tasks.jobs.api_keys import authenticate

    assert main(["keys", "create", "--client", "acme", "--role", "submit"]) == 0
    key = capsys.readouterr().out.strip()
    record = authenticate(db, key)
    assert record is not None and (record.client, record.role) == ("acme", "submit")

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert record.id in listing and "acme" in listing and "active" in listing
    assert key.rsplit("_", 1)[1] not in listing

    assert main(["keys", "revoke", record.id]) == 0
    assert authenticate(db, key) is None
    main(["keys", "list", "--client", "acme"])
    assert "revoked" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create", "--client", "acme", "--role", "boss"], "--role 'boss': must be one"),
        (["keys", "create", "--client", "Acme Inc", "--role", "read"], "--client: client 'Acme"),
        (["keys", "revoke", "0123456789ab"], "key '0123456789ab': no such key"),
    ],
)
def test_bad_input_is_named(db: str, capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
