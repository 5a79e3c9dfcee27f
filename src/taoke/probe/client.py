"""A bounded, polite client for OpenAI-compatible chat endpoints.

WHY its own client: the endpoint being probed is untrusted. It may never answer, answer forever, send
gigabytes, redirect to another host, or fail half the time. Every request here is bounded in number
(``max_requests``), time (per-request timeout and a total wall budget) and size (``max_bytes`` per
response), retried with exponential backoff only on 429/5xx/connection resets, and sent only to the
URL the user gave: redirects are never followed, so a probe can never be bounced to an address the
user did not name. The stdlib ``urllib`` suffices, which keeps the client dependency-free.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from taoke.errors import TaokeError
from taoke.progress import Progress, no_progress


class EndpointError(TaokeError):
    """The endpoint could not be probed: refused, failing, not JSON, too slow or too large."""


class BudgetExhausted(EndpointError):
    """The probe hit its request or time budget (``--max-requests``, ``--max-seconds``)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse every redirect: a probe only ever talks to the address the user gave."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, D102
        raise EndpointError(f"{req.full_url}: HTTP {code} redirect to {newurl!r} refused (never followed)")


@dataclass
class Budget:
    """What one probe session may spend; WHY: a probe must never cost more than the user allowed."""

    max_requests: int = 60
    timeout_s: float = 60.0  # one request, connect + read
    total_s: float = 900.0  # the whole session
    max_bytes: int = 1_000_000  # one response body
    retries: int = 2  # extra attempts on 429/5xx/reset
    backoff_s: float = 0.5  # first backoff, doubled each retry (Retry-After honoured up to 10 s)


@dataclass
class ChatReply:
    """One chat completion: the text and whatever usage/logprobs the endpoint reported."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    model: str | None
    logprobs: list[dict[str, Any]] | None = None
    seconds: float = 0.0


def normalize_base(url: str) -> str:
    """``http://h:p`` / ``.../v1`` / ``.../v1/chat/completions`` -> ``http://h:p/v1`` (no other host)."""
    parsed = urllib.parse.urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise EndpointError(f"{url!r}: not an http(s) URL (expected e.g. http://127.0.0.1:8000/v1)")
    path = parsed.path.rstrip("/")
    for suffix in ("/chat/completions", "/models", "/completions"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    if not path.endswith("/v1"):
        path = path + "/v1"
    return urllib.parse.urlunparse((parsed.scheme, parsed.netloc, path, "", "", ""))


@dataclass
class ProbeClient:
    """Send bounded chat requests to one endpoint; count what was spent.

    >>> c = ProbeClient("http://127.0.0.1:9/v1", budget=Budget(max_requests=1, retries=0, timeout_s=1))
    >>> c.base
    'http://127.0.0.1:9/v1'
    """

    url: str
    model: str | None = None
    api_key: str | None = None
    budget: Budget = field(default_factory=Budget)
    requests_sent: int = 0
    bytes_received: int = 0
    started: float = field(default_factory=time.monotonic)
    progress: Progress = field(default=no_progress, repr=False)  # hears of each request sent

    def __post_init__(self) -> None:
        self.base = normalize_base(self.url)
        self._opener = urllib.request.build_opener(_NoRedirect())

    @classmethod
    def from_env(cls, url: str, model: str | None, api_key_env: str | None, budget: Budget) -> ProbeClient:
        """Read the API key from the named environment variable (never from the command line)."""
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise EndpointError(f"--api-key-env {api_key_env}: the variable is not set")
        return cls(url, model=model, api_key=key, budget=budget)

    # -- budget ---------------------------------------------------------------------------------------
    def _check_budget(self) -> None:
        if self.requests_sent >= self.budget.max_requests:
            raise BudgetExhausted(
                f"{self.base}: request budget of {self.budget.max_requests} spent (raise --max-requests)"
            )
        if time.monotonic() - self.started > self.budget.total_s:
            raise BudgetExhausted(f"{self.base}: time budget of {self.budget.total_s:.0f} s spent")

    def _read_bounded(self, resp: Any, url: str) -> bytes:
        limit = self.budget.max_bytes
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise EndpointError(f"{url}: response of {int(declared)} bytes exceeds the {limit}-byte limit")
        chunks: list[bytes] = []
        got = 0
        deadline = time.monotonic() + self.budget.timeout_s
        while True:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            got += len(chunk)
            if got > limit:
                raise EndpointError(
                    f"{url}: response exceeds the {limit}-byte limit (endless or huge answer)"
                )
            if time.monotonic() > deadline:
                raise EndpointError(f"{url}: response still streaming after {self.budget.timeout_s:.0f} s")
            chunks.append(chunk)
        self.bytes_received += got
        return b"".join(chunks)

    # -- transport ------------------------------------------------------------------------------------
    def request_json(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One bounded request with polite retries; returns the decoded JSON object."""
        url = self.base + path
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "taoke-probe",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempt = 0
        while True:
            self._check_budget()
            self.requests_sent += 1
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            retry_after: float | None = None
            try:
                with self._opener.open(req, timeout=self.budget.timeout_s) as resp:
                    body = self._read_bounded(resp, url)
                break
            except urllib.error.HTTPError as exc:
                status = exc.code
                if status == 429 or status >= 500:
                    ra = exc.headers.get("Retry-After") if exc.headers else None
                    retry_after = float(ra) if ra and ra.replace(".", "", 1).isdigit() else None
                    last = f"HTTP {status}"
                else:
                    raise EndpointError(
                        f"{url}: HTTP {status} {exc.reason} (check the URL, --model, the key)"
                    ) from None
            except EndpointError:
                raise
            except TimeoutError:
                raise EndpointError(
                    f"{url}: no answer within {self.budget.timeout_s:.0f} s (slow endpoint)"
                ) from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    raise EndpointError(f"{url}: no answer within {self.budget.timeout_s:.0f} s") from None
                if isinstance(reason, ConnectionRefusedError):
                    raise EndpointError(f"{url}: connection refused (is the server running?)") from None
                last = f"{type(reason).__name__}: {reason}"
            except (ConnectionResetError, ConnectionAbortedError, http_client_errors()) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt >= self.budget.retries:
                raise EndpointError(f"{url}: {last} after {attempt + 1} attempts")
            wait = min(10.0, retry_after if retry_after is not None else self.budget.backoff_s * 2**attempt)
            attempt += 1
            time.sleep(wait)
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            head = body[:60].decode("utf-8", "replace")
            raise EndpointError(f"{url}: answer is not JSON (starts {head!r})") from None
        if not isinstance(doc, dict):
            raise EndpointError(f"{url}: answer is JSON but not an object")
        # after a good answer only: a failing endpoint's error stays the one line on stderr
        self.progress(f"requests to {self.base}", self.requests_sent, self.budget.max_requests, item=path)
        return doc

    def list_models(self) -> list[str]:
        """Model ids from ``/v1/models`` (one request)."""
        doc = self.request_json("GET", "/models")
        data = doc.get("data")
        if not isinstance(data, list):
            raise EndpointError(f"{self.base}/models: no 'data' list in the answer")
        return [str(d.get("id")) for d in data if isinstance(d, dict) and d.get("id")]

    def chat(
        self,
        user: str,
        max_tokens: int = 32,
        system: str | None = None,
        logprobs: bool = False,
    ) -> ChatReply:
        """One greedy (temperature 0) chat turn; bounded like every request."""
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        payload: dict[str, Any] = {
            "model": self.model or "default",
            "messages": messages,
            "max_tokens": int(max_tokens),
            "temperature": 0,
            "stream": False,
        }
        if logprobs:
            payload["logprobs"] = True
            payload["top_logprobs"] = 5
        t0 = time.monotonic()
        doc = self.request_json("POST", "/chat/completions", payload)
        try:
            choice = doc["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise EndpointError(f"{self.base}/chat/completions: answer has no choices[0].message") from None
        if not isinstance(text, str):
            raise EndpointError(f"{self.base}/chat/completions: message content is not text")
        usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
        lp = None
        if isinstance(choice.get("logprobs"), dict) and isinstance(choice["logprobs"].get("content"), list):
            lp = choice["logprobs"]["content"]
        return ChatReply(
            text=text,
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            model=str(doc.get("model")) if doc.get("model") is not None else None,
            logprobs=lp,
            seconds=time.monotonic() - t0,
        )

    def spent(self) -> dict[str, Any]:
        """What the session cost, for the report."""
        return {
            "requests": self.requests_sent,
            "bytes": self.bytes_received,
            "seconds": round(time.monotonic() - self.started, 2),
            "max_requests": self.budget.max_requests,
        }


def http_client_errors() -> type[Exception]:
    """http.client's protocol errors (bad status line, truncated body), retried like resets."""
    import http.client

    return http.client.HTTPException


def _int_or_none(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None
