"""A task other than MRPC in headless Chromium: the Data tab reads the sentiment sample and says its task, the Train
form follows it, and a finished sentiment run shows its labels in the Evaluate tab and answers one sentence in the
Playground."""
import pytest
import test_browser
from test_browser import CHROMIUM, choose_run, open_tab

browser, page = test_browser.browser, test_browser.page  # the browser tests' fixtures: Chromium, and a fresh tab
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's chromium: apt-get install -y chromium")


def test_the_sentiment_sample_is_read_as_a_single_sentence_task_and_fills_the_train_form(page):
    page.get_by_label("the bundled sentiment sample").check()
    page.get_by_role("button", name="Load", exact=True).click()
    read = page.locator("#data-task-read")
    read.get_by_text("single sentence, 3 labels: negative, neutral, positive").wait_for()
    assert "classification" in read.inner_text()
    page.get_by_text("num_rows: 480").wait_for()
    for name in ("negative", "neutral", "positive"):  # the label filter offers the sample's own labels
        assert page.get_by_label(name, exact=True).count() == 1
    assert page.locator("#data-rows").get_by_role("columnheader").count() == 3  # idx, sentence1, label
    open_tab(page, "Train")
    assert page.get_by_label("Data", exact=True).input_value() == "sentiment-sample"
    open_tab(page, "Tokens")
    page.get_by_label("sentence2 (empty: one sentence)").fill("")
    page.get_by_role("button", name="Tokenize").click()
    page.get_by_text("every `token_type_id` is 0").or_(page.get_by_text("every token_type_id is 0")).wait_for()


def test_a_sentiment_run_shows_its_labels_and_answers_one_sentence(page, app_server, sentiment_run):
    choose_run(page, app_server, sentiment_run, "Evaluate", "evaluate-run")
    summary = page.locator("#eval-summary")
    summary.get_by_text("baseline: always").wait_for()
    assert "macro F1" in summary.inner_text() and "single sentence, 3 labels" in summary.inner_text()
    confusion = page.locator("#confusion")
    for name in ("predicted negative", "predicted neutral", "predicted positive"):
        confusion.get_by_text(name).wait_for()
    page.locator("#per-label").get_by_text("recall", exact=True).wait_for()

    open_tab(page, "Playground")
    page.locator("#playground-run input").click()
    page.get_by_role("option", name=sentiment_run.name, exact=False).first.click()
    page.locator("#playground-task").get_by_text("3 labels: negative, neutral, positive").wait_for()
    assert page.locator("#playground-sentence2").is_hidden()
    page.locator("#playground-sentence1 textarea").fill("The soup was cold and the waiter was rude.")
    page.get_by_role("button", name="Which label?").click()
    page.locator("#tuned-answer").get_by_text("%").first.wait_for()
    answer = page.locator("#tuned-answer").inner_text()
    assert all(name in answer for name in ("negative", "neutral", "positive"))
