"""A class on the app: many Playground clients asking pairs at once, for a while; alone, during a training, on two apps.

    python bench/load_bench.py --json bench/results-load.json     # the three cases, on apps it starts itself
    python bench/load_bench.py --repo /tmp/old --label old         # the same against another checkout's app.py
    python bench/load_bench.py --url http://127.0.0.1:7860/ --clients 30 --seconds 60 [--train]   # a running app

Without --url the bench trains a small demo run of the bundled model (unless --runs-dir holds a finished run), serves
`python app.py` of --repo on that runs folder, asks each app once per endpoint (the models loaded and warm) and runs
the cases of --cases: "one" (one app), "train" (one app while a demo training of the bundled model on the sample runs
in it) and "two" (two apps on the one runs folder, the clients spread over both). The machine's load averages are
recorded before each case: other work on it slows the answers.

Each client asks one pair, waits for the answer, asks the next: half through the API's /predict, half as the
Playground's button does (the fine-tuned run and its base model). Requests go over plain HTTP as the browser sends
them (join the queue, read the answer's stream), so every one ends in exactly one outcome: answered, refused
("queue full", HTTP 503), failed (the app's error message), server error (HTTP 5xx) or hung (no answer in --timeout).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CASES = ("one", "train", "two")
TRAINING = {"logging_steps": 1}  # the demo preset, each step in the status: its progress under the load is counted

OUTCOMES = ("answered", "refused", "failed", "server_error", "hung")
PAIRS = [("The cat sat on the mat.", "A cat was sitting on the mat."),
         ("He said the meeting would be held next week.", "The meeting will take place next week, he said."),
         ("Revenue for the quarter was $2.1 billion.", "The weather in Paris was sunny all weekend.")]


def endpoints(url: str) -> dict[str, int]:
    """fn_index of the API's /predict and of the Playground's button, from the page's config."""
    config = httpx.get(url + "config", timeout=30).json()
    return {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d["api_name"] in ("predict", "ask")}


def ask(http: httpx.Client, fn_index: int, data: list, timeout: float, session: str = "") -> tuple[str, str]:
    """One request as the browser sends it, in `session` (default: a new one); its outcome and, unless answered, what
    the server said."""
    session = session or uuid.uuid4().hex
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


def load(url: str | list[str], run: str, clients: int = 30, seconds: float = 60, timeout: float = 60,
         session_per_request: bool = False) -> dict:
    """Run the clients for `seconds` (each finishes its last request), spread over the apps at `url` (one or a list);
    the outcome and latency of every request.

    Each client keeps one session, as a browser tab and a gradio_client Client do; with session_per_request each
    request opens a new one, as a new page would (Gradio then builds a session's state, which costs the more
    components the page has)."""
    urls = [u.rstrip("/") + "/" for u in ([url] if isinstance(url, str) else url)]
    fns = [endpoints(u) for u in urls]
    records: list[tuple[str, float, str, bool]] = []  # outcome, seconds, what the server said, a client's first
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        # Reads may wait in the queue; the timeout of each read is the whole allowance, so a hang shows as one.
        app, session = number % len(urls), uuid.uuid4().hex
        with httpx.Client(base_url=urls[app], timeout=httpx.Timeout(timeout, connect=10)) as http:
            asked = 0
            while time.monotonic() < stop_at:
                pair = PAIRS[(number + asked) % len(PAIRS)]
                name = "predict" if (number + asked) % 2 else "ask"
                data = [*pair, run] if name == "predict" else [run, *pair]
                started = time.perf_counter()
                outcome, said = ask(http, fns[app][name], data, timeout, "" if session_per_request else session)
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
    refused = [said for outcome, _, said, _ in records if outcome == "refused"]
    return {"clients": clients, "seconds": seconds, "requests": len(records), **counts,
            "refused_as": dict(Counter(map(refusal, refused))),
            "clients_still_waiting": still_running,
            "answers_per_second": round(len(answered) / seconds, 2),
            "p50_seconds": round(statistics.median(answered), 3) if answered else None,
            "p95_seconds": percentile_95(answered),
            "p95_after_first_seconds": percentile_95(warm),
            "max_seconds": round(answered[-1], 3) if answered else None,
            "not_answered_because": sorted({f"{outcome}: {said}" for outcome, _, said, _ in records if said})[:10]}


def refusal(said: str) -> str:
    """What kind of refusal: "queue full" (at the join or in the stream), else what the server said."""
    return "queue full" if "queue full" in said.lower() or "queue is full" in said.lower() else said[:80]


def api_client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def latest_finished(url: str) -> str:
    runs = api_client(url).predict(api_name="/runs")
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(repo: Path, runs_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`python app.py` of `repo` on `runs_dir`, offline, on a free port; the process and its URL once it answers."""
    port = free_port()
    env = {**os.environ, "FINETUNE_RUNS_DIR": str(runs_dir), "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen([sys.executable, "app.py"], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 300
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                sys.exit(f"the app did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)


def finished_run(runs_dir: Path, repo: Path) -> str:
    """A finished run in runs_dir: the newest there, else a small demo training of the bundled model made now."""
    for folder in sorted(runs_dir.glob("*"), reverse=True):
        if '"status": "finished"' in ((folder / "events.jsonl").read_text() if (folder / "events.jsonl").is_file()
                                      else ""):
            return folder.name
    folder = runs_dir / "00000000-000000-bundled-load"
    print(f"training {folder.name} (the bundled model, 128 pairs of the sample, one epoch)...", flush=True)
    subprocess.run([sys.executable, "-m", "finetune", "train", "--preset", "demo", "--model", "bundled", "--data",
                    "sample", "--epochs", "1", "--max-train-samples", "128", "--max-eval-samples", "64",
                    "--output-dir", str(folder)], cwd=repo, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1"})
    return folder.name


def warm(url: str, run: str) -> None:
    """Each endpoint asked once: the models (the run's and its base) loaded, exported and compiled if not yet."""
    fns = endpoints(url)
    with httpx.Client(base_url=url, timeout=600) as http:
        for name, data in (("predict", [*PAIRS[0], run]), ("ask", [run, *PAIRS[0]])):
            outcome, said = ask(http, fns[name], data, 600)
            if outcome != "answered":
                sys.exit(f"error: {url} did not answer {name}: {outcome} {said}")


def machine_load() -> list[float]:
    """The load averages over 1, 5 and 15 minutes (as `uptime` prints them)."""
    return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]


def case(urls: list[str], run: str, args, training: dict | None = None) -> dict:
    """One case's figures, with the machine's load averages before and after it, and how the training went on."""
    api = api_client(urls[0])
    before = until_training(api, training["run"]) if training else None
    load_before = machine_load()
    figures = load(urls, run, args.clients, args.seconds, args.timeout, args.session_per_request)
    figures["load_average_before"], figures["load_average_after"] = load_before, machine_load()
    if training:
        status = api.predict(training["run"], api_name="/status")
        figures["training"] = {"state": status["state"], "steps_during_load": status["step"] - before["step"],
                               "max_steps": status["max_steps"]}
        if status["state"] in ("starting", "running"):
            api.predict(training["run"], training["owner"], api_name="/stop")
        while api.predict(training["run"], api_name="/status")["state"] in ("starting", "running"):
            time.sleep(1)
        api.predict(training["run"], training["owner"], api_name="/delete")  # its checkpoints would fill the folder
    return figures


def served_cases(args) -> dict:
    """The cases of args.cases on apps of args.repo that the bench starts (and ends) itself."""
    repo = Path(args.repo).resolve()
    home = Path(tempfile.mkdtemp(prefix="load-bench-"))
    runs_dir = Path(args.runs_dir).resolve() if args.runs_dir else home / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    run = args.run or finished_run(runs_dir, repo)
    print(f"apps' logs in {home}", flush=True)
    servers, urls = [], []
    results = {"code": args.label or repo.name, "repo": str(repo), "run": run, "clients": args.clients,
               "seconds": args.seconds, "session_per_request": args.session_per_request, "cases": {}}
    try:
        for name in args.cases.split(","):
            while len(urls) < (2 if name == "two" else 1):
                server, url = serve(repo, runs_dir, home / f"app-{len(urls)}.log")
                servers.append(server)
                urls.append(url)
                warm(url, run)
            training = (api_client(urls[0]).predict("bundled", "sample", "demo", TRAINING, api_name="/train")
                        if name == "train" else None)
            print(f"case {name}: {args.clients} clients for {args.seconds:.0f} s ...", flush=True)
            results["cases"][name] = case(urls[:2 if name == "two" else 1], run, args, training)
            print(line(name, results["cases"][name]), flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=60)
    return results


def line(name: str, figures: dict) -> str:
    """One case in one line: the outcomes, the latencies, the machine's load."""
    refused = ", ".join(f"{n} {kind}" for kind, n in figures["refused_as"].items()) or "none"
    trained = f"; training: {figures['training']['steps_during_load']} steps" if "training" in figures else ""
    return (f"{name:>5}: answered {figures['answered']}, refused {figures['refused']} ({refused}), failed "
            f"{figures['failed']}, server errors {figures['server_error']}, hung {figures['hung']}, still waiting "
            f"{figures['clients_still_waiting']}; p50 {figures['p50_seconds']} s, p95 {figures['p95_seconds']} s; "
            f"load average {' '.join(map(str, figures['load_average_before']))}{trained}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app to load (one case); without it the bench serves its own apps")
    parser.add_argument("--clients", type=int, default=100, help="clients asking at once")
    parser.add_argument("--seconds", type=float, default=30, help="how long they keep asking")
    parser.add_argument("--timeout", type=float, default=60,
                        help="a request with no answer after this many seconds hung")
    parser.add_argument("--run", default="", help="the run that answers (default: the latest finished)")
    parser.add_argument("--train", action="store_true",
                        help="with --url: start a demo training on the sample first; stop and delete it after")
    parser.add_argument("--cases", default=",".join(CASES), help=f"without --url: which of {', '.join(CASES)}")
    parser.add_argument("--repo", default=str(REPO), help="without --url: the checkout whose app.py is served")
    parser.add_argument("--runs-dir", help="without --url: a runs folder with a finished run (default: a new one)")
    parser.add_argument("--label", default="", help="what the results call the code served (default: the folder)")
    parser.add_argument("--session-per-request", action="store_true",
                        help="each request in a new session (a new page each time) rather than one per client")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.url:
        url = args.url.rstrip("/") + "/"
        run = args.run or latest_finished(url)
        api = api_client(url)
        training = api.predict("bundled", "sample", "demo", TRAINING, api_name="/train") if args.train else None
        figures = case([url], run, args, training)
        print(json.dumps(figures, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        return
    results = served_cases(args)
    if args.json:  # one file for several codes compared (--label old, --label new): each keeps its own entry
        path = Path(args.json)
        kept = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**kept, results["code"]: results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
