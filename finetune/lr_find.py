"""The learning-rate range test (Smith, 2015; fastai's lr_find): a short training whose learning rate grows
exponentially from step to step, the loss recorded against it, and a suggested rate where the loss falls fastest."""
from __future__ import annotations

import math
import time

from finetune import FinetuneError
from finetune.config import RunConfig

START, END = 1e-7, 1.0  # the rates tried run from START towards END, exponentially
SMOOTHING = 0.98  # the loss is an exponential moving average (bias corrected), as fastai smooths it
BLOW_UP = 4.0  # the test stops once the smoothed loss is this many times its lowest: the rate is far too high
MIN_STEPS, MAX_STEPS = 20, 1000


def suggestion(rates: list[float], losses: list[float]) -> float | None:
    """The rate where the smoothed loss falls fastest against log(rate), before its lowest point: a rate still safely
    below the one where training diverges. None when the loss never fell."""
    lowest = min(range(len(losses)), key=losses.__getitem__)
    if lowest < 2:
        return None
    slopes = [(losses[i + 1] - losses[i - 1]) / (math.log(rates[i + 1]) - math.log(rates[i - 1]))
              for i in range(1, lowest)]
    steepest = min(range(len(slopes)), key=slopes.__getitem__)
    return rates[steepest + 1] if slopes[steepest] < 0 else None


def lr_find(config: RunConfig, steps: int = 100, start: float = START, end: float = END) -> dict:
    """Train a copy of the run's model for at most `steps` batches of its training data (its batch size, dropout,
    frozen embeddings and precision), the rate multiplied by the same factor each step from `start` to `end`.
    Nothing is saved. Returns the rates, the smoothed losses, the suggestion and what it was measured on."""
    import torch
    from torch.utils.data import DataLoader

    from finetune.device import resolve_hardware
    from finetune.models import load_classifier
    from finetune.tokens import collator
    from finetune.train import prepare_inputs, prepare_model

    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise FinetuneError(f"steps must be between {MIN_STEPS} and {MAX_STEPS}, got {steps}")
    if not 0 < start < end:
        raise FinetuneError(f"the rates must grow: start {start:g} must be above 0 and below end {end:g}")
    config.validate()
    hardware = resolve_hardware(config.device, config.precision)
    device, precision = hardware["device"], hardware["precision"]
    tokenizer, raw, tokenized, task = prepare_inputs(config)
    model = prepare_model(load_classifier(config.model, seed=config.seed, task=task), config, device).to(device)
    model.train()
    rows = tokenized["train"].remove_columns([c for c in tokenized["train"].column_names
                                              if c not in ("input_ids", "token_type_ids", "attention_mask", "label")])
    generator = torch.Generator().manual_seed(config.seed)
    batches = DataLoader(rows, batch_size=config.batch_size, shuffle=True, collate_fn=collator(tokenizer),
                         generator=generator)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=start, weight_decay=config.weight_decay)
    factor = (end / start) ** (1 / max(steps - 1, 1))
    autocast = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16 if precision == "bf16"
                              else torch.float16, enabled=precision in ("bf16", "fp16"))
    rates, losses, average, best, started = [], [], 0.0, math.inf, time.perf_counter()
    for step, batch in zip(range(steps), _cycle(batches), strict=False):
        rate = start * factor ** step
        for group in optimizer.param_groups:
            group["lr"] = rate
        with autocast:
            loss = model(**{key: value.to(device) for key, value in batch.items()}).loss
        if not math.isfinite(loss.item()):
            break  # diverged: the rates from here on are too high to say anything
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * loss.item()
        smoothed = average / (1 - SMOOTHING ** (step + 1))
        rates.append(rate)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > BLOW_UP * best:
            break
    return {"learning_rates": rates, "losses": losses, "suggestion": suggestion(rates, losses) if rates else None,
            "steps": len(rates), "seconds": round(time.perf_counter() - started, 2), "model": config.model,
            "data": config.data, "task": task.name, "batch_size": config.batch_size, "precision": precision,
            "train_rows": len(raw["train"])}


def _cycle(loader):
    """The batches again and again: a small training split may hold fewer batches than the test takes steps."""
    while True:
        yield from loader


def lr_find_in_child(config: RunConfig, steps: int = 100, timeout: float = 900) -> dict:
    """lr_find in a child process (`python -m finetune lr-find --config ... --json`), as the app runs it: the training
    stays out of the web server's process, and its output is read to the end. A refusal comes back as the child's
    one-line FinetuneError."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    config.validate()
    with tempfile.TemporaryDirectory(prefix="lr-find-") as folder:
        path = Path(folder) / "config.json"
        config.save(path)
        try:
            done = subprocess.run([sys.executable, "-m", "finetune", "lr-find", "--config", str(path), "--steps",
                                   str(steps), "--json"], capture_output=True, text=True, timeout=timeout,
                                  check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FinetuneError(f"the learning-rate test took more than {timeout:.0f} s and was stopped; try fewer "
                                "steps or a smaller model") from None
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.startswith("error:")] or done.stderr.splitlines()
        raise FinetuneError((said[-1] if said else f"exit code {done.returncode}").removeprefix("error: "))
    return json.loads(done.stdout.strip().splitlines()[-1])
