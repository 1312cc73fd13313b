"""Experiments in the page (headless Chromium): the learning-rate range test filling the form, a run's settings
downloaded and loaded back to the same figures, a sweep's curves overlaid as its trials come in, and early stopping
drawn where it stopped."""
import pytest
import test_browser
from conftest import wait_for
from test_browser import CHROMIUM, choose_run, fill, open_hyperparameters, open_tab

from finetune import runs

browser, page = test_browser.browser, test_browser.page  # the browser tests' fixtures: Chromium, and a fresh tab
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's chromium: apt-get install -y chromium")


def test_the_range_test_draws_the_loss_against_the_rate_and_fills_the_form(page, tiny_bert):
    open_tab(page, "Train")
    open_hyperparameters(page)
    for label, value in [("Model", tiny_bert), ("Batch size", 8), ("Max train samples (0: all)", 64),
                         ("Precision", "fp32")]:
        fill(page, label, value)
    page.get_by_text("Which learning rate? The range test").click()
    page.get_by_role("button", name="Find a learning rate").click()
    result = page.locator("#lr-find-result")
    result.get_by_text("Suggested learning rate").wait_for(timeout=120_000)
    assert "100 steps of batch 8 on 64 training rows" in result.inner_text()
    page.wait_for_function("document.querySelectorAll('#lr-find-plot g.mark-symbol path, "
                           "#lr-find-plot g.mark-line path').length > 0")
    suggested = float(result.inner_text().split("Suggested learning rate: ")[1].split("*")[0].split(" ")[0])
    page.get_by_role("button", name="Use the suggested rate").click()
    field = page.get_by_label("Learning rate", exact=True).element_handle()
    page.wait_for_function("([field, rate]) => Math.abs(parseFloat(field.value) - rate) < 1e-12",
                           arg=[field, suggested])


def test_a_runs_settings_download_and_load_back_into_the_form(page, app_server, tiny_run, tmp_path):
    import json

    choose_run(page, app_server, tiny_run, "Train", "train-run")
    page.get_by_text("Settings as a file").click()
    page.get_by_role("button", name="Download the chosen run's settings").click()
    link = page.locator("#settings-file a").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"{tiny_run.name}-config.json"
    assert json.loads(saved.read_text()) == json.loads((tiny_run / "config.json").read_text())
    page.reload()
    open_tab(page, "Train")
    open_hyperparameters(page)
    assert page.get_by_label("Batch size", exact=True).input_value() != "16"  # the default preset's 32
    page.get_by_text("Settings as a file").click()
    page.locator("#settings-upload input[type=file]").set_input_files(str(saved))
    batch = page.get_by_label("Batch size", exact=True).element_handle()
    page.wait_for_function("field => field.value === '16'", arg=batch)
    assert float(page.get_by_label("Learning rate", exact=True).input_value()) == pytest.approx(1e-3)
    assert page.get_by_label("Max train samples (0: all)", exact=True).input_value() == "64"
    # Trained again from the loaded form: the same run, so the same figures.
    before = set(app_server.runs_dir.iterdir())
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function("() => document.querySelector('#train-run input').value.includes('queued') || "
                           "document.querySelector('#train-run input').value.includes('start') || "
                           "document.querySelector('#train-run input').value.includes('running')", timeout=60_000)
    again = next(p for p in set(app_server.runs_dir.iterdir()) - before if runs.is_run_dir(p))
    wait_for(again, lambda status: status.state not in runs.WAITING_OR_LIVE)
    page.locator("#run-status").get_by_text("finished").wait_for()
    same = ("accuracy", "f1")
    assert {k: runs.read_metrics(again)["final"][k] for k in same} == {
        k: runs.read_metrics(tiny_run)["final"][k] for k in same}


def legend(page, selector: str) -> list[str]:
    """The labels of a chart's colour legend (one per run)."""
    return page.evaluate(f"""() => [...document.querySelectorAll('{selector} g.role-legend-label text')]
                             .map(t => t.textContent)""")


def test_a_sweep_from_the_page_overlays_its_trials_curves_as_they_come_and_marks_the_best(page, app_server, tiny_bert):
    import json

    open_tab(page, "Train")
    open_hyperparameters(page)
    for label, value in [("Model", tiny_bert), ("Batch size", 16), ("Max train samples (0: all)", 64),
                         ("Max eval samples (0: all)", 32), ("Epochs", 3), ("Precision", "fp32")]:
        fill(page, label, value)
    page.get_by_text("Sweep: several runs, a setting varied").click()
    values = page.locator("#sweep-values textarea")
    values.fill("1e-4, 1e-3, 3e-3")
    values.press("Tab")
    page.locator("#sweep-plan").get_by_text("3 runs").or_(page.locator("#sweep-plan").get_by_text(
        "no run of")).first.wait_for()
    values.fill("1e-4")
    values.press("Tab")
    page.locator("#sweep-plan").get_by_text("a grid needs at least two different values").wait_for()
    values.fill("1e-4, 1e-3, 3e-3")
    values.press("Tab")
    page.get_by_role("button", name="Start the sweep").click()

    # The Compare tab opens on the sweep, and the first trial's curve is drawn while the others wait or train.
    status = page.locator("#sweep-status")
    status.get_by_text("running").wait_for(timeout=60_000)
    page.wait_for_function("document.querySelectorAll('#compare-loss g.role-legend-label text').length > 0",
                           timeout=120_000)
    drawn_while_running = "running" in status.inner_text()
    status.get_by_text("finished").wait_for(timeout=240_000)
    page.wait_for_function("document.querySelectorAll('#compare-loss g.role-legend-label text').length === 3")
    assert drawn_while_running
    assert legend(page, "#compare-loss") == ["t1 learning_rate=0.0001", "t2 learning_rate=0.001",
                                             "t3 learning_rate=0.003"]
    page.wait_for_function("document.querySelectorAll('#compare-metric g.role-legend-label text').length === 3")
    doc = json.loads(max((app_server.runs_dir / "sweeps").glob("*/sweep.json"), key=lambda p: p.stat().st_mtime)
                     .read_text())
    assert [t["settings"]["learning_rate"] for t in doc["trials"]] == [1e-4, 1e-3, 3e-3]
    table = page.locator("#sweep-trials").inner_text()
    assert all(trial["run"] in table for trial in doc["trials"]), table
    best = next(t for t in doc["trials"] if t["number"] == doc["best"])
    assert table.count("★") == 1 and best["value"] == max(t["value"] for t in doc["trials"])
    assert "★ best so far: trial" in status.inner_text()
    page.wait_for_function("document.querySelectorAll('#sweep-setting-plot g.mark-symbol path').length === 3")
    # The same curves against epoch: trials of other batch sizes line up.
    page.locator("#compare-x").get_by_label("epoch", exact=True).check()
    page.wait_for_function("[...document.querySelectorAll('#compare-loss text')].some(t => t.textContent === "
                           "'epoch')")


def test_early_stopping_is_drawn_on_the_curve_where_it_stopped_and_said_why(page, app_server, tiny_bert, tmp_path):
    from test_cli import cli

    run_dir = tmp_path / "20260101-000001-early"
    cli("train", "--model", tiny_bert, "--data", "sample", "--epochs", "10", "--batch-size", "16",
        "--max-train-samples", "64", "--max-eval-samples", "48", "--learning-rate", "1e-3", "--precision", "fp32",
        "--eval-steps", "2", "--early-stopping-patience", "2", "--logging-steps", "1", "--output-dir", run_dir)
    stopped = next(e for e in runs.read_events(run_dir)[0] if e["type"] == "early_stop")
    choose_run(page, app_server, run_dir, "Train", "train-run")
    status = page.locator("#run-status")
    status.get_by_text(f"Stopped early at step {stopped['step']}").wait_for()
    assert f"{stopped['best']:.4f} at step {stopped['best_step']}" in status.inner_text()
    # Two vertical lines: red where it stopped, black at the step whose model it kept.
    for colour in ("#dc2626", "#111827"):
        page.wait_for_function(f"document.querySelectorAll('#loss-curve path[stroke=\"{colour}\"]').length > 0")
