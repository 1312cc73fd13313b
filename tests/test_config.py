"""RunConfig: presets, overrides, range checks, round trip through config.json."""
import pytest

from finetune.config import PRESETS, ConfigError, RunConfig


def test_course_preset_is_trainingarguments_defaults():
    from transformers import TrainingArguments

    defaults = TrainingArguments(output_dir="unused")
    course = RunConfig.from_preset("course")
    assert course.learning_rate == defaults.learning_rate
    assert course.batch_size == defaults.per_device_train_batch_size
    assert course.epochs == defaults.num_train_epochs
    assert course.weight_decay == defaults.weight_decay
    assert course.warmup_ratio == defaults.warmup_steps
    assert course.precision == "fp32" and course.sampling == "random"


def test_explicit_settings_override_the_preset_and_none_keeps_it():
    config = RunConfig.from_preset("course", epochs=1, learning_rate=None)
    assert config.epochs == 1 and config.learning_rate == PRESETS["course"]["learning_rate"]
    assert config.preset == "course"


@pytest.mark.parametrize("setting, value, words", [
    ("learning_rate", 0, "learning rate"),
    ("learning_rate", -1e-5, "learning rate"),
    ("epochs", 0, "epochs"),
    ("epochs", float("nan"), "epochs"),
    ("batch_size", 0, "batch size"),
    ("max_length", 4, "max length"),
    ("precision", "fp8", "precision"),
    ("sampling", "sorted", "sampling"),
    ("max_train_samples", 0, "max train samples"),
    ("batch_size", 2048, "batch size must be between 1 and 1024"),
    ("eval_batch_size", 5000, "eval batch size"),
    ("save_total_limit", 0, "save total limit"),
])
def test_out_of_range_settings_are_refused_with_their_name(setting, value, words):
    with pytest.raises(ConfigError, match=words):
        RunConfig.from_preset("default", **{setting: value}).validate()


def test_unknown_preset_and_unknown_setting_are_refused():
    with pytest.raises(ConfigError, match="unknown preset"):
        RunConfig.from_preset("fastest")
    with pytest.raises(ConfigError, match="unknown setting"):
        RunConfig.from_preset("default", learning_rat=1e-4)


def test_config_round_trips_through_json(tmp_path):
    config = RunConfig.from_preset("demo", model="bert-base-uncased", seed=7)
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config


def test_a_batch_larger_than_the_training_rows_kept_is_refused():
    with pytest.raises(ConfigError, match="batch size 32 is larger than the 16 training pairs kept"):
        RunConfig.from_preset("default", batch_size=32, max_train_samples=16).validate()
