"""``lembed serve`` start-up checks: a key no client can send is refused before anything
is bound or loaded; binding beyond loopback without a key warns."""

from __future__ import annotations

import pytest

from lembed.cli import main
from lembed.cli.serve import exposure_warning
from lembed.settings import Settings
from tests.server.conftest import free_port


@pytest.mark.parametrize("key", ["ключ", "two words"])
def test_unsendable_api_key_is_refused_at_start_up(
    key: str, capsys: pytest.CaptureFixture[str], cli_settings: Settings
) -> None:
    port = str(free_port())
    rc = main(["serve", "--backend", "fake", "--port", port, "--api-key", key])
    err = capsys.readouterr().err
    assert rc == 1 and "--api-key must be non-empty printable ASCII" in err, err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_binding_beyond_loopback_without_a_key_warns(host: str) -> None:
    warning = exposure_warning(host, None)
    assert warning is not None and host in warning and "--api-key" in warning
    assert exposure_warning(host, "sekret") is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_needs_no_warning(host: str) -> None:
    assert exposure_warning(host, None) is None
