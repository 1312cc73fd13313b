"""The learning-rate range test in the page (headless Chromium): the form's settings tested in a child process, the
loss drawn against the rate, and the suggestion filling the form's learning rate in one click."""
import pytest
import test_browser
from test_browser import CHROMIUM, choose_run, fill, open_hyperparameters, open_tab

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
