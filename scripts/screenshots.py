"""Take the README's screenshots of each tab against a running app: `python scripts/screenshots.py http://127.0.0.1:7860`.

It trains the bundled model on the sample with the demo preset through the Train form (about a minute), prints how
long that took, and, where the app offers real MRPC (a copy under $FINETUNE_DATA_DIRS), scores the run on it in the
Evaluate tab; so the Train, Evaluate, Playground and Explain tabs show a real run. `... URL explain` takes only the
Explain tab's, against an app that has a finished run. `... URL tasks` takes the single-sentence task's: the bundled
sentiment sample loaded in the Data tab and trained from the Train form with the demo preset, then its Evaluate and
Playground tabs. `... URL sweep` takes the Compare tab's: a 4-trial learning-rate sweep of the bundled model on the
sample with the demo preset and early stopping (patience 2), started from the Train form (about five minutes). Needs
Debian's chromium and the playwright package.
"""
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "assets" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def shoot(page, name: str) -> None:
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(OUT / f"{name}.png")


def shoot_explain(page) -> None:
    """From the Playground's answer to a wrong one (shares rose / fell), one click to the Explain tab; its
    projection."""
    page.get_by_role("tab", name="Playground").click()
    page.get_by_text("not a paraphrase: The company's shares").click()
    page.get_by_role("button", name="Is it a paraphrase?").click()
    page.locator("#tuned-answer").get_by_text("%").first.wait_for()
    page.get_by_role("button", name="Explain this answer").click()
    page.locator("#explain-flip-summary").get_by_text("found among").wait_for()
    page.get_by_role("button", name="Project the validation pairs").click()
    page.locator("#explain-projection-note").get_by_text("coloured by their true label").wait_for()
    shoot(page, "explain")


def shoot_tasks(page) -> None:
    """The sentiment sample read as its task, trained from the page with the demo preset, then evaluated and asked."""
    page.get_by_label("the bundled sentiment sample").check()
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text("num_rows: 480").wait_for()
    page.locator("#data-rows").get_by_role("gridcell").nth(4).click()
    page.locator("#data-row").get_by_text("sentence1").wait_for()
    shoot(page, "task-data")
    page.get_by_role("tab", name="Train").click()
    page.get_by_role("radio", name="demo").check()
    started = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    page.locator("#run-status").get_by_text("finished").wait_for()
    print(f"sentiment demo run: Start to finished in the page {time.monotonic() - started:.0f} s")
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#eval-summary").get_by_text("baseline: always").wait_for()
    page.locator("#per-label").get_by_text("recall", exact=True).wait_for()
    print(page.locator("#eval-summary").inner_text())
    shoot(page, "task-evaluate")
    page.get_by_role("tab", name="Playground").click()
    page.locator("#playground-ready").get_by_text("are ready").wait_for()
    page.locator("#playground-sentence1 textarea").fill("The soup was cold and the waiter never came back.")
    page.get_by_role("button", name="Which label?").click()
    page.locator("#tuned-answer").get_by_text("%").first.wait_for()
    shoot(page, "task-playground")


def shoot_sweep(page) -> None:
    """A learning-rate sweep from the Train form, followed in the Compare tab to its end."""
    page.get_by_role("tab", name="Train").click()
    page.get_by_role("radio", name="demo").check()
    page.get_by_text("Hyperparameters: the preset fills them in").click()
    epochs = page.get_by_label("Epochs", exact=True).element_handle()
    page.wait_for_function("field => field.value === '5'", arg=epochs)  # the preset's values are in: edit on top
    patience = page.get_by_label("Early stopping patience (0: off)", exact=True)
    patience.fill("2")
    patience.press("Tab")
    page.get_by_text("Sweep: several runs, a setting varied").click()
    values = page.locator("#sweep-values textarea")
    values.fill("5e-5, 1e-4, 2e-4, 4e-4")
    values.press("Tab")
    page.locator("#sweep-plan").get_by_text("4 runs").wait_for()
    print(page.locator("#sweep-plan").inner_text())
    started = time.monotonic()
    page.get_by_role("button", name="Start the sweep").click()
    page.locator("#sweep-status").get_by_text("finished").wait_for()
    print(f"sweep: Start to finished in the page {time.monotonic() - started:.0f} s")
    print(page.locator("#sweep-status").inner_text())
    shoot(page, "sweep-compare")


def main(url: str, only: str | None = None) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        # Tall enough for every tab, so a full-page shot never resizes the page (and redraws the chart) mid-capture.
        page = browser.new_page(viewport={"width": 1400, "height": 2100})
        page.set_default_timeout(600_000)
        page.goto(url)
        if only == "explain":  # an app that has a finished run already (the README's shows one trained on real MRPC)
            shoot_explain(page)
            browser.close()
            return
        if only in ("tasks", "sweep"):
            page.get_by_text("num_rows: 1500").wait_for()
            if only == "tasks":
                shoot_tasks(page)
            else:
                shoot_sweep(page)
            browser.close()
            return
        page.get_by_text("num_rows: 1500").wait_for()
        page.locator("#data-rows").get_by_role("gridcell").nth(5).click()
        page.locator("#data-row").get_by_text("sentence2").wait_for()
        shoot(page, "data")
        page.get_by_role("tab", name="Tokens").click()
        page.get_by_text("input_ids.shape").wait_for()
        shoot(page, "tokens")
        page.get_by_role("tab", name="Train").click()
        page.get_by_role("radio", name="demo").check()
        started = time.monotonic()
        page.get_by_role("button", name="Start training").click()
        page.locator("#run-status").get_by_text("finished").wait_for()
        print(f"demo run: Start to finished in the page {time.monotonic() - started:.0f} s")
        shoot(page, "train")
        page.get_by_role("tab", name="Evaluate").click()
        page.get_by_text("predictions.shape").wait_for()
        try:  # offered where real MRPC is at hand; its button appears a moment after the run's figures
            page.locator("#rescore").wait_for(state="visible", timeout=10_000)
        except PlaywrightTimeout:
            print("no real MRPC at hand: the run is not scored on it")
        else:
            page.locator("#rescore").click()
            page.locator("#eval-summary").get_by_text(re.compile(r"real MRPC \(.+\), \d+ validation pairs")).wait_for()
        page.locator("#evaluate-slices").get_by_text("By numbers").wait_for()  # the slices, computed once
        print(page.locator("#eval-summary").inner_text())
        shoot(page, "evaluate")
        page.get_by_role("tab", name="Playground").click()
        page.locator("#playground-ready").get_by_text("are ready").wait_for()
        page.get_by_role("button", name="Is it a paraphrase?").click()
        page.locator("#tuned-answer").get_by_text("%").first.wait_for()
        shoot(page, "playground")
        shoot_explain(page)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860", sys.argv[2] if len(sys.argv) > 2 else None)
