"""A real OpenAI-compatible chat server for tests, benchmarks and demos (loopback only by default).

WHY: probes must be tested against real endpoints serving real models, not mocks. This server answers
``GET /v1/models`` and ``POST /v1/chat/completions`` (non-streaming, greedy decoding, ``usage``, optional
``logprobs``) with torch/transformers, in three modes::

    python -m taoke.probe.server model --spec PATH [--name NAME] [--port 0]
        PATH: a GGUF file (SmolLM2, Gemma 3 via transformers' GGUF loader) or a HF Llama folder (zoo)
    python -m taoke.probe.server shell --upstream URL --name NAME --system "You are ..." [--port 0]
        the cheapest "shell" (套壳): forwards to another server under its own name and system prompt
    python -m taoke.probe.server fault [--port 0]
        misbehaving endpoints for the error tests: /500, /nonjson, /endless, /huge, /slow, /redirect

It prints ``READY <port>`` on stdout once listening. The stdlib ``http.server`` is enough (no FastAPI
dependency); generation is serialized by a lock because one CPU model serves one request at a time.
Models without a chat template (Gemma 3 270M base, zoo models) get a plain ``User:/Assistant:`` prompt.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PLAIN_TEMPLATE = "{system}User: {user}\nAssistant:"
MAX_BODY = 1_000_000


class ChatModel:
    """A transformers causal LM with its tokenizer, decoding greedily."""

    def __init__(self, spec: str, name: str | None = None, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(threads)
        path = Path(spec)
        self.torch = torch
        if path.is_file():  # GGUF: transformers dequantizes through the gguf package
            from transformers import AutoModelForCausalLM, AutoTokenizer

            # a local GGUF file, local_files_only: nothing is downloaded, no remote code
            self.tok = AutoTokenizer.from_pretrained(  # nosec B615 - local file, local_files_only
                str(path.parent), gguf_file=path.name, local_files_only=True
            )
            self.model = AutoModelForCausalLM.from_pretrained(  # nosec B615 - local file, local_files_only
                str(path.parent), gguf_file=path.name, dtype=torch.float32, local_files_only=True
            )
        else:  # HF Llama folder (the zoo); never trust_remote_code
            from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

            self.tok = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"))
            self.model = LlamaForCausalLM.from_pretrained(  # nosec B615 - local folder, local_files_only
                str(path), dtype=torch.float32, local_files_only=True
            )
        self.model.eval()
        self.name = name or path.stem
        self.lock = threading.Lock()

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the conversation: the model's chat template, else the plain template."""
        if getattr(self.tok, "chat_template", None):
            out = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            if isinstance(out, dict) or hasattr(out, "input_ids"):
                out = out["input_ids"]
            return [int(i) for i in out]
        system = "".join(m["content"] + "\n\n" for m in messages if m["role"] == "system")
        user = "\n".join(m["content"] for m in messages if m["role"] != "system")
        text = PLAIN_TEMPLATE.format(system=system, user=user)
        ids = self.tok(text, add_special_tokens=True)["input_ids"]
        return [int(i) for i in ids]

    def generate(self, messages: list[dict[str, str]], max_tokens: int, logprobs: bool) -> dict[str, Any]:
        torch = self.torch
        ids = self.prompt_ids(messages)
        x = torch.tensor([ids])
        eos = self.tok.eos_token_id
        with self.lock, torch.no_grad():
            out = self.model.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=max(1, int(max_tokens)),
                do_sample=False,
                output_scores=logprobs,
                return_dict_in_generate=True,
                pad_token_id=eos if eos is not None else 0,
            )
        new = out.sequences[0, len(ids) :].tolist()
        text = self.tok.decode(new, skip_special_tokens=True)
        finish = "stop" if (eos is not None and new and new[-1] == eos) else "length"
        lp = None
        if logprobs:
            lp = []
            for tid, scores in zip(new, out.scores, strict=False):
                logp = torch.log_softmax(scores[0].float(), dim=-1)
                top = torch.topk(logp, 5)
                lp.append(
                    {
                        "token": self.tok.decode([tid]),
                        "logprob": float(logp[tid]),
                        "top_logprobs": [
                            {"token": self.tok.decode([int(i)]), "logprob": float(v)}
                            for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=False)
                        ],
                    }
                )
        return {
            "text": text,
            "prompt_tokens": len(ids),
            "completion_tokens": len(new),
            "finish": finish,
            "logprobs": lp,
        }


def _completion(name: str, gen: dict[str, Any]) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": gen["text"]},
        "finish_reason": gen["finish"],
    }
    if gen.get("logprobs") is not None:
        choice["logprobs"] = {"content": gen["logprobs"]}
    return {
        "id": f"chatcmpl-{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [choice],
        "usage": {
            "prompt_tokens": gen["prompt_tokens"],
            "completion_tokens": gen["completion_tokens"],
            "total_tokens": gen["prompt_tokens"] + gen["completion_tokens"],
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "taoke-probe-server"
    app: Any = None  # set per server class

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        return

    def _send(self, status: int, doc: Any, ctype: str = "application/json") -> None:
        body = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any] | None:
        n = int(self.headers.get("Content-Length") or 0)
        if n <= 0 or n > MAX_BODY:
            self._send(400, {"error": {"message": "missing or oversized body"}})
            return None
        try:
            doc = json.loads(self.rfile.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._send(400, {"error": {"message": "body is not JSON"}})
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            self._send(400, {"error": {"message": "expected {'messages': [...]}"}})
            return None
        return doc

    def do_GET(self) -> None:  # noqa: N802
        self.app.get(self)

    def do_POST(self) -> None:  # noqa: N802
        self.app.post(self)


class _ChatApp:
    """What every test app shares: ``/v1/models`` lists ``name``, and only ``/v1/chat/completions``
    takes a POST (any other path: 404)."""

    name: str

    def get(self, h: _Handler) -> None:
        if h.path.rstrip("/") == "/v1/models":
            h._send(200, {"object": "list", "data": [{"id": self.name, "object": "model"}]})
        else:
            h._send(404, {"error": {"message": "not found"}})

    @staticmethod
    def chat_request(h: _Handler) -> dict | None:
        """The JSON body of a chat completion request, or None when an error was already sent."""
        if h.path.rstrip("/") != "/v1/chat/completions":
            h._send(404, {"error": {"message": "not found"}})
            return None
        return h._body()


class ModelApp(_ChatApp):
    """Serve one real model."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = model.name

    def post(self, h: _Handler) -> None:
        doc = self.chat_request(h)
        if doc is None:
            return
        msgs = [
            {"role": str(m.get("role", "user")), "content": str(m.get("content", ""))}
            for m in doc["messages"]
            if isinstance(m, dict)
        ]
        raw = doc.get("max_tokens") or 32
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            h._send(400, {"error": {"message": "max_tokens must be a positive integer"}})
            return
        max_tokens = min(raw, 256)  # a test server: bounded answers
        gen = self.model.generate(msgs, max_tokens, bool(doc.get("logprobs")))
        h._send(200, _completion(self.model.name, gen))


class ShellApp(_ChatApp):
    """Forward to an upstream server under another name with an injected system prompt (a 套壳 app)."""

    def __init__(self, upstream: str, name: str, system: str) -> None:
        from taoke.probe.client import Budget, ProbeClient

        self.client = ProbeClient(upstream, budget=Budget(max_requests=10**9, total_s=10**9, retries=0))
        self.name = name
        self.system = system
        self.upstream_model: str | None = None

    def post(self, h: _Handler) -> None:
        doc = self.chat_request(h)
        if doc is None:
            return
        from taoke.errors import TaokeError

        if self.upstream_model is None:
            self.upstream_model = (self.client.list_models() or ["default"])[0]
        msgs = [m for m in doc["messages"] if isinstance(m, dict) and m.get("role") != "system"]
        fwd = dict(
            doc, model=self.upstream_model, messages=[{"role": "system", "content": self.system}, *msgs]
        )
        try:
            out = self.client.request_json("POST", "/chat/completions", fwd)
        except TaokeError as exc:
            h._send(502, {"error": {"message": f"upstream: {exc}"}})
            return
        out["model"] = self.name
        h._send(200, out)


class FaultApp:
    """Endpoints that misbehave the ways real ones do; each path prefix picks one failure."""

    def get(self, h: _Handler) -> None:
        self.post(h)

    def post(self, h: _Handler) -> None:
        kind = h.path.strip("/").split("/")[0]
        if kind == "500":
            h._send(500, {"error": {"message": "internal error"}})
        elif kind == "429":
            h._send(429, {"error": {"message": "slow down"}})
        elif kind == "nonjson":
            h._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        elif kind == "redirect":
            h.send_response(302)
            h.send_header("Location", "http://198.51.100.7/v1/chat/completions")
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif kind == "huge":
            body = b'{"choices": [{"message": {"content": "' + b"a" * 5_000_000 + b'"}}]}'
            h._send(200, body)
        elif kind == "endless":  # no Content-Length, never ends
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.end_headers()
            try:
                h.wfile.write(b'{"choices": [{"message": {"content": "')
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    h.wfile.write(b"la " * 2000)
                    h.wfile.flush()
                    time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                return
        elif kind == "slow":
            time.sleep(30)
            h._send(200, {"choices": []})
        else:
            h._send(404, {"error": {"message": "unknown fault"}})


def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Bind (port 0 = a free port) and return the server; the caller runs ``serve_forever``."""
    handler = type("Handler", (_Handler,), {"app": app})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    return httpd


def main(argv: list[str] | None = None) -> int:
    """Command line: ``model`` | ``shell`` | ``fault`` (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m taoke.probe.server", description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("model", "shell", "fault"))
    ap.add_argument("--spec", help="model: GGUF file or HF folder")
    ap.add_argument("--name", help="served model name")
    ap.add_argument("--upstream", help="shell: URL of the server to forward to")
    ap.add_argument("--system", default="You are a helpful assistant.", help="shell: injected system prompt")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    if args.mode == "model":
        if not args.spec:
            ap.error("model mode needs --spec")
        app: Any = ModelApp(ChatModel(args.spec, args.name, args.threads))
    elif args.mode == "shell":
        if not (args.upstream and args.name):
            ap.error("shell mode needs --upstream and --name")
        app = ShellApp(args.upstream, args.name, args.system)
    else:
        app = FaultApp()
    httpd = serve(app, args.host, args.port)
    print(f"READY {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
