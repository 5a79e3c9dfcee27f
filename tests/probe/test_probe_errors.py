"""Bad endpoints give one clear line: a real misbehaving server on 127.0.0.1 (taoke.probe.server fault)."""

from __future__ import annotations

import socket
import time

import pytest

from taoke.cli.main import main as cli_main
from taoke.probe.client import Budget, BudgetExhausted, EndpointError, ProbeClient, normalize_base
from taoke.probe.launch import fault_server


@pytest.fixture(scope="module")
def fault():
    s = fault_server()
    try:
        yield f"http://127.0.0.1:{s.port}"
    finally:
        s.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(url: str, **kw) -> ProbeClient:
    budget = Budget(**{"max_requests": 5, "timeout_s": 3, "retries": 1, "backoff_s": 0.05, **kw})
    return ProbeClient(url, model="m", budget=budget)


def _one_line(exc: Exception) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) < 300
    return text


def test_refused_connection():
    with pytest.raises(EndpointError) as e:
        _client(f"http://127.0.0.1:{_free_port()}").chat("hi")
    assert "connection refused" in _one_line(e.value)


@pytest.mark.parametrize(
    ("kind", "words", "kw"),
    [
        ("500", "HTTP 500 after 2 attempts", {}),
        ("429", "HTTP 429 after 2 attempts", {}),
        ("nonjson", "not JSON", {}),
        ("huge", "byte limit", {"max_bytes": 100_000}),
        ("endless", "byte limit", {"max_bytes": 200_000}),
        ("slow", "no answer within", {"timeout_s": 1}),
        ("redirect", "redirect", {}),
    ],
)
def test_misbehaving_endpoint_is_one_line(fault, kind, words, kw):
    client = _client(f"{fault}/{kind}/v1", **kw)
    t0 = time.monotonic()
    with pytest.raises(EndpointError) as e:
        client.chat("hi")
    assert words in _one_line(e.value), str(e.value)
    assert time.monotonic() - t0 < 15
    assert "198.51.100.7" not in str(e.value) or kind == "redirect"


def test_retries_are_counted_against_the_budget(fault):
    client = _client(f"{fault}/500/v1", max_requests=2, retries=5)
    with pytest.raises(BudgetExhausted):
        client.chat("hi")
    assert client.requests_sent == 2


def test_cli_bad_endpoint_exit_2(fault, capsys):
    rc = cli_main(["probe", f"{fault}/nonjson/v1", "--max-requests", "3", "--timeout", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and "not JSON" in err and len(err.strip().splitlines()) == 1


def test_url_normalisation_never_changes_host():
    assert normalize_base("http://127.0.0.1:8000/v1/chat/completions") == "http://127.0.0.1:8000/v1"
    assert normalize_base("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    with pytest.raises(EndpointError):
        normalize_base("file:///etc/passwd")


def test_api_key_env_must_exist(monkeypatch):
    monkeypatch.delenv("TAOKE_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(EndpointError, match="not set"):
        ProbeClient.from_env("http://127.0.0.1:1/v1", None, "TAOKE_TEST_NO_SUCH_KEY", Budget())


def test_cli_probe_compare_without_controls_is_untestable_before_any_request(tmp_path, monkeypatch, capsys):
    """Issue 17: no --control and no recorded model to serve as one: exit 3 at once, no p-value, and no
    request sent (nothing listens on these ports: a request would fail with exit 2)."""
    monkeypatch.setenv("TAOKE_CACHE_DIR", str(tmp_path))
    a, b = f"http://127.0.0.1:{_free_port()}/v1", f"http://127.0.0.1:{_free_port()}/v1"
    rc = cli_main(["probe-compare", a, b, "--format", "json"])
    out = capsys.readouterr()
    assert rc == 3, out.err
    import json

    doc = json.loads(out.out)
    assert doc["relationship"] == "untestable" and all(c["p_value"] is None for c in doc["candidates"])
    assert cli_main(["probe-compare", a, b]) == 3
    assert "untestable" in capsys.readouterr().out
