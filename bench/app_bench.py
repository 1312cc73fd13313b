"""App benchmark: time until `python app.py` serves the page, what it has loaded by then, and its memory across runs.

    python bench/app_bench.py --json bench-app.json            # 3 short trainings of the bundled model on the sample
    python bench/app_bench.py --runs 5 --train-rows 256

The app starts on a free port with an empty runs folder. Each training is started through the API like the page does
it, followed to its end, then asked 20 questions; the app's resident memory (VmRSS) is read after each, so growth across
runs shows. A training's own peak memory is its child process's, from its metrics.json.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("libtorch_cpu", "libopenvino")  # shared libraries that mean a framework was imported


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def loaded(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [name for name in HEAVY if name in maps]


def serve(home: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "FINETUNE_RUNS_DIR": str(home / "runs"), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    with open(home / "app.log", "wb") as log:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as page:
                page.read()
            return server, url, time.perf_counter() - started
        except OSError:
            if server.poll() is not None or time.perf_counter() - started > 300:
                server.kill()
                sys.exit(f"the app did not start:\n{(home / 'app.log').read_text()[-2000:]}")
            time.sleep(0.05)


def train_and_ask(client, rows: int) -> dict:
    settings = {"max_train_samples": rows, "epochs": 1, "logging_steps": 5}
    started = client.predict("bundled", "sample", "demo", settings, "", api_name="/train")
    ended = {"finished", "failed", "stopped", "interrupted"}
    while (status := client.predict(started["run"], api_name="/status"))["state"] not in ended:
        time.sleep(1)
    if status["state"] != "finished":
        sys.exit(f"run {started['run']} ended {status['state']}: {status}")
    asked = time.perf_counter()
    for _ in range(20):
        client.predict("The cat sat on the mat.", "A cat was sitting on the mat.", started["run"], api_name="/predict")
    return {"run": started["run"], "answer_seconds": round((time.perf_counter() - asked) / 20, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="trainings started one after the other")
    parser.add_argument("--train-rows", type=int, default=128, help="rows of the sample each one trains on (1 epoch)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="app-bench-") as scratch:
        home = Path(scratch)
        server, url, ready = serve(home)
        try:
            results = {"page_seconds": round(ready, 2), "loaded_at_page": loaded(server.pid),
                       "rss_mb_at_page": rss_mb(server.pid), "runs": []}
            client = Client(url, verbose=False)
            for _ in range(args.runs):
                run = train_and_ask(client, args.train_rows)
                metrics = json.loads((home / "runs" / run["run"] / "metrics.json").read_text())
                results["runs"].append({**run, "app_rss_mb": rss_mb(server.pid),
                                        "training_peak_rss_mb": metrics["peak_rss_mb"]})
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"page served {results['page_seconds']:.1f} s after `python app.py`; loaded by then: "
          f"{', '.join(results['loaded_at_page']) or 'no torch, no openvino'}; app {results['rss_mb_at_page']:.0f} MB")
    for i, run in enumerate(results["runs"], 1):
        print(f"after run {i}: app {run['app_rss_mb']:.0f} MB, "
              f"that training's peak {run['training_peak_rss_mb']:.0f} MB, "
              f"one answer {1000 * run['answer_seconds']:.0f} ms through the API")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
