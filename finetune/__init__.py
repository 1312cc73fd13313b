"""Fine-tune a pretrained BERT-family model on GLUE MRPC and see every step of it."""

__version__ = "0.1.0"


class FinetuneError(Exception):
    """An error the user caused and can fix: shown as one line, never as a traceback."""
