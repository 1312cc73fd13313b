"""Time left and durations: the recent pace of steps, the pauses still to come, and minutes that never read 60."""
import pytest

from finetune.eta import Eta, clock, in_words


@pytest.mark.parametrize("seconds, shown, words", [
    (0, "0:00", "0 s"), (0.4, "0:00", "0 s"), (59.4, "0:59", "59 s"), (59.6, "1:00", "1 min 00 s"),
    (61, "1:01", "1 min 01 s"), (239.6, "4:00", "4 min 00 s"), (419.5, "7:00", "7 min 00 s"),
    (3599.4, "59:59", "59 min 59 s"), (3599.6, "1:00:00", "1 h 00 min"), (3661, "1:01:01", "1 h 01 min"),
    (-3, "0:00", "0 s"),
])
def test_durations_are_rounded_to_the_second_before_they_are_split(seconds, shown, words):
    assert clock(seconds) == shown and in_words(seconds) == words


def test_the_time_left_counts_the_remaining_steps_at_the_recent_pace_and_the_evaluations_to_come():
    eta = Eta(max_steps=100, steps_per_epoch=20, evaluation_batches=4)
    assert eta.seconds_left(0) is None  # no pace yet
    for step in range(1, 21):
        eta.step(float(step), step)  # one second a step
    # 80 steps, then the evaluations at the ends of epochs 2, 3, 4 and the final scoring, each guessed from the pace
    # (4 batches of about half a step) until one is seen.
    assert eta.seconds_left(20) == pytest.approx(80 + 4 * 2.0)
    eta.pause(30.0)  # the evaluation and the checkpoint after epoch 1 took 10 s
    for step in range(21, 31):
        eta.step(30.0 + 3.0 * (step - 20), step)  # the machine got busier: 3 s a step
    pace = (19 * 1.0 + 10 * 3.0) / 29  # the last 29 gaps, the pause left out
    assert eta.seconds_left(30) == pytest.approx(round(70 * pace + 4 * 10.0, 1))
    for step in range(31, 61):
        eta.step(60.0 + 3.0 * (step - 30), step)
    assert eta.seconds_left(60) == pytest.approx(40 * 3.0 + 2 * 10.0)  # only the recent pace counts now
