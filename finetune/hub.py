"""Whether the Hugging Face Hub answers, and offline mode when it does not, so cached files still serve."""
from __future__ import annotations

import os
import socket
import sys
import threading
from functools import lru_cache
from urllib.parse import urlparse

PROBE_SECONDS = 3.0


def _endpoint_host() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)


@lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """True when the Hub's host accepts a TCP connection within a few seconds (checked once per process)."""
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}:
        return False
    answer: list[bool] = [False]

    def probe() -> None:
        # getaddrinfo ignores socket timeouts, hence the thread with its own deadline.
        try:
            with socket.create_connection(_endpoint_host(), timeout=PROBE_SECONDS):
                answer[0] = True
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(PROBE_SECONDS)
    return answer[0]


def use_cache_when_offline() -> bool:
    """Switch huggingface_hub, transformers and datasets to cache-only mode when the Hub is unreachable.

    Returns True when offline. Without this, every Hub id costs minutes of retries before failing.
    """
    if hub_reachable():
        return False
    os.environ["HF_HUB_OFFLINE"] = "1"
    # The libraries read the variable at import time; patch the copies they already hold.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:
        datasets_config.HF_HUB_OFFLINE = True
        datasets_config.HF_DATASETS_OFFLINE = True
    return True
