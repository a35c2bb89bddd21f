"""How good a model is on a labelled table: accuracy, macro-F1, per-class scores, confusion matrix, figures.

Test labels the model does not know stay in the count (as errors, and listed under
``unknown_labels``): leaving them out would score a model on the easy part of the table.
Figures are drawn on a bare ``matplotlib.figure.Figure`` (Agg), so nothing needs a display.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from landmark_emotion.data.table import LandmarkTable
from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.labels import CANONICAL_LABELS
from landmark_emotion.model.calibration import References, calibrate, person_references


class EvaluationError(LandmarkEmotionError, ValueError):
    """Nothing to evaluate (an empty table)."""


def _label_order(labels: set[str]) -> list[str]:
    """Canonical order first, anything else after it alphabetically."""
    known = [label for label in CANONICAL_LABELS if label in labels]
    return known + sorted(labels - set(known))


def evaluate_labels(true: Sequence[str] | np.ndarray, predicted: Sequence[str], model_labels: Sequence[str]) -> dict:
    """Scores of predicted vs true labels: accuracy, macro_f1, n, labels, per_class, confusion, unknown_labels.

    ``confusion[i][j]`` counts samples of ``labels[i]`` predicted as ``labels[j]``; ``labels``
    is the model's labels plus any unknown test labels. Macro-F1 averages over the labels that
    occur in the truth or the predictions.
    """
    truth, guesses = np.asarray(true, dtype=str), np.asarray(predicted, dtype=str)
    if len(truth) == 0:
        raise EvaluationError("no samples to evaluate")
    labels = _label_order(set(model_labels) | set(truth.tolist()))
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(confusion, ([index[t] for t in truth], [index[p] for p in guesses]), 1)
    support, predicted_n, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    precision = np.divide(hits, predicted_n, out=np.zeros(len(labels)), where=predicted_n > 0)
    recall = np.divide(hits, support, out=np.zeros(len(labels)), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(labels)), where=precision + recall > 0)
    present = (support > 0) | (predicted_n > 0)
    unknown = sorted(set(truth.tolist()) - set(model_labels))
    return {
        "accuracy": float(hits.sum() / len(truth)),
        "balanced_accuracy": float(recall[support > 0].mean()),
        "macro_f1": float(f1[present].mean()),
        "n": int(len(truth)),
        "labels": labels,
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": confusion.tolist(),
        "unknown_labels": {label: int(support[index[label]]) for label in unknown},
    }


def evaluate_predictor(predictor, table: LandmarkTable, neutral: References | None = None) -> dict:
    """:func:`evaluate_labels` of a :class:`~landmark_emotion.model.bundle.Predictor` on a landmark table; with
    ``neutral`` references that hold a person's neutral, every face is calibrated by it first (a personal
    model reads its user so, and was fitted so)."""
    if not len(table):
        raise EvaluationError("the table has no samples to evaluate")
    features = table.features(predictor.feature_set)
    if neutral is not None and neutral.person is not None:
        features = calibrate(features, neutral.person, neutral.population)
    return evaluate_labels(table.labels, predictor.predict(features), predictor.labels)


def format_report(metrics: dict) -> str:
    """Human-readable summary: headline scores, a per-class table and the confusion matrix."""
    labels, width = metrics["labels"], max(8, *(len(label) for label in metrics["labels"]))
    lines = [f"n = {metrics['n']}   accuracy = {metrics['accuracy']:.1%}   macro-F1 = {metrics['macro_f1']:.3f}"]
    if metrics.get("unknown_labels"):
        lines.append(
            "labels the model does not know (counted as errors): "
            + ", ".join(f"{label} ({n})" for label, n in metrics["unknown_labels"].items())
        )
    lines += ["", f"{'class':<{width}}  precision  recall     f1  support"]
    for label in labels:
        c = metrics["per_class"][label]
        lines.append(f"{label:<{width}}  {c['precision']:9.3f}  {c['recall']:6.3f}  {c['f1']:5.3f}  {c['support']:7d}")
    lines += [
        "",
        "confusion (rows: true, columns: predicted)",
        " " * width + "  " + " ".join(f"{label[:7]:>7}" for label in labels),
    ]
    for label, row in zip(labels, metrics["confusion"]):
        lines.append(f"{label:<{width}}  " + " ".join(f"{v:7d}" for v in row))
    return "\n".join(lines)


def confusion_figure(metrics: dict, title: str = "confusion matrix"):
    """Row-normalised confusion matrix (colour = share of the true class, text = count)."""
    from matplotlib.figure import Figure

    labels, counts = metrics["labels"], np.asarray(metrics["confusion"])
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.75 * len(labels)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(counts):
        ax.text(
            j, i, str(count), ha="center", va="center", fontsize=8, color="white" if shares[i, j] > 0.5 else "black"
        )
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\naccuracy {metrics['accuracy']:.1%}, macro-F1 {metrics['macro_f1']:.3f}, n={metrics['n']}")
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    fig.tight_layout()
    return fig


def curves_figure(history: dict[str, list[float]], best_epoch: int | None = None):
    """Training and validation loss and accuracy per epoch, with the kept epoch marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5))
    for ax, key in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        for prefix, name in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + key)
            if values:
                ax.plot(range(1, len(values) + 1), values, label=name)
        if best_epoch:
            ax.axvline(best_epoch, color="gray", linestyle="--", label=f"kept (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(f"class-weighted {key}")
        ax.legend()
    fig.tight_layout()
    return fig


def evaluate_calibrated(predictor, table: LandmarkTable, population: np.ndarray) -> dict:
    """:func:`evaluate_predictor` with every face calibrated by the other neutral faces of the same person.

    Only faces with such a reference are scored (``scored``; ``skipped`` the others);
    ``uncalibrated_accuracy`` is the same faces' accuracy without calibration, so the two
    scores compare like with like.
    """
    if not len(table):
        raise EvaluationError("the table has no samples to evaluate")
    features = table.features(predictor.feature_set)
    references, has = person_references(features, table.labels, table.groups)
    if not has.any():
        raise EvaluationError("no face has another neutral face of the same person to calibrate with")
    calibrated = calibrate(features[has], references[has], population)
    metrics = evaluate_labels(table.labels[has], predictor.predict(calibrated), predictor.labels)
    uncalibrated = evaluate_labels(table.labels[has], predictor.predict(features[has]), predictor.labels)
    metrics.update(
        uncalibrated_accuracy=uncalibrated["accuracy"],
        uncalibrated_macro_f1=uncalibrated["macro_f1"],
        scored=int(has.sum()),
        skipped=int((~has).sum()),
    )
    return metrics
