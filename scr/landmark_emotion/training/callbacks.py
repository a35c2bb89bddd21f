"""Keras callbacks for training (this module imports Keras, hence TensorFlow: import it lazily)."""

from __future__ import annotations

import keras
import numpy as np
from tqdm import tqdm

from landmark_emotion.signals import stop_requested


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on the validation loss that keeps the best weights as the run goes.

    Keras' EarlyStopping restores the best weights only when training ends normally;
    keeping them here means Ctrl-C still leaves the best epoch's network behind.
    """

    def __init__(self, patience: int) -> None:
        super().__init__()
        self.patience = patience
        self.weights: list[np.ndarray] | None = None
        self.best_epoch = 0
        self.best_loss = np.inf
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        loss = float((logs or {}).get("val_loss", np.inf))
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.weights = loss, epoch + 1, self.model.get_weights()
        elif epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True


class StopOnSignal(keras.callbacks.Callback):
    """Ends training after the current batch once a stop signal is waiting (see ``cli.deferred_signals``).

    The signal is not raised inside Keras' loop, where an exception between TensorFlow's
    steps can leave its runtime in a state that crashes the process; it is raised after
    ``fit`` returns, and the best epoch so far is kept as with Ctrl-C.
    """

    def on_train_batch_end(self, batch, logs=None):
        if stop_requested():
            self.model.stop_training = True


class EpochBar(keras.callbacks.Callback):
    """Advances a tqdm bar once per epoch, showing the validation loss and accuracy."""

    def __init__(self, bar: tqdm) -> None:
        super().__init__()
        self.bar = bar

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(
            val_loss=f"{logs.get('val_loss', np.nan):.3f}", val_acc=f"{logs.get('val_accuracy', np.nan):.3f}"
        )
        self.bar.update(1)
