"""The "show the code" script: plain datasets + Trainer that runs as it is and reproduces the app's run."""
import ast
import json
import re
import subprocess
import sys

import pytest

from finetune import runs
from finetune.config import RunConfig
from finetune.snippet import training_code


def test_the_script_runs_and_reproduces_the_runs_validation_figures(tiny_run, tmp_path):
    config = RunConfig.load(tiny_run / runs.CONFIG_FILE)
    script = tmp_path / "train_mrpc.py"
    script.write_text(training_code(config))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    final = ast.literal_eval(re.findall(r"^\{'eval_loss'.*\}$", done.stdout, re.MULTILINE)[-1])
    # The script's Trainer scores the last step itself; the run scored its saved model, in fp32 as the script does.
    run_final = json.loads((tiny_run / runs.METRICS_FILE).read_text())["final"]
    assert final["eval_accuracy"] == pytest.approx(run_final["accuracy"])
    assert final["eval_loss"] == pytest.approx(run_final["loss"], rel=1e-4)


@pytest.mark.parametrize("data, expected", [
    ("sample", 'load_dataset("json"'),
    ("hub", "load_dataset('nyu-mll/glue', 'mrpc')"),
    ("/data/mrpc", "load_data('/data/mrpc', Spec(task='mrpc'))"),
])
def test_the_data_line_follows_the_source(data, expected):
    assert expected in training_code(RunConfig(data=data))


def test_every_setting_of_the_form_appears_in_the_script():
    code = training_code(RunConfig(epochs=2.5, learning_rate=3e-5, batch_size=12, max_length=96, seed=7,
                                   max_train_samples=500, sampling="random", precision="fp32", dropout=0.05,
                                   freeze_embeddings=True))
    for text in ("module.p = 0.05", "get_input_embeddings().weight.requires_grad_(False)", "num_train_epochs=2.5",
                 "learning_rate=3e-05", "per_device_train_batch_size=12", "max_length=96", "set_seed(7)", "seed=7",
                 "select(range(min(500,", "train_sampling_strategy='random'"):
        assert text in code
    assert "bf16" not in code and "fp16" not in code
    ast.parse(code)
    plain = training_code(RunConfig(dropout=None, freeze_embeddings=False))
    assert "module.p" not in plain and "requires_grad_" not in plain
