"""How long a training has left, from the recent pace of its steps and the pauses (evaluation, checkpoint, the final
scoring) still to come; and durations written as a reader expects them."""
from __future__ import annotations

from collections import deque

WINDOW = 30  # steps whose pace counts: recent enough to follow a machine that got busier, long enough to be steady
EVALUATION_PER_STEP = 0.5  # before any evaluation was seen: scoring a batch costs about half a training step


class Eta:
    """Feed it each step's end and each pause; ask it how many seconds remain.

    The pace is the mean time between the ends of the last WINDOW steps, pauses left out; each evaluation still to
    come (one per epoch boundary, and the final scoring) costs what the last one cost, or, before any, an estimate
    from the pace and the number of validation batches.
    """

    def __init__(self, max_steps: int, steps_per_epoch: float, evaluation_batches: int):
        self.max_steps, self.steps_per_epoch = max_steps, max(steps_per_epoch, 1e-9)
        self.evaluation_batches = evaluation_batches
        self.gaps: deque[float] = deque(maxlen=WINDOW)
        self.last: tuple[float, int] | None = None
        self.pauses: list[float] = []

    def step(self, now: float, step: int) -> None:
        """A training step ended at `now` (seconds on a monotonic clock)."""
        if self.last is not None and step > self.last[1]:
            self.gaps.append((now - self.last[0]) / (step - self.last[1]))
        self.last = (now, step)

    def pause(self, now: float) -> None:
        """An evaluation or a checkpoint, which started after the last step's end, ended at `now`: not a step's time."""
        if self.last is not None:
            self.pauses.append(now - self.last[0])
            self.last = (now, self.last[1])

    def seconds_left(self, step: int) -> float | None:
        if not self.gaps:
            return None
        pace = sum(self.gaps) / len(self.gaps)
        boundaries = int(self.max_steps / self.steps_per_epoch + 1e-9) - int(step / self.steps_per_epoch + 1e-9)
        # Evaluations at the epoch boundaries still ahead (the Trainer skips the last one) plus the final scoring.
        evaluations = max(boundaries - 1, 0) + 1
        pause = self.pauses[-1] if self.pauses else pace * EVALUATION_PER_STEP * self.evaluation_batches
        return round((self.max_steps - step) * pace + evaluations * pause, 1)


def clock(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on; rounded to the second first, so 239.6 s reads 4:00, not 3:60."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def in_words(seconds: float) -> str:
    """Seconds as a reader says them: '45 s', '4 min 00 s', '1 h 02 min'."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
