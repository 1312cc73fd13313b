"""A class on one app: many Playground clients asking pairs at once, for a while, optionally during a training.

    python app.py &                                          # the app, with at least one finished run
    python bench/load_bench.py --clients 30 --seconds 60     # against http://127.0.0.1:7860/
    python bench/load_bench.py --train                       # the same while a demo training runs on the sample

Each client asks one pair, waits for the answer, asks the next: half through the API's /predict, half as the
Playground's button does (the fine-tuned run and its base model). Requests go over plain HTTP as the browser sends
them (join the queue, read the answer's stream), so every one ends in exactly one outcome: answered, refused
("queue full", HTTP 503), failed (the app's error message), server error (HTTP 5xx) or hung (no answer in --timeout).
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid

import httpx

OUTCOMES = ("answered", "refused", "failed", "server_error", "hung")
PAIRS = [("The cat sat on the mat.", "A cat was sitting on the mat."),
         ("He said the meeting would be held next week.", "The meeting will take place next week, he said."),
         ("Revenue for the quarter was $2.1 billion.", "The weather in Paris was sunny all weekend.")]


def endpoints(url: str) -> dict[str, int]:
    """fn_index of the API's /predict and of the Playground's button, from the page's config."""
    config = httpx.get(url + "config", timeout=30).json()
    return {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d["api_name"] in ("predict", "ask")}


def ask(http: httpx.Client, fn_index: int, data: list, timeout: float) -> tuple[str, str]:
    """One request as the browser sends it; its outcome and, unless answered, what the server said."""
    session = uuid.uuid4().hex
    try:
        joined = http.post("gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session})
        if joined.status_code != 200:
            kind = "refused" if joined.status_code == 503 else "server_error" if joined.status_code >= 500 else "failed"
            return kind, f"HTTP {joined.status_code}: {joined.text[:200]}"
        deadline = time.monotonic() + timeout
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            if stream.status_code >= 500:
                return "server_error", f"HTTP {stream.status_code} on the answer's stream"
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "queue_full":
                    return "refused", "queue full"
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    return ("answered", "") if message.get("success") else ("failed", str(output.get("error")))
                if time.monotonic() > deadline:
                    return "hung", f"no answer in {timeout} s"
        return "hung", "the stream ended without an answer"
    except httpx.TimeoutException:
        return "hung", f"no answer in {timeout} s"


def load(url: str, run: str, clients: int = 30, seconds: float = 60, timeout: float = 60) -> dict:
    """Run the clients for `seconds` (each finishes its last request); the outcome and latency of every request."""
    url = url.rstrip("/") + "/"
    fns = endpoints(url)
    records: list[tuple[str, float, str, bool]] = []  # outcome, seconds, what the server said, a client's first
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        # Reads may wait in the queue; the timeout of each read is the whole allowance, so a hang shows as one.
        with httpx.Client(base_url=url, timeout=httpx.Timeout(timeout, connect=10)) as http:
            asked = 0
            while time.monotonic() < stop_at:
                pair = PAIRS[(number + asked) % len(PAIRS)]
                name = "predict" if (number + asked) % 2 else "ask"
                data = [*pair, run] if name == "predict" else [run, *pair]
                started = time.perf_counter()
                outcome, said = ask(http, fns[name], data, timeout)
                with lock:
                    records.append((outcome, time.perf_counter() - started, said, asked == 0))
                asked += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 2 * timeout + 30)
    return summary(records, clients, seconds, still_running=sum(t.is_alive() for t in threads))


def percentile_95(latencies: list[float]) -> float | None:
    return round(statistics.quantiles(latencies, n=20)[18], 3) if len(latencies) >= 2 else None


def summary(records: list[tuple[str, float, str, bool]], clients: int, seconds: float, still_running: int = 0) -> dict:
    counts = {outcome: sum(1 for o, *_ in records if o == outcome) for outcome in OUTCOMES}
    answered = sorted(latency for outcome, latency, _, _ in records if outcome == "answered")
    # Each client's first request also waits for the models to load: the steady state is the rest.
    warm = [latency for outcome, latency, _, first in records if outcome == "answered" and not first]
    return {"clients": clients, "seconds": seconds, "requests": len(records), **counts,
            "clients_still_waiting": still_running,
            "answers_per_second": round(len(answered) / seconds, 2),
            "p50_seconds": round(statistics.median(answered), 3) if answered else None,
            "p95_seconds": percentile_95(answered),
            "p95_after_first_seconds": percentile_95(warm),
            "max_seconds": round(answered[-1], 3) if answered else None,
            "not_answered_because": sorted({f"{outcome}: {said}" for outcome, _, said, _ in records if said})[:10]}


def latest_finished(url: str) -> str:
    from gradio_client import Client

    runs = Client(url, verbose=False).predict(api_name="/runs")
    finished = [r["run"] for r in runs if r["state"] == "finished"]
    if not finished:
        raise SystemExit("error: the app has no finished run to ask; train one first "
                         "(python -m finetune train --preset demo)")
    return finished[0]


def until_training(api, training: str, seconds: float = 300) -> dict:
    """The run's status once it trains (past loading and tokenizing), so the load falls on a training under way."""
    deadline = time.monotonic() + seconds
    while (status := api.predict(training, api_name="/status"))["step"] == 0 and time.monotonic() < deadline:
        if status["state"] not in ("starting", "running"):
            raise SystemExit(f"error: the training ended as {status['state']}: {status['reason']}")
        time.sleep(1)
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/", help="the running app")
    parser.add_argument("--clients", type=int, default=30, help="clients asking at once")
    parser.add_argument("--seconds", type=float, default=60, help="how long they keep asking")
    parser.add_argument("--timeout", type=float, default=60,
                        help="a request with no answer after this many seconds hung")
    parser.add_argument("--run", default="", help="the run that answers (default: the latest finished)")
    parser.add_argument("--train", action="store_true", help="start a demo training on the sample first; stop it after")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    from gradio_client import Client

    url = args.url.rstrip("/") + "/"
    run = args.run or latest_finished(url)
    api = Client(url, verbose=False)
    started = api.predict("bundled", "sample", "demo", {}, api_name="/train") if args.train else None
    training, owner = (started["run"], started["owner"]) if started else (None, "")
    before = until_training(api, training) if training else None
    figures = load(url, run, args.clients, args.seconds, args.timeout)
    if training:
        status = api.predict(training, api_name="/status")
        figures["training"] = {"state": status["state"], "steps_during_load": status["step"] - before["step"],
                               "max_steps": status["max_steps"]}
        if status["state"] in ("starting", "running"):
            api.predict(training, owner, api_name="/stop")
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
