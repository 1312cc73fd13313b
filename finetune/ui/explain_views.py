"""The Explain tab's drawings as plain HTML with inline styles (no script, nothing from a CDN): scored tokens,
attention."""
from __future__ import annotations

from html import escape

import numpy as np

TOWARD, AWAY, ATTENDED = (22, 163, 74), (220, 38, 38), (37, 99, 235)  # green, red, blue
SEGMENT_NAMES = ("sentence 1", "sentence 2")
SEGMENT_TINTS = ("#dbeafe", "#fef3c7")  # the Tokens tab's colours for the two sentences
BOX = "display:inline-block;margin:2px 1px;padding:1px 4px;border-radius:4px;font-family:ui-monospace,monospace"


def _shade(colour: tuple[int, int, int], strength: float) -> str:
    return f"rgba({colour[0]},{colour[1]},{colour[2]},{min(max(strength, 0.0), 1.0):.3f})"


def _token(entry: dict, largest: float) -> str:
    score = entry["score"]
    colour = _shade(TOWARD if score >= 0 else AWAY, abs(score) / largest)
    border = ("border:1px dashed #6b7280;color:#4b5563;font-size:0.85em" if entry["special"]
              else "border:1px solid transparent")
    return (f'<span class="explain-token" title="{escape(entry["token"])}: {score:+.4f}" '
            f'style="{BOX};background:{colour};{border}">{escape(entry["token"])}</span>')


def _figures(found: dict) -> str:
    if found["delta"] is None:
        return f"target {found['target_logit']:+.3f}"
    total = sum(entry["score"] for entry in found["tokens"])
    return (f"{found['steps']} steps: scores sum to {total:+.4f} = target {found['target_logit']:+.4f} at the input − "
            f"{found['baseline_logit']:+.4f} at the baseline, off by delta {found['delta']:+.1e}")


def scores_html(found: dict, title: str) -> str:
    """The pair's tokens on two lines (one per sentence, special tokens dashed), shaded by score: green toward the
    predicted label, red away from it, scaled to this model's largest |score|."""
    largest = max((abs(entry["score"]) for entry in found["tokens"]), default=0.0) or 1.0
    probability = found["probabilities"][found["label"]]
    header = (f'<div style="margin-bottom:6px"><b>{escape(title)}</b>: <b>{escape(found["label"])}</b> '
              f'({probability:.1%} in torch fp32) · {escape(found["method"])} · {_figures(found)} · '
              f'largest |score| {largest:.3g}</div>')
    lines = [header]
    for segment, name in enumerate(SEGMENT_NAMES):
        tokens = "".join(_token(entry, largest) for entry in found["tokens"] if entry["segment"] == segment)
        lines.append(f'<div class="explain-segment" data-segment="{segment}" style="margin:4px 0;padding:4px;'
                     f'border-left:4px solid {SEGMENT_TINTS[segment]};line-height:1.9">'
                     f'<span style="color:#6b7280;font-size:0.85em;margin-right:6px">{name}</span>{tokens}</div>')
    return f'<div class="explain-scores">{"".join(lines)}</div>'


def _header(token: str, segment: int, vertical: bool) -> str:
    turn = "writing-mode:vertical-rl;transform:rotate(180deg);" if vertical else "text-align:right;"
    return (f'<th style="{turn}background:{SEGMENT_TINTS[segment]};font-weight:normal;padding:2px 4px;'
            f'font-family:ui-monospace,monospace;font-size:0.8em;white-space:nowrap">{escape(token)}</th>')


def attention_html(found: dict, title: str, full: bool = False) -> str:
    """A heat map of attention weights: sentence 1's tokens (rows) against sentence 2's (columns), with each row's
    total share on sentence 2; `full` shows every token against every token (each row then sums to 1)."""
    weights = np.asarray(found["weights"])
    tokens, segments, special = found["tokens"], found["segments"], found["special"]
    if full:
        rows = columns = list(range(len(tokens)))
    else:
        rows = [i for i in range(len(tokens)) if segments[i] == 0 and not special[i]]
        columns = [j for j in range(len(tokens)) if segments[j] == 1 and not special[j]]
    block = weights[np.ix_(rows, columns)] if rows and columns else np.zeros((0, 0))
    largest = float(block.max()) if block.size else 1.0
    head = "mean over heads" if found["head"] == -1 else f"head {found['head']}"
    header = "".join(_header(tokens[j], segments[j], True) for j in columns)
    total = "" if full else '<th style="font-size:0.8em;font-weight:normal;padding:2px 4px">Σ sentence 2</th>'
    body = []
    for r, i in enumerate(rows):
        cells = "".join(f'<td title="{escape(tokens[i])} → {escape(tokens[j])}: {block[r, c]:.3f}" '
                        f'style="width:16px;height:16px;background:{_shade(ATTENDED, block[r, c] / (largest or 1.0))}">'
                        f'</td>' for c, j in enumerate(columns))
        share = "" if full else f'<td style="font-size:0.8em;padding:0 4px">{weights[i, columns].sum():.2f}</td>'
        body.append(f"<tr>{_header(tokens[i], segments[i], False)}{cells}{share}</tr>")
    what = "every token → every token (rows sum to 1)" if full else "sentence 1 (rows) → sentence 2 (columns)"
    return (f'<div class="explain-attention"><div style="margin-bottom:4px"><b>{escape(title)}</b>: layer '
            f'{found["layer"]}, {head}; {what}; darkest = {largest:.3f}</div>'
            f'<div style="overflow-x:auto"><table style="border-collapse:collapse;border-spacing:0">'
            f'<tr><th></th>{header}{total}</tr>{"".join(body)}</table></div></div>')
