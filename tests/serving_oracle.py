"""A small discrete-event simulation of a continuous-batching engine: the oracle the closed-form serving model
(genmodel.serving.steady) is checked against. It is test code, not the product path.

The simulated engine runs steps back to back while it has work: every running request that has finished its prompt
decodes one token; the rest of the step's token budget goes to prompt chunks, first-come first-served, to requests
already running and then to waiting requests it admits while fewer than ``max_seqs`` run. A step with ``n``
decoding requests and ``p`` prompt tokens lasts ``step(n, p)`` seconds; tokens come out at the end of the step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class _Req:
    arrival: float
    prompt: int
    output: int
    done_prompt: int = 0
    emitted: int = 0
    first: float = -1.0
    last: float = -1.0
    gaps: list | None = None
    todo: int = 0  # tokens to prefill: the prompt, or after a preemption the prompt and the tokens emitted so far
    held: int = 0  # KV-cache tokens the request holds


def _lengths(rng, mean: int, cv: float, n: int) -> np.ndarray:
    """``n`` whole lengths of mean ``mean``: log-normal with coefficient of variation ``cv`` (each at least 1), or
    all ``mean`` where ``cv`` is 0."""
    if cv <= 0:
        return np.full(n, mean)
    sigma = np.sqrt(np.log1p(cv**2))
    return np.maximum(1, np.round(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, n)))


def _fits(r: _Req, running: list, decodes: int, kv_tokens, admission: str) -> bool:
    """Whether the KV cache admits ``r`` beside ``running`` (``simulate``'s ``kv_tokens`` and ``admission``)."""
    if kv_tokens is None:
        return True
    if admission == "reserve":
        return sum(q.prompt + q.output for q in running) + r.prompt + r.output <= kv_tokens
    held = sum(q.held + max(q.todo - q.done_prompt, 0) for q in running)
    return held + decodes + r.todo <= kv_tokens


def simulate(step, rate: float, input_tokens: int, output_tokens: int, *, budget: int, chunk: int, max_seqs: int,
             requests: int = 6000, seed: int = 1, input_cv: float = 0.0, arrival_shape: float = 1.0,
             concurrency: int | None = None, separate: bool = False, warmup: int | None = None,
             output_cv: float = 0.0, client_delay: float = 0.0,
             output_cap: int | None = None, recv_interval: int = 1, kv_tokens: int | None = None,
             admission: str = "reserve") -> dict[str, np.ndarray]:
    """Per-request TTFT, TPOT, end-to-end latency, inter-token gaps, output and prompt lengths of a simulated run
    (the first ``warmup`` requests dropped, a tenth of them by default; 0 keeps the whole run from an idle engine).
    ``separate``: prefill steps run apart from decode steps and come first (SGLang's default scheduler): a step
    carries prompt chunks only, and decodes run only when no prompt work can be scheduled. ``input_cv`` /
    ``output_cv``: log-normal lengths. ``client_delay``: in a closed loop, the seconds between a request's last token
    and its client's next request reaching the engine (0: at the same instant, in time for the next step).
    ``output_cap``: no output is longer (the log-normal draws are cut there, as a benchmark's max_tokens cuts
    answers). ``recv_interval`` N: the scheduler takes arrived requests in only when its counter reaches N (SGLang's
    --scheduler-recv-interval): a decode-only step adds 1 to it, a step with prompt tokens N, an idle engine takes
    them in at once; arrivals wait outside the engine until then. ``kv_tokens``: the KV cache's size in tokens
    (None: no limit but ``max_seqs``), with ``admission`` "reserve" (a request is admitted only while every running
    request's whole prompt and output fit: TensorRT-LLM's guaranteed-no-evict scheduling) or "current" (vLLM's: it is
    admitted while the tokens the running requests hold now, one more for each decode and the prompts still to
    prefill leave room for its prompt; a step whose decodes find no room first preempts the request admitted last,
    which gives its tokens back, returns to the head of the queue and on readmission prefills its prompt and the
    tokens it had emitted again, then emits its next token)."""
    rng = np.random.default_rng(seed)
    prompts = _lengths(rng, input_tokens, input_cv, requests)
    outputs = _lengths(rng, output_tokens, output_cv, requests)
    if output_cap is not None:
        outputs = np.minimum(outputs, output_cap)
    if concurrency is None:
        gaps = rng.gamma(arrival_shape, 1.0 / (rate * arrival_shape), requests)
        arrivals = np.cumsum(gaps)
    else:
        arrivals = np.full(requests, np.inf)
        arrivals[:concurrency] = 0.0
    reqs = [_Req(float(a), int(p), int(o), gaps=[], todo=int(p)) for a, p, o in zip(arrivals, prompts, outputs,
                                                                                  strict=True)]
    if kv_tokens is not None and max(int(p) + int(o) for p, o in zip(prompts, outputs, strict=True)) > kv_tokens:
        raise ValueError("a request longer than the KV cache would never run")
    waiting: deque[_Req] = deque()
    inbox: list[_Req] = []  # arrived, not yet taken in by the scheduler (recv_interval)
    counter = recv_interval
    running: list[_Req] = []
    nxt, now, finished = 0, 0.0, []
    released = concurrency or 0  # closed loop: the next request a finishing client sends
    while len(finished) < requests:
        while nxt < requests and reqs[nxt].arrival <= now:
            inbox.append(reqs[nxt])
            nxt += 1
        if not running and not waiting:
            counter = recv_interval  # an idle scheduler loops fast: it takes arrivals in at once
        if counter >= recv_interval:
            waiting.extend(inbox)
            inbox.clear()
            counter = 0
        if not running and not waiting:
            now = reqs[nxt].arrival
            continue
        decoding = [r for r in running if r.done_prompt >= r.todo]
        if kv_tokens is not None and admission == "current":
            # each decode needs one more token: preempt the request admitted last until they fit
            while running and sum(r.held for r in running) + len(decoding) > kv_tokens:
                victim = running.pop()
                victim.todo, victim.done_prompt, victim.held = victim.prompt + victim.emitted, 0, 0
                waiting.appendleft(victim)
                decoding = [r for r in running if r.done_prompt >= r.todo]
        pending = any(r.done_prompt < r.todo for r in running) or (waiting and len(running) < max_seqs)
        if separate and pending:
            decoding = []  # a prefill step: the decodes wait
        room = min(budget - len(decoding), chunk)
        chunks: list[tuple[_Req, int]] = []
        for r in running:  # partially prefilled requests first
            if r.done_prompt < r.todo and room > 0:
                take = min(room, r.todo - r.done_prompt)
                chunks.append((r, take))
                room -= take
        while waiting and room > 0 and len(running) < max_seqs and _fits(waiting[0], running, len(decoding),
                                                                         kv_tokens, admission):
            r = waiting.popleft()
            running.append(r)
            take = min(room, r.todo)
            chunks.append((r, take))
            room -= take
        now += float(step(np.asarray(float(len(decoding))), np.asarray(float(sum(t for _, t in chunks)))))
        counter += recv_interval if chunks else 1
        for r in decoding:
            r.emitted += 1
            r.held += 1
            r.gaps.append(now - r.last)
            r.last = now
        for r, take in chunks:
            r.done_prompt += take
            r.held += take
            if r.done_prompt >= r.todo:
                if r.emitted:  # a preempted request, recomputed: its next token
                    r.emitted += 1
                    r.gaps.append(now - r.last)
                    r.last = now
                else:
                    r.first = r.last = now
                    r.emitted = 1
        for r in [r for r in running if r.emitted >= r.output]:
            running.remove(r)
            finished.append(r)
            if concurrency is not None and released < requests:
                reqs[released].arrival = now + client_delay
                released += 1
    kept = [r for r in finished if r.arrival >= 0][requests // 10 if warmup is None else warmup:]
    ttft = np.array([r.first - r.arrival for r in kept])
    e2e = np.array([r.last - r.arrival for r in kept])
    tpot = (e2e - ttft) / np.maximum(np.array([r.output for r in kept]) - 1, 1)
    span = max(r.last for r in kept) - min(r.arrival for r in kept)
    return {"ttft": ttft, "e2e": e2e, "tpot": tpot, "itl": np.concatenate([r.gaps for r in kept]),
            "gaps": [np.asarray(r.gaps) for r in kept], "throughput": np.asarray(len(kept) / span),
            "output_tokens": np.array([r.output for r in kept]), "prompt_tokens": np.array([r.prompt for r in kept])}
