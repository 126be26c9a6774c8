"""Keras (TensorFlow backend) LSTM and 1-D CNN over windows of past days, features as channels.

Input at origin t: the last ``window`` days (t - window + 1 .. t) of Qty and the builder's day-t
features (one channel each), plus the known calendar of each target day (weekday, holiday, closed,
payday) and the mean of the last 4 same weekdays. One network predicts all horizons at once; it
learns the correction to that weekday mean. X and y are standardised with statistics of the
training rows only; the last ``val_days`` training origins are the early-stopping validation fold.
Seeds are fixed and TensorFlow runs on 2 threads so a fit is repeatable and sized for a CPU.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from engine.data.features import FEATURE_COLUMNS
from engine.forecasting.models.base import Forecaster
from engine.forecasting.series import Series, same_weekday_lags

SEQ_COLUMNS = [c for c in FEATURE_COLUMNS if not c.startswith("target_")]
CAL_COLUMNS = ["target_is_holiday", "target_is_closed", "target_is_payday"]


def _keras(seed: int):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process: the first setting stays
        pass
    import keras

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - older TF without the switch
        pass
    return keras


class _Neural(Forecaster):
    cheap = False
    param_grid = ({"window": 28, "units": 32, "epochs": 60, "patience": 8, "batch_size": 128, "learning_rate": 3e-3, "val_days": 56, "seed": 7},)

    def __init__(self, **params):
        super().__init__(**{**self.param_grid[0], **params})
        self.window = int(self.params["window"])
        self.features = ["Qty", *SEQ_COLUMNS]
        self._net = None
        self.history: dict = {}

    # --- inputs -------------------------------------------------------------------------------
    def _arrays(self, series: Series, idx: np.ndarray):
        """(sequence windows, calendar+base vector, base (n, H)) for origins ``idx``."""
        frame = series.frame(self.horizons[0])
        table = np.column_stack([series.qty, frame.select(SEQ_COLUMNS).cast({c: float for c in SEQ_COLUMNS}).to_numpy()[: len(series.qty)]])
        table = np.nan_to_num(table, nan=0.0)
        steps = idx[:, None] - np.arange(self.window - 1, -1, -1)[None, :]
        seq = table[np.clip(steps, 0, None)]
        cal, base = [], []
        for h in self.horizons:
            fh = series.frame(h)
            wd = fh["target_weekday"].to_numpy()[idx]
            flags = fh.select(CAL_COLUMNS).cast({c: float for c in CAL_COLUMNS}).to_numpy()[idx]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                b = np.nanmean(same_weekday_lags(series.qty, idx, h, 4), axis=1)
            b = np.nan_to_num(b, nan=float(np.nanmean(series.qty)))
            cal.append(np.column_stack([np.eye(7)[wd], flags, b]))
            base.append(b)
        return seq, np.column_stack(cal), np.column_stack(base)

    def _build(self, keras, n_channels: int, n_cal: int):
        raise NotImplementedError

    # --- fit / predict ------------------------------------------------------------------------
    def fit(self, series: Series, horizons, progress=None):
        super().fit(series, horizons)
        keras = _keras(int(self.params["seed"]))
        targets = np.column_stack([series.frame(h)["target"].to_numpy().astype(float) for h in self.horizons])
        idx = np.flatnonzero(~np.isnan(targets).any(axis=1))
        idx = idx[idx >= self.window + 28]
        if len(idx) < 120:
            raise ValueError(f"only {len(idx)} training days for store {series.store} product {series.product}; give at least 150 days of history before the forecast start.")
        seq, cal, base = self._arrays(series, idx)
        y = targets[idx] - base
        n_val = min(int(self.params["val_days"]), len(idx) // 5)
        fit_rows = slice(0, len(idx) - n_val)
        flat = seq[fit_rows].reshape(-1, seq.shape[-1])
        self._seq_mean, self._seq_std = flat.mean(axis=0), flat.std(axis=0) + 1e-6
        self._cal_mean, self._cal_std = cal[fit_rows].mean(axis=0), cal[fit_rows].std(axis=0) + 1e-6
        self._y_mean, self._y_std = y[fit_rows].mean(axis=0), y[fit_rows].std(axis=0) + 1e-6
        xs, xc, ys = self._scale(seq, cal), (cal - self._cal_mean) / self._cal_std, (y - self._y_mean) / self._y_std
        net = self._build(keras, seq.shape[-1], cal.shape[-1])
        net.compile(optimizer=keras.optimizers.Adam(float(self.params["learning_rate"])), loss="mse", jit_compile=False)
        epochs = int(self.params["epochs"])
        name = self.name

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if progress:
                    progress(name, (epoch + 1) / epochs, f"epoch {epoch + 1}: validation loss {(logs or {}).get('val_loss', float('nan')):.3f}")

        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(self.params["patience"]), restore_best_weights=True)
        val = slice(len(idx) - n_val, len(idx))
        hist = net.fit([xs[fit_rows], xc[fit_rows]], ys[fit_rows], validation_data=([xs[val], xc[val]], ys[val]),
                       epochs=epochs, batch_size=int(self.params["batch_size"]), shuffle=True, verbose=0, callbacks=[stop, Report()])
        self.history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        self.epochs_run = len(self.history.get("loss", []))
        self._net = net
        return self

    def _scale(self, seq, cal=None):
        return (seq - self._seq_mean) / self._seq_std

    def predict(self, series: Series, origins) -> np.ndarray:
        idx = self._origin_index(series, origins)
        seq, cal, base = self._arrays(series, idx)
        xs, xc = self._scale(seq), (cal - self._cal_mean) / self._cal_std
        out = np.asarray(self._net([xs.astype("float32"), xc.astype("float32")], training=False))
        return base + out * self._y_std + self._y_mean

    # --- persistence --------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_net"] = None
        return state

    def save_extra(self, folder: Path) -> None:
        self._net.save(Path(folder) / "net.keras")

    def load_extra(self, folder: Path) -> None:
        keras = _keras(int(self.params["seed"]))
        self._net = keras.models.load_model(Path(folder) / "net.keras", compile=False)


class LSTM(_Neural):
    name = "lstm"

    def _build(self, keras, n_channels, n_cal):
        L = keras.layers
        seq_in, cal_in = keras.Input((self.window, n_channels)), keras.Input((n_cal,))
        x = L.LSTM(int(self.params["units"]))(seq_in)
        x = L.Concatenate()([x, cal_in])
        x = L.Dense(int(self.params["units"]), activation="relu")(x)
        return keras.Model([seq_in, cal_in], L.Dense(len(self.horizons))(x))


class CNN(_Neural):
    name = "cnn"

    def _build(self, keras, n_channels, n_cal):
        L = keras.layers
        units = int(self.params["units"])
        seq_in, cal_in = keras.Input((self.window, n_channels)), keras.Input((n_cal,))
        x = L.Conv1D(units, 3, padding="causal", activation="relu")(seq_in)
        x = L.Conv1D(units, 3, padding="causal", dilation_rate=2, activation="relu")(x)
        x = L.Concatenate()([L.GlobalAveragePooling1D()(x), L.Flatten()(L.Cropping1D((self.window - 1, 0))(x))])
        x = L.Concatenate()([x, cal_in])
        x = L.Dense(units, activation="relu")(x)
        return keras.Model([seq_in, cal_in], L.Dense(len(self.horizons))(x))
