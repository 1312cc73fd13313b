"""The finetune web app: `python app.py` serves it (offline defaults: the bundled model and sample data)."""
from finetune.space import keep_cache_on_storage

keep_cache_on_storage()  # on a Space with persistent storage: before the Hugging Face libraries read where it is

# After the cache's place is set:
from finetune import jobs, uploads  # noqa: E402
from finetune.access import launch_settings  # noqa: E402
from finetune.ui import build_app  # noqa: E402
from finetune.ui.app import THEME  # noqa: E402

demo = build_app()

if __name__ == "__main__":
    jobs.start_scheduler()  # queued runs, also those a previous app left, start as training slots free up
    uploads.start_pruning()  # the upload folder kept within its age and size, from now on
    demo.launch(theme=THEME, **launch_settings())  # upload cap, sessions kept, and what is never served
