"""A trained model loaded once, answering sentence pairs with a label and probabilities."""
from __future__ import annotations

from finetune.models import LABEL_NAMES, load_classifier, load_tokenizer


class Predictor:
    """Load once, then `predict(s1, s2)` or `predict_batch(pairs)`; inference only, no gradients."""

    def __init__(self, model: str, max_length: int = 128):
        import torch

        self.torch = torch
        self.tokenizer = load_tokenizer(model)
        self.model = load_classifier(model).eval()
        self.max_length = max_length
        labels = self.model.config.id2label
        self.labels = [labels.get(i, labels.get(str(i), name)) for i, name in enumerate(LABEL_NAMES)]

    def predict_batch(self, pairs: list[tuple[str, str]], batch_size: int = 64) -> list[dict]:
        answers = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            inputs = self.tokenizer([p[0] for p in chunk], [p[1] for p in chunk], truncation=True,
                                    max_length=self.max_length, padding=True, return_tensors="pt")
            with self.torch.inference_mode():
                probs = self.model(**inputs).logits.float().softmax(-1).tolist()
            answers += [{"label": self.labels[max(range(2), key=p.__getitem__)],
                         "probabilities": dict(zip(self.labels, p))} for p in probs]
        return answers

    def predict(self, sentence1: str, sentence2: str) -> dict:
        return self.predict_batch([(sentence1, sentence2)])[0]
