"""The finetune web app: `python app.py` serves it (offline defaults: the bundled model and sample data)."""
import gradio as gr

from finetune.ui import build_app

demo = build_app()

if __name__ == "__main__":
    demo.launch()
