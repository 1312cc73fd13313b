"""The Explain tab in headless Chromium: one click from the Playground's answer to token scores, attention and a flip
for the same pair, run and base side by side; then the run's slices and its projection."""
import shutil

import pytest
import test_browser
from test_browser import CHROMIUM, open_tab

from finetune.ui.playground import EXAMPLES

browser, page = test_browser.browser, test_browser.page  # the browser tests' fixtures: Chromium, and a fresh tab
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's chromium: apt-get install -y chromium")


@pytest.fixture
def explained_run(app_server, bundled_run, page):
    """The bundled model's run in the app's runs folder, and the page reloaded to list it."""
    target = app_server.runs_dir / bundled_run.name
    if not target.exists():
        shutil.copytree(bundled_run, target)
    page.reload()
    return target


def test_one_click_from_the_playgrounds_answer_explains_the_same_pair_for_run_and_base(page, explained_run):
    open_tab(page, "Playground")
    page.get_by_role("button", name="Is it a paraphrase?").click()
    page.locator("#tuned-answer").get_by_text("%").first.wait_for()
    page.get_by_role("button", name="Explain this answer").click()

    page.get_by_role("tab", name="Explain", selected=True).wait_for()  # the click opened the Explain tab
    assert page.locator("#explain-sentence1 textarea").input_value() == EXAMPLES[0][0]  # the Playground's pair
    assert page.locator("#explain-sentence2 textarea").input_value() == EXAMPLES[0][1]
    assert explained_run.name in page.locator("#explain-run input").input_value()
    for side in ("run", "base"):
        scores = page.locator(f"#explain-scores-{side}")
        scores.locator(".explain-token").first.wait_for()
        assert scores.locator(".explain-segment").count() == 2  # sentence 1 and sentence 2 apart
        tokens = scores.locator(".explain-token").all_inner_texts()
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "cat" in tokens and "mat" in tokens
        assert "sentence 1 (rows) → sentence 2 (columns)" in page.locator(f"#explain-attention-{side}").inner_text()
        assert page.locator(f"#explain-attention-{side} td[title]").count() > 0
    summary = page.locator("#explain-flip-summary")
    summary.get_by_text("found among").wait_for(timeout=60_000)
    assert "No flipping edit" not in summary.inner_text()
    assert page.locator("#explain-flips").get_by_role("row").count() >= 2  # the header and at least one edit


def test_a_layer_and_the_full_matrix_redraw_the_attention(page, explained_run):
    open_tab(page, "Explain")
    page.get_by_role("button", name="Explain", exact=True).click()
    page.locator("#explain-attention-run td[title]").first.wait_for()
    page.get_by_label("Show every token (the full matrix)").check()
    page.locator("#explain-attention-run").get_by_text("every token → every token").wait_for()
    page.locator("#explain-attention-base").get_by_text("every token → every token").wait_for()


def test_the_runs_slices_and_projection_are_shown(page, explained_run):
    open_tab(page, "Explain")
    slices = page.locator("#explain-slices")
    slices.get_by_text("By word overlap").wait_for()
    assert "48 validation pairs" in slices.inner_text() and "85 % or more" in slices.inner_text()
    page.get_by_role("button", name="Project the validation pairs").click()
    page.locator("#explain-projection-note").get_by_text("48 validation pairs").wait_for(timeout=120_000)
    for side in ("run", "base"):
        assert_drawn_on_numeric_axes(page, f"#explain-projection-{side}", points=48)
    assert (explained_run / "explain" / "projection.json").is_file()


def assert_drawn_on_numeric_axes(page, chart: str, points: int) -> None:
    """Every point drawn, spread over the chart, on numeric axes: a chart whose first value had no numbers keeps
    category axes, one tick label per coordinate, and draws nothing visible."""
    page.wait_for_function(f"document.querySelectorAll('{chart} g.mark-symbol path').length >= {points}")
    xs = page.evaluate(f"""Array.from(document.querySelectorAll('{chart} g.mark-symbol path'))
        .map(p => parseFloat((p.getAttribute('transform') || '').replace('translate(', '')))""")
    assert len({round(x) for x in xs if x == x}) > points // 2  # distinct positions, none NaN
    assert max(xs) - min(xs) > 200  # pixels: the points span the chart
    assert page.locator(f"{chart} g.mark-text text").count() < 40  # a few ticks and titles, not one per point


def test_a_kept_projection_is_drawn_when_the_playground_opens_the_tab(page, explained_run):
    """Computed once, the projection comes back with the run the Playground sends, without a click."""
    open_tab(page, "Explain")
    page.get_by_role("button", name="Project the validation pairs").click()
    page.locator("#explain-projection-note").get_by_text("48 validation pairs").wait_for(timeout=120_000)
    page.reload()
    open_tab(page, "Playground")
    page.get_by_role("button", name="Is it a paraphrase?").click()
    page.locator("#tuned-answer").get_by_text("%").first.wait_for()
    page.get_by_role("button", name="Explain this answer").click()
    page.locator("#explain-projection-note").get_by_text("48 validation pairs").wait_for()
    for side in ("run", "base"):
        assert_drawn_on_numeric_axes(page, f"#explain-projection-{side}", points=48)
