"""The page in headless Chromium, as a learner uses it: every tab, a live training with its loss curve, stop, reload,
the evaluation and the playground. Needs Debian's chromium (/usr/bin/chromium) and the playwright package."""
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from finetune import runs
from finetune.status import loss_curve, status_of

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CURVE_POINTS = "#loss-curve g.mark-symbol path"  # one hover symbol per point of the chart

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's chromium: apt-get install -y chromium")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package: pip install playwright")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh tab on the app; it fails the test if the page itself throws."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.set_default_timeout(30_000)
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(app_server.url)
    tab.get_by_role("tab", name="Data").wait_for()
    yield tab
    tab.close()
    assert errors == []


def open_tab(page, name):
    page.get_by_role("tab", name=name).click()


def choose_run(page, app_server, run_dir, tab: str, dropdown: str) -> None:
    """A finished run copied into the app's runs folder (once), the page reloaded to list it, and the run chosen in
    `tab`'s run dropdown (its elem_id)."""
    target = app_server.runs_dir / run_dir.name
    if not target.exists():
        shutil.copytree(run_dir, target)
    page.reload()
    open_tab(page, tab)
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=run_dir.name, exact=False).first.click()


def fits(page, selector: str) -> bool:
    """Whether the element fits the page's width: inside the page, and nothing in it scrolls sideways (no column of a
    table hidden to the right)."""
    return page.evaluate(f"""() => {{
        const box = document.querySelector('{selector}');
        const scrolling = [box, ...box.querySelectorAll('*')].filter(
            e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
        return scrolling.every(e => e.scrollWidth <= e.clientWidth + 2)
            && box.getBoundingClientRect().right <= document.documentElement.clientWidth;
    }}""")


def requests_to(page, fragment: str) -> list[str]:
    """The URLs of the page's requests containing `fragment`, from now on, as they happen."""
    seen = []
    page.on("request", lambda request: seen.append(request.url) if fragment in request.url else None)
    return seen


def open_hyperparameters(page):
    page.get_by_text("Hyperparameters: the preset fills them in").click()


def fill(page, label, value):
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter" if label in {"Model", "Precision"} else "Tab")


def test_every_tab_opens_with_its_content_before_any_run(page):
    page.get_by_text("num_rows: 1500").wait_for()
    assert "ClassLabel(names=['not_equivalent', 'equivalent']" in page.locator("body").inner_text()
    open_tab(page, "Tokens")
    page.get_by_text("50 tokens").wait_for()
    assert page.get_by_text("[CLS]").first.is_visible()
    page.get_by_text("input_ids.shape").wait_for()  # the padded batch of the first pairs
    assert "[PAD]" in page.locator("#padded-batch").inner_text()
    assert fits(page, "#padded-batch")
    open_tab(page, "Train")
    assert page.get_by_role("button", name="Start training").is_enabled()
    page.get_by_text("Start a run, or pick one.").wait_for()
    open_tab(page, "Evaluate")
    page.locator("#eval-summary").get_by_text("No finished run yet").wait_for()
    open_tab(page, "Playground")
    page.locator("#no-run-yet").get_by_text("No finished run yet").wait_for()


def test_the_data_browser_filters_searches_and_shows_a_whole_row(page):
    page.get_by_text("1500 matching rows").wait_for()
    page.get_by_role("radio", name="not_equivalent").check()
    page.get_by_text("480 matching rows").wait_for()
    search = page.get_by_label("Search the texts (Enter)")
    search.fill("percent")
    search.press("Enter")
    page.get_by_text("66 matching rows").wait_for()
    page.locator("#data-rows").get_by_role("gridcell").filter(has_text="percent").first.click()
    page.locator("#data-row").get_by_text("label not_equivalent").wait_for()


def test_a_failed_load_keeps_the_last_data_browsable_and_server_files_load_by_name(page, app_server):
    page.get_by_text("1500 matching rows").wait_for()
    page.get_by_role("radio", name="nyu-mll/glue on the Hub").check()  # offline here: it cannot load
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text("Could not load it, so the data shown is still the last that loaded").first.wait_for()
    assert ("num_rows: 1500" in page.locator("body").inner_text()
            and "Error" not in page.locator("#data-rows").inner_text())
    page.get_by_role("radio", name="not_equivalent").check()  # browsing still works on the data that loaded
    page.get_by_text("480 matching rows").wait_for()

    rows = "".join(f"first sentence {i},second sentence {i},{i % 2}\n" for i in range(30))
    (app_server.data / "class.csv").write_text("sentence1,sentence2,label\n" + rows)
    page.get_by_role("radio", name="a folder or file on the server").check()
    server_file = page.get_by_role("combobox", name="Folder or file on the server")
    offered = page.get_by_role("option", name=f"class.csv (in {app_server.data.resolve()})")
    while not offered.is_visible():  # the choices arrive with the source's change event: open the list once they have
        server_file.click()
        page.wait_for_timeout(100)
    offered.click()
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text("num_rows: 26").wait_for()  # 10 % of each label held out for validation
    page.get_by_role("radio", name="the bundled sample").check()
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text("num_rows: 1500").wait_for()
    page.get_by_role("radio", name="a folder or file on the server").check()
    server_file.fill("class.csv")  # its name alone, under the allowed folder
    server_file.press("Enter")
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text("num_rows: 26").wait_for()


def test_a_bad_setting_shows_its_reason_and_starts_nothing(page, app_server):
    open_tab(page, "Train")
    open_hyperparameters(page)
    fill(page, "Learning rate", 0)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("learning rate must be between 0 and 1").first.wait_for()
    assert "Traceback" not in page.locator("body").inner_text()
    assert runs.list_runs(app_server.runs_dir) == []


def test_a_live_training_draws_its_curve_within_2_seconds_survives_a_reload_and_stops(
        page, browser, app_server, tiny_bert):
    open_tab(page, "Train")
    open_hyperparameters(page)
    for label, value in [("Model", tiny_bert), ("Epochs", 30), ("Batch size", 1), ("Logging steps", 20),
                         ("Max train samples (0: all)", 0), ("Precision", "fp32")]:
        fill(page, label, value)
    page.get_by_role("button", name="Start training").click()
    page.locator("#run-status").get_by_text("running").wait_for()
    run_dir = runs.list_runs(app_server.runs_dir)[0]
    assert page.locator("#train-run input").input_value().startswith(run_dir.name)

    page.wait_for_function(f"document.querySelectorAll('{CURVE_POINTS}').length > 0")
    shown = []
    for _ in range(3):  # each newly logged point appears on the chart within 2 s of being written
        before = page.locator(CURVE_POINTS).count()
        deadline = time.time() + 60  # wait for the run to log more (checkpoints and evaluations pause it)
        while len(loss_curve(run_dir)) <= before:
            assert time.time() < deadline, "the run logged no new point for 60 s"
            page.wait_for_timeout(20)
        logged = [e for e in runs.read_events(run_dir)[0] if e["type"] in {"log", "eval"}]
        expected = len(loss_curve(run_dir))
        while page.locator(CURVE_POINTS).count() < expected:
            assert time.time() - logged[-1]["time"] < 2.0, f"{page.locator(CURVE_POINTS).count()} of {expected} points"
            page.wait_for_timeout(50)
        shown.append(page.locator(CURVE_POINTS).count())
    assert shown[0] < shown[1] < shown[2]
    frame = page.locator("#loss-curve g.role-frame path.background").first.get_attribute("d")  # M0.5,0.5h{w}v{h}h-{w}Z
    assert float(re.search(r"v([\d.]+)", frame).group(1)) > 200  # the plot has its height, not squashed flat
    assert "ETA" in page.locator("#run-log textarea").input_value()
    assert "left" in page.locator("#run-progress").inner_text()

    page.reload()
    open_tab(page, "Train")
    page.locator("#run-status").get_by_text("running").wait_for()
    assert page.locator("#train-run input").input_value().startswith(run_dir.name)
    page.wait_for_function(f"document.querySelectorAll('{CURVE_POINTS}').length > {shown[-1]}")
    page.get_by_role("button", name="Start training").click()  # a second run from the same browser: refused
    page.get_by_text(f"you already have run {run_dir.name} running").first.wait_for()

    stranger = browser.new_page()  # another browser (its own localStorage): sees the run, cannot act on it
    stranger.goto(app_server.url)
    open_tab(stranger, "Train")
    stranger.locator("#run-status").get_by_text("running").wait_for()
    polls = requests_to(stranger, "/queue/join")
    for _ in range(3):  # a few polls of the live run: its buttons stay disabled all along
        with stranger.expect_request(lambda request: "/queue/join" in request.url):
            pass
    assert len(polls) >= 3
    assert not stranger.get_by_role("button", name="Stop").is_enabled()
    assert not stranger.get_by_role("button", name="Delete").is_enabled()
    stranger.close()

    page.get_by_role("button", name="Stop").click()  # enabled after the reload: the owner token outlived it
    page.locator("#run-status").get_by_text("stopped").wait_for()
    assert page.get_by_role("button", name="Resume").is_enabled()
    assert not page.get_by_role("button", name="Stop").is_enabled()
    assert runs.state_of(run_dir)[0] == "stopped" and runs.last_checkpoint(run_dir) is not None
    assert page.get_by_role("button", name="Delete").is_enabled()


def test_a_run_trained_on_the_sample_is_scored_on_real_mrpc_in_one_click(page, app_server, tiny_run, mrpc_dir):
    shutil.copytree(mrpc_dir, app_server.data / "mrpc", dirs_exist_ok=True)  # real MRPC in an allowed folder
    shutil.copytree(tiny_run, app_server.runs_dir / tiny_run.name, dirs_exist_ok=True)
    page.reload()
    open_tab(page, "Evaluate")
    summary = page.locator("#eval-summary")
    summary.get_by_text(tiny_run.name).wait_for()
    assert "real MRPC (mrpc)" not in summary.inner_text()
    page.locator("#rescore").click()
    summary.get_by_text("real MRPC (mrpc), 408 validation pairs").wait_for()
    scored = json.loads((app_server.runs_dir / tiny_run.name / runs.SCORES_FILE).read_text())
    figures = scored[f"{(app_server.data / 'mrpc').resolve()}|validation"]
    assert figures["n"] == 408 and f"{figures['accuracy']:.3f}" in summary.inner_text()


def test_a_finished_run_is_evaluated_and_answers_in_the_playground(page, app_server, tiny_run, tmp_path):
    finished = app_server.runs_dir / tiny_run.name
    shutil.copytree(tiny_run, finished, dirs_exist_ok=True)
    page.reload()
    open_tab(page, "Evaluate")
    summary = page.locator("#eval-summary")
    summary.get_by_text(tiny_run.name).wait_for()
    accuracy = json.loads((finished / runs.METRICS_FILE).read_text())["final"]["accuracy"]
    assert (f"{accuracy:.3f}" in summary.inner_text() and "0.858" in summary.inner_text()
            and "0.684" in summary.inner_text())
    assert "the bundled sample, 48 validation pairs" in summary.inner_text()  # what the run's figures were measured on
    assert summary.inner_text().count("real MRPC, 408 validation pairs") == 2  # and the references
    page.get_by_text("predictions.shape = (48, 2)").wait_for()
    page.locator("#comparison").get_by_text(tiny_run.name).first.wait_for()
    assert fits(page, "#misclassified") and fits(page, "#comparison")

    open_tab(page, "Playground")
    assert not page.locator("#no-run-yet").is_visible()
    page.locator("#playground-ready").get_by_text("are ready").wait_for()  # prepared when chosen, before any question
    page.get_by_role("button", name="Is it a paraphrase?").click()
    for answer in ("#tuned-answer", "#base-answer"):
        page.locator(answer).get_by_text("not_equivalent").first.wait_for()
        assert "%" in page.locator(answer).inner_text()

    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sentence1,sentence2\nHe left.,He went away.\nIt rained.,The sun shone.\n")
    page.locator("#batch-upload input[type=file]").set_input_files(str(pairs))
    page.wait_for_function("document.querySelector('#batch-answers').innerText.includes('It rained.')")
    assert "p_equivalent" in page.locator("#batch-answers").inner_text()
    page.locator("#batch-download").get_by_text("pairs-predictions").wait_for()


def test_an_idle_page_makes_no_requests(page, app_server):
    """With no run queued or live, nothing the page shows can change: its timer is off and it asks the server
    nothing."""
    assert all(status_of(run).state not in runs.WAITING_OR_LIVE for run in runs.list_runs(app_server.runs_dir))
    open_tab(page, "Train")
    page.locator("#run-status").get_by_text(re.compile("Start a run|stopped|finished")).first.wait_for()
    opening = requests_to(page, "/")
    quiet = time.monotonic()
    while time.monotonic() - quiet < 5:  # what the page asks as it opens: a chain of loads, seconds apart when busy
        asked = len(opening)
        page.wait_for_timeout(250)
        quiet = quiet if len(opening) == asked else time.monotonic()
    requests = requests_to(page, "/")
    page.wait_for_timeout(10_000)
    assert requests == [], requests
