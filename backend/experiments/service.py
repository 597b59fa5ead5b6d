"""The domain's face for the API: experiments by id, their tokens, storage and training.

Routes stay thin: they parse the request, call one method here and shape the answer.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import numpy as np
from pydantic import ValidationError

from backend.data import DataError, UserData
from backend.engine import Backend, gradient_check
from backend.settings import Settings

from .config import ExperimentConfig, parse_config
from .experiment import Experiment, ExperimentError
from .runner import Runner
from .state import from_state, to_state
from .store import Store
from .tokens import hash_token, new_id, new_short_id, new_token, token_matches


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Busy(RuntimeError):
    """A limit of the server (not of the request) stands in the way; try again later."""


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge a partial config into a full one; lists and scalars replace."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Service:
    def __init__(self, settings: Settings, store: Store, backend: Backend) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.limits = settings.limits
        self.experiments: dict[str, Experiment] = {}
        self.token_hashes: dict[str, str] = {}
        self.share_views: dict[str, Experiment] = {}
        self.runner = Runner(self.save, settings.save_interval, settings.idle_stop,
                             settings.max_running, settings.max_running_per_client,
                             settings.frame_rate,
                             settings.grid_resolution, settings.neuron_resolution)

    # lookup and auth ----------------------------------------------------------------------
    def parse(self, data: Any) -> ExperimentConfig:
        return parse_config(data, self.limits)

    def get(self, exp_id: str) -> Experiment:
        exp = self.experiments.get(exp_id)
        if exp is not None:
            return exp
        loaded = self.store.load_experiment(exp_id) if len(exp_id) <= 64 else None
        if loaded is None:
            raise NotFound(f"no experiment {exp_id!r}")
        token_hash, state = loaded
        exp = from_state(exp_id, state, self._upload_of(state["config"]), self.backend,
                         self.limits)
        self.experiments[exp_id] = exp
        self.token_hashes[exp_id] = token_hash
        return exp

    def authorize(self, exp_id: str, token: str | None) -> Experiment:
        exp = self.get(exp_id)
        if not token_matches(token, self.token_hashes[exp_id]):
            raise Forbidden("this change needs the experiment's edit token "
                            "(Authorization: Bearer <edit_token>)")
        return exp

    def _upload_of(self, config: dict[str, Any]) -> UserData | None:
        dataset = config.get("dataset", {})
        if dataset.get("name") != "custom":
            return None
        stored = self.store.load_dataset(str(dataset.get("id")))
        if stored is None:
            raise ExperimentError(f"no uploaded data set {dataset.get('id')!r}; upload it "
                                  "with POST /api/datasets first")
        return UserData.from_json(stored)

    # experiments --------------------------------------------------------------------------
    async def create(self, config: ExperimentConfig) -> tuple[Experiment, str]:
        upload = self._upload_of(config.model_dump(mode="json"))
        exp = await asyncio.to_thread(Experiment, new_id(), config, upload, self.backend)
        return await self._adopt(exp)

    async def _adopt(self, exp: Experiment) -> tuple[Experiment, str]:
        token = new_token()
        self.experiments[exp.id] = exp
        self.token_hashes[exp.id] = hash_token(token)
        await self.save(exp)
        return exp, token

    async def patch(self, exp: Experiment, changes: dict[str, Any]) -> bool:
        config = self.parse(merge(exp.config.model_dump(mode="json"), changes))
        upload = self._upload_of(config.model_dump(mode="json"))
        kept = await asyncio.to_thread(exp.apply_config, config, upload)
        self.runner.changed(exp)
        await self.save(exp)
        return kept

    async def delete(self, exp: Experiment) -> None:
        await self.runner.pause(exp)
        self.runner.frames.forget(exp.id)
        self.experiments.pop(exp.id, None)
        self.token_hashes.pop(exp.id, None)
        await asyncio.to_thread(self.store.delete_experiment, exp.id)

    async def save(self, exp: Experiment) -> None:
        state = await asyncio.to_thread(to_state, exp)
        await asyncio.to_thread(self.store.save_experiment, exp.id,
                                self.token_hashes[exp.id], state)

    # training -----------------------------------------------------------------------------
    def play(self, exp: Experiment, epochs: int | None = None, client: str = "") -> None:
        if exp.status == "diverged":
            raise ExperimentError("the run diverged: change the config or reset first")
        try:
            self.runner.start(exp, epochs, client)
        except RuntimeError as exc:
            raise Busy(str(exc)) from None

    async def train_and_wait(self, exp: Experiment, epochs: int, client: str = "") -> None:
        if epochs > self.settings.max_wait_epochs:
            raise ExperimentError(f"wait: true allows at most {self.settings.max_wait_epochs} "
                                  "epochs; use wait: false and watch the progress")
        self.play(exp, epochs, client)
        await self.runner.runs[exp.id].done.wait()

    async def pause(self, exp: Experiment) -> None:
        await self.runner.pause(exp)
        await self.save(exp)

    async def step(self, exp: Experiment, epochs: int = 1) -> None:
        if self.runner.running(exp.id):
            raise ExperimentError("the experiment is running; pause it before stepping")
        if exp.status == "diverged":
            raise ExperimentError("the run diverged: change the config or reset first")
        await asyncio.to_thread(exp.train_epochs, epochs)
        self.runner.changed(exp)
        await self.save(exp)

    async def reset(self, exp: Experiment) -> None:
        await self.runner.pause(exp)
        await asyncio.to_thread(exp.reset)
        self.runner.changed(exp)
        await self.save(exp)

    async def set_weight(self, exp: Experiment, layer: int, source: int | None, target: int,
                         value: float) -> None:
        await asyncio.to_thread(exp.set_weight, layer, source, target, value)
        self.runner.changed(exp)
        if not self.runner.running(exp.id):
            await self.save(exp)

    # views --------------------------------------------------------------------------------
    def check_points(self, points: Any) -> np.ndarray:
        try:
            x = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            raise ExperimentError("x must be a list of [x1, x2] pairs of numbers") from None
        if x.ndim != 2 or x.shape[1] != 2:
            raise ExperimentError("x must be a list of [x1, x2] pairs")
        if not 1 <= len(x) <= self.settings.max_predict_points:
            raise ExperimentError(f"x must hold 1 to {self.settings.max_predict_points} points")
        if not np.isfinite(x).all() or np.abs(x).max() > 1e6:
            raise ExperimentError("every coordinate must be a finite number with |x| <= 1e6")
        return x

    async def gradient_check(self, exp: Experiment, n_points: int) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with exp.lock:
                n = min(n_points, len(exp.data.y_train))
                return gradient_check(exp.model, exp.x_train[:n], exp.data.y_train[:n])

        return await asyncio.to_thread(run)

    # datasets, exports, shares ------------------------------------------------------------
    def upload(self, data: UserData) -> str:
        ds_id = new_id()
        self.store.save_dataset(ds_id, data.to_json())
        return ds_id

    async def export(self, exp: Experiment) -> dict[str, Any]:
        return await asyncio.to_thread(to_state, exp, True)

    async def import_(self, state: Any) -> tuple[Experiment, str]:
        upload = None
        if isinstance(state, dict) and isinstance(state.get("data"), dict):
            try:
                upload = UserData.from_json(state["data"])
            except (DataError, KeyError, TypeError) as exc:
                raise ExperimentError(f"the export's data: {exc}") from None
            ds_id = self.upload(upload)
            state = merge(state, {"config": {"dataset": {"name": "custom", "id": ds_id}}})
        elif isinstance(state, dict) and isinstance(state.get("config"), dict):
            upload = self._upload_of(state["config"])
        exp = await asyncio.to_thread(from_state, new_id(), state, upload, self.backend,
                                      self.limits)
        return await self._adopt(exp)

    async def share(self, exp: Experiment) -> str:
        share_id = new_short_id()
        state = await asyncio.to_thread(to_state, exp, True)
        await asyncio.to_thread(self.store.save_share, share_id, exp.id, state)
        return share_id

    def shared(self, share_id: str) -> Experiment:
        """A snapshot as a read-only experiment (kept for a few, since views ask often)."""
        exp = self.share_views.get(share_id)
        if exp is None:
            state = self.load_share(share_id)
            upload = UserData.from_json(state["data"]) if "data" in state else None
            exp = from_state(share_id, state, upload, self.backend, self.limits)
            exp.status = state.get("status", "paused")
            if len(self.share_views) >= 32:
                self.share_views.pop(next(iter(self.share_views)))
            self.share_views[share_id] = exp
        return exp

    def load_share(self, share_id: str) -> dict[str, Any]:
        state = self.store.load_share(share_id) if len(share_id) <= 64 else None
        if state is None:
            raise NotFound(f"no share {share_id!r}")
        return state

    async def fork(self, share_id: str) -> tuple[Experiment, str]:
        return await self.import_(self.load_share(share_id))


__all__ = ["Busy", "Forbidden", "NotFound", "Service", "ValidationError"]
