"""The explain endpoints for gradio_client: /explain, /attention and /counterfactual (registered by ui/api.py)."""
from finetune import runs
from finetune.counterfactual import search_run
from finetune.explain import attention_pair, explain_pair
from finetune.predict import check_pair
from finetune.ui.common import user_errors


@user_errors
def explain(sentence1: str, sentence2: str, run: str = "", method: str = "gradient_x_input",
            words: bool = False) -> dict:
    """Which tokens decided the answer: every token's score toward the predicted label (method gradient_x_input or
    integrated_gradients; words=True merges word pieces), for `run` (default: the latest finished) and, under "base",
    the model it started from."""
    check_pair(sentence1, sentence2)
    return explain_pair(runs.finished_run(run), sentence1, sentence2, method, words)


@user_errors
def attention(sentence1: str, sentence2: str, run: str = "", layer: int = -1, head: int = -1) -> dict:
    """The attention weights of one layer (-1: the last) and head (-1: the mean over heads), every token against every
    token (each row sums to 1), for `run` and, under "base", the model it started from."""
    check_pair(sentence1, sentence2)
    return attention_pair(runs.finished_run(run), sentence1, sentence2, layer, head)


@user_errors
def counterfactual(sentence1: str, sentence2: str, run: str = "") -> dict:
    """The smallest edits of the pair that flip the run's answer (each confirmed by asking again), and how many pairs
    the search asked the model (`forwards`)."""
    check_pair(sentence1, sentence2)
    return search_run(runs.finished_run(run), sentence1, sentence2)
