"""Hostile input against the real app: bad sentences and files get one-line reasons, no server file is read or served,
nothing is written outside the app's folders, foreign origins get no CORS grant, and the server stays healthy."""
from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import threading
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import serve_app
from gradio_client import Client
from gradio_client.exceptions import AppError

FAKE_TOKEN = "hf_" + "FakeSecretTokenForTheLeakTest0123"
MAX_UPLOAD = 100 * 1024  # the cap the test server runs with (FINETUNE_MAX_FILE_SIZE=100kb: small, to test it quickly)
SERVER_PATH, UPLOAD = "a folder or file on the server", "a file I upload"
COULD_NOT_LOAD = "Could not load it, so the data shown is still the last that loaded: "  # the Data tab's warning
PAIR = ("The cat sat on the mat.", "A cat was sitting on the mat.")


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_run):
    home = tmp_path_factory.mktemp("secure")
    runs_dir = home / "runs"
    shutil.copytree(tiny_run, runs_dir / tiny_run.name)
    yield from serve_app(home, tmp_path_factory.getbasetemp(), HF_TOKEN=FAKE_TOKEN, FINETUNE_MAX_FILE_SIZE="100kb",
                         FINETUNE_QUEUE_SIZE="2")


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url, verbose=False)


def fn_index(url: str, name: str) -> int:
    config = httpx.get(url + "config").json()
    return next(i for i, d in enumerate(config["dependencies"]) if d["api_name"] == name)


def event(url: str, name: str, data: list, timeout: float = 60):
    """Call one of the page's own events (private to gradio_client) as the browser does: join the queue, read the
    stream. Returns (True, outputs) or (False, the error message); a refused join returns its HTTP status. The Data
    tab's Load refuses with a warning (its outputs, the data shown before, stay as they were): that counts as a refusal.
    """
    session = uuid.uuid4().hex
    warnings = []
    with httpx.Client(base_url=url, timeout=timeout) as http:
        body = {"data": data, "fn_index": fn_index(url, name), "session_hash": session}
        joined = http.post("gradio_api/queue/join", json=body)
        if joined.status_code != 200:
            return joined.status_code, joined.text
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "log" and message.get("level") == "warning":
                    warnings.append(message["log"])
                if message.get("msg") == "process_completed":
                    output = message["output"]
                    if message["success"] and warnings:
                        return False, " ".join(warnings)
                    return (True, output["data"]) if message["success"] else (False, output.get("error"))
    raise AssertionError(f"{name} never completed")


def upload(url: str, name: str, content: bytes) -> httpx.Response:
    return httpx.post(url + "gradio_api/upload", files={"files": (name, content)}, timeout=60)


def uploaded(url: str, name: str, content: bytes) -> dict:
    """The FileData of a file uploaded as the page uploads it."""
    response = upload(url, name, content)
    assert response.status_code == 200, response.text
    path = response.json()[0]
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def healthy(client) -> None:
    """The server still answers a plain pair after whatever came before (once a flood's queue of 2 has drained)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = client.predict(*PAIR, api_name="/predict")
            break
        except Exception as err:  # noqa: BLE001 - only a full queue is waited out, and only for a minute
            if "Queue is full" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert answer["label"] in {"equivalent", "not_equivalent"}


def csv_bytes(rows: list[dict]) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode()


def pairs(n: int = 30, **extra) -> list[dict]:
    return [{"sentence1": f"Sentence number {i} is here.", "sentence2": f"Here is sentence {i}.", "label": i % 2,
             **extra} for i in range(n)]


# --- one pair: the Playground, /predict and /tokenize ---

@pytest.mark.parametrize("pair, words", [
    (("", PAIR[1]), "sentence1 is empty"),
    ((PAIR[0], "   \n\t "), "sentence2 is empty"),
])
def test_blank_sentences_are_refused_by_every_entry(server, client, pair, words):
    with pytest.raises(AppError, match=words):
        client.predict(*pair, api_name="/predict")
    assert event(server.url, "ask", [None, *pair]) == (False, words + ": type both sentences")
    if words.startswith("sentence1"):
        with pytest.raises(AppError, match=words):
            client.predict(*pair, api_name="/tokenize")
        assert event(server.url, "show_pair", ["bundled", *pair]) == (False, words + ": type both sentences")
    else:  # the Tokens tab and /tokenize read a blank sentence2 as one sentence, as single-sentence tasks have it
        single = client.predict(*pair, api_name="/tokenize")
        assert single["tokens"][-1] == "[SEP]" and set(single["token_type_ids"]) == {0}
    healthy(client)


@pytest.mark.parametrize("pair", [
    ("word " * 20_000, "x" * 100_000),                      # 100,000 characters: cut to the model's length
    ("🙂🙃👍🏽 the cat 🐈", "🐱 on the mat"),                 # emoji
    ("القطة جلست على السجادة", "\u202eגלש על השטיח"),        # right-to-left, with a bidi override
    ("Le chat s'est assis sur le tapis.", "猫がマットの上に座った。"),  # other languages and scripts
    ("a\u0000b\u200bc", "<script>alert(1)</script>"),      # control and zero-width characters, markup
])
def test_long_emoji_rtl_and_foreign_pairs_are_answered(server, client, pair):
    answer = client.predict(*pair, api_name="/predict")
    assert sum(c["confidence"] for c in answer["confidences"]) == pytest.approx(1)
    view = client.predict(*pair, api_name="/tokenize")
    assert view["tokens"][0] == "[CLS]" and view["tokens"][-1] == "[SEP]" and len(view["input_ids"]) <= 512
    ok, (_, _, summary) = event(server.url, "show_pair", ["bundled", *pair])
    assert ok and "tokens" in summary
    if len(pair[1]) == 100_000:
        assert len(view["input_ids"]) == 512 and "cut to the model's 512 tokens" in summary


def test_a_pair_not_in_the_list_is_refused_by_the_tokens_batch(server):
    ok, outputs = event(server.url, "show_batch_1", ["bundled", None, [0, 1], "auto"])
    assert ok and "2 pairs" in outputs[0]
    assert event(server.url, "show_batch_1", ["bundled", None, [0, 99999, "../x"], "auto"]) == (
        False, "no pair #99999, #../x among the first pairs of the loaded data; pick from the list")


# --- files: the Playground's batch and the Data tab's upload ---

BAD_FILES = [
    ("latin1.csv", "sentence1,sentence2,label\nCaf\xe9 au lait,Coffee,1\n".encode("latin-1"),
     "row 2: not UTF-8: byte 0xe9"),
    ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not UTF-8: byte 0x89"),
    ("renamed.csv", csv_bytes([{"first": "a", "second": "b", "label": 1}]),
     "missing column(s) 'sentence1', 'sentence2'"),
    ("blank.csv", b"sentence1,sentence2,label\nHe left.,,1\n", "row 2: sentence2 is empty"),
    ("nan.jsonl", b'{"sentence1": "He left.", "sentence2": NaN, "label": 1}\n',
     "row 1: sentence2 is missing (null/NaN)"),
    ("null.parquet", None, "row 2: sentence1 is missing (null/NaN)"),
    ("packed.csv", gzip.compress(csv_bytes(pairs())), "a gzip compressed file or archive"),
    ("packed.jsonl", None, "a zip compressed file or archive"),
    ("empty.csv", b"", "the file is empty"),
]


def bad_file(name: str, content: bytes | None) -> bytes:
    if name == "null.parquet":
        buffer = io.BytesIO()
        frame = pd.DataFrame({"sentence1": ["He left.", None], "sentence2": ["He went.", "x"], "label": [1, 0]})
        frame.to_parquet(buffer)
        return buffer.getvalue()
    if name == "packed.jsonl":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("pairs.jsonl", '{"sentence1": "a", "sentence2": "b", "label": 1}\n')
        return buffer.getvalue()
    return content


@pytest.mark.parametrize("name, content, words", BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_upload_is_refused_with_its_row_and_fault_in_the_playground_and_the_data_tab(server, client, tiny_run,
                                                                                          name, content, words):
    file = uploaded(server.url, name, bad_file(name, content))
    for reply in (event(server.url, "ask_file", [tiny_run.name, file, None]),
                  event(server.url, "load", [UPLOAD, "", file, "auto", None])):
        assert reply[0] is False and words in reply[1] and name in reply[1], reply
    healthy(client)


@pytest.mark.parametrize("name", ["pairs.zip", "pairs.csv.gz", "pairs.tar", "pairs.exe"])
def test_archives_and_other_file_types_are_refused_by_name(server, tiny_run, name):
    file = uploaded(server.url, name, gzip.compress(csv_bytes(pairs())))
    for reply in (event(server.url, "ask_file", [tiny_run.name, file, None]),
                  event(server.url, "load", [UPLOAD, "", file, "auto", None])):
        assert reply[0] is False and "Invalid file type" in reply[1], reply


def test_a_missing_label_is_refused_by_the_data_tab(server):
    file = uploaded(server.url, "labels.csv", csv_bytes(pairs(5) + [{"sentence1": "a", "sentence2": "b", "label": ""}]))
    assert event(server.url, "load", [UPLOAD, "", file, "auto", None]) == (
        False, f"{COULD_NOT_LOAD}bad data in {file['path']}, row 7: label must be 0 or 1, got nothing (null/NaN)")
    for task in ("mrpc", "cola"):  # a task named: its labels only (and cola's texts: one column, refused)
        named = uploaded(server.url, "three.csv", csv_bytes(pairs(5) + [{"sentence1": "a", "sentence2": "b",
                                                                         "label": 2}]))
        ok, said = event(server.url, "load", [UPLOAD, "", named, task, None])
        assert not ok and ("label must be 0 or 1, got '2'" if task == "mrpc" else "task cola takes") in said, said


def test_duplicate_rows_are_reported_not_refused(server, tiny_run):
    rows = pairs(30)
    file = uploaded(server.url, "repeats.csv", csv_bytes(rows + rows[:3]))
    ok, outputs = event(server.url, "load", [UPLOAD, "", file, "auto", None])
    # Each repeated pair is a repeat within a split or a validation pair also in train: 3 in all.
    assert ok and "Repeated pairs" in outputs[-1] and sum(map(int, re.findall(r"(\d+) in", outputs[-1]))) == 3
    ok, (answers, _) = event(server.url, "ask_file", [tiny_run.name, file, None])
    assert ok and len(answers["data"]) == 33


def test_the_playground_keeps_an_id_column_into_the_downloadable_answers(server, tiny_run):
    rows = [{"id": f"q{i}", "sentence1": row["sentence1"], "sentence2": row["sentence2"]}
            for i, row in enumerate(pairs(4))]
    file = uploaded(server.url, "ids.csv", csv_bytes(rows))
    ok, (answers, download) = event(server.url, "ask_file", [tiny_run.name, file, None])
    assert ok and answers["headers"] == ["id", "sentence1", "sentence2", "prediction", "p_not_equivalent",
                                         "p_equivalent", "run"]
    served = httpx.get(download["url"])
    assert served.status_code == 200
    assert pd.read_csv(io.BytesIO(served.content))["id"].tolist() == ["q0", "q1", "q2", "q3"]


def test_a_file_of_more_pairs_than_the_playground_answers_at_once_is_refused(server, tiny_run):
    file = uploaded(server.url, "many.csv", b"sentence1,sentence2\n" + b"a,b\n" * 2001)
    assert event(server.url, "ask_file", [tiny_run.name, file, None]) == (
        False, "many.csv has 2001 pairs; the app answers at most 2000 at once: split the file")


def test_an_upload_over_the_cap_gets_413_and_one_under_it_is_stored(server, client):
    too_big = upload(server.url, "big.csv", b"sentence1,sentence2\n" + b"a,b\n" * (MAX_UPLOAD // 4 + 1))
    assert too_big.status_code == 413 and "maximum allowed size" in too_big.text
    assert upload(server.url, "fine.csv", csv_bytes(pairs())).status_code == 200
    healthy(client)


@pytest.mark.parametrize("name", ["../../../../{}.csv", "..%2f..%2f{}.csv", "/tmp/{}.csv", "..\\..\\{}.csv"])
def test_an_upload_named_with_dot_dot_stays_in_the_upload_folder(server, name):
    mark = f"escape-{uuid.uuid4().hex}"
    stored = upload(server.url, name.format(mark), csv_bytes(pairs(3)))
    assert stored.status_code == 200
    path = Path(stored.json()[0])
    assert path.resolve().parent.parent == server.uploads and path.is_file()  # uploads/<content hash>/<cleaned name>
    found = [*server.home.parent.rglob(f"*{mark}*"), *Path("/tmp").glob(f"*{mark}*")]
    assert found == [path], found


# --- what the page may read: data and models ---

def test_the_data_tab_reads_only_under_the_allowed_folders(server):
    (server.data / "pairs.csv").write_bytes(csv_bytes(pairs()))
    (server.data / "link.csv").symlink_to("/etc/passwd")
    ok, outputs = event(server.url, "load", [SERVER_PATH, str(server.data / "pairs.csv"), None, "auto", None])
    assert ok and "num_rows: 26" in outputs[3] and "num_rows: 4" in outputs[3]  # 10 % of each label held out
    for path in ["/etc/passwd", str(server.data / ".." / "server.log"), str(server.data / "link.csv"),
                 "/proc/self/environ", "~/.bashrc", "app.py", "assets/sample", str(server.runs_dir)]:
        ok, message = event(server.url, "load", [SERVER_PATH, path, None, "auto", None])
        assert ok is False and "is not one this app serves" in message, path
        assert "root:" not in message


def test_the_page_loads_models_only_from_the_bundled_one_hub_ids_and_runs(server, client, tiny_run):
    run_model = str(server.runs_dir / tiny_run.name)
    assert client.predict(*PAIR, run_model, api_name="/tokenize")["tokens"][0] == "[CLS]"
    for model in ["/etc", "/proc/self", "assets", "../../etc", "~", "/root/.cache/huggingface", "finetune"]:
        with pytest.raises(AppError, match="is not one this app loads"):
            client.predict(*PAIR, model, api_name="/tokenize")
        ok, message = event(server.url, "show_pair", [model, *PAIR])
        assert ok is False and "is not one this app loads" in message
    with pytest.raises(AppError, match="not one this app serves"):
        client.predict("bundled", "/etc/passwd", "demo", {}, api_name="/train")
    with pytest.raises(AppError, match="not one this app loads"):
        client.predict("/etc", "sample", "demo", {}, api_name="/train")


def test_a_file_path_sent_in_place_of_an_upload_is_refused(server):
    forged = {"path": "/etc/passwd", "orig_name": "passwd.csv", "meta": {"_type": "gradio.FileData"}}
    for name, data in [("ask_file", [None, forged, None]), ("load", [UPLOAD, "", forged, "auto", None])]:
        ok, message = event(server.url, name, data)
        assert ok is False and "root:" not in str(message)


# --- what the server serves over HTTP ---

def probes(server, tiny_run) -> list[str]:
    run = server.runs_dir / tiny_run.name
    internals = [run / "config.json", run / "events.jsonl", run / "model" / "config.json",
                 *run.glob("checkpoints/*/*.json")]
    return (["/etc/passwd", "/proc/self/environ", "/proc/self/cmdline", "../../../../etc/passwd",
             "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "app.py", "finetune/access.py",
             "tests/conftest.py", "assets/sample/train.jsonl", str(server.log), str(server.data / "pairs.csv"),
             f"{server.uploads}/../server.log", f"{server.uploads}/%2e%2e/server.log", "file:///etc/passwd"]
            + [str(path) for path in internals])


def test_no_file_outside_the_apps_folders_is_served(server, tiny_run):
    (server.data / "pairs.csv").write_bytes(csv_bytes(pairs()))
    served = {}
    for target in probes(server, tiny_run):
        for route in ("gradio_api/file=", "file="):
            response = httpx.get(server.url + route + target)
            served[route + target] = response.status_code
            assert response.status_code in (403, 404), (route + target, response.status_code, response.text[:200])
            assert "root:" not in response.text and FAKE_TOKEN not in response.text
    print(f"\n{len(served)} probes refused:", json.dumps(served, indent=1))
    mine = upload(server.url, "mine.csv", b"sentence1,sentence2\na,b\n").json()[0]
    assert httpx.get(server.url + "gradio_api/file=" + mine).status_code == 200  # the route works: it refuses the rest


def test_a_foreign_origin_gets_no_cors_grant(server):
    for method, path in [("GET", "config"), ("OPTIONS", "gradio_api/queue/join"), ("GET", "gradio_api/info")]:
        headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        response = httpx.request(method, server.url + path, headers=headers)
        assert response.headers.get("access-control-allow-origin") in (None, "null"), (path, dict(response.headers))


def test_the_token_in_the_servers_environment_shows_nowhere(server, client, tiny_run):
    client.predict(tiny_run.name, api_name="/status")
    pages = [httpx.get(server.url + path).text
             for path in ("", "config", "gradio_api/info", "gradio_api/info?all_endpoints=true")]
    pages += [json.dumps(client.predict(api_name="/runs")), server.log.read_text()]
    assert all(FAKE_TOKEN not in page for page in pages)


# --- the queue and the server after all of it ---

def test_past_the_queue_size_a_request_is_refused_at_once_as_queue_full(server, tiny_run):
    codes, start, predict = [], threading.Barrier(12), fn_index(server.url, "predict")

    def join():
        start.wait()
        body = {"data": ["word " * 2000, "x" * 20_000, tiny_run.name], "fn_index": predict,
                "session_hash": uuid.uuid4().hex}
        codes.append(httpx.post(server.url + "gradio_api/queue/join", json=body, timeout=30).status_code)

    threads = [threading.Thread(target=join) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(codes) == 12 and set(codes) <= {200, 503} and 503 in codes, codes


def test_the_server_is_still_up_and_wrote_nothing_outside_its_folders(server, client):
    healthy(client)
    assert server.process.poll() is None
    written = {p.relative_to(server.home).parts[0] for p in server.home.rglob("*") if p.is_file()}
    assert written <= {"runs", "uploads", "data", "cache", "server.log", "hf-home"}, written


def test_a_source_forged_into_the_data_tabs_state_is_ignored(server):
    # The loaded source lives in server-side session state, and is checked again when used.
    secret = server.home / "secret.csv"
    secret.write_bytes(csv_bytes([{**row, "sentence1": "SECRET " + row["sentence1"]} for row in pairs()]))
    _, outputs = event(server.url, "first_page", [str(secret), "train", "10", "all", ""])
    assert "SECRET" not in json.dumps(outputs), outputs
