"""The Gradio interface: layout only; every action calls the core modules."""
from finetune.ui.app import build_app

__all__ = ["build_app"]
