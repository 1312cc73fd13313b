"""The finetune web app: `python app.py` serves it (offline defaults: the bundled model and sample data)."""
from finetune import jobs
from finetune.access import launch_settings
from finetune.ui import build_app
from finetune.ui.app import THEME

demo = build_app()

if __name__ == "__main__":
    jobs.start_scheduler()  # queued runs, also those a previous app left, start as training slots free up
    demo.launch(theme=THEME, **launch_settings())  # upload cap, and what is never served
