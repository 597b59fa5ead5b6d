"""Server settings, from the environment (PLAYGROUND_*) or the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.cpus import available_cpus
from backend.experiments.limits import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAYGROUND_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("data")
    device: Literal["cpu", "gpu", "auto"] = "cpu"

    trusted_proxies: str = Field(
        "", description="comma-separated addresses of reverse proxies whose X-Forwarded-For "
                        "is believed; empty: the peer's own address, always")

    # Past one machine (docs/cluster.md): replicas share a PostgreSQL database; training
    # runs on a Ray cluster.
    database_url: str = Field(
        "", description="the database: empty for SQLite in the data directory "
                        "(sqlite:///PATH for another file); postgresql://USER@HOST:PORT/DB "
                        "for PostgreSQL, which API replicas share")
    cluster: Literal["local", "ray"] = Field(
        "local", description="where training runs: processes of this server (workers) or "
                             "actors of a Ray cluster (ray_address)")
    ray_address: str = Field(
        "auto", description="the Ray cluster to join when cluster=ray: its head's HOST:PORT, "
                            "or auto (RAY_ADDRESS, else the cluster started on this machine)")
    replica_url: str = Field(
        "", description="where the other API replicas reach this one (PostgreSQL only); "
                        "empty: http://HOST:PORT of this server")
    replica_ttl: float = Field(
        5.0, gt=0, le=300, description="seconds without a heartbeat after which a replica "
                                       "counts as gone and the others take over its work")

    workers: int = Field(
        default_factory=lambda: available_cpus(), ge=0, le=256,
        description="training processes (default: one per CPU this process may use: its "
                    "affinity, within a container's CPU quota); 0 trains in a thread of the "
                    "server process")
    frame_rate: float = Field(30.0, gt=0, le=120, description="frames per second per viewer")
    min_frame_rate: float = Field(
        10.0, gt=0, le=120, description="frames per second per viewer under load, at least")
    grid_resolution: int = Field(100, ge=10, le=400, description="output grid, per side")
    neuron_resolution: int = Field(25, ge=5, le=100, description="neuron grids, per side")
    max_grid_resolution: int = Field(200, ge=10, le=1000)
    max_grid_values: int = Field(
        500_000, ge=1_000, description="values in one /boundary answer (resolution^2 x units)")
    save_interval: float = Field(3.0, gt=0, description="seconds between saves while running")
    save_rate: float = Field(
        20.0, gt=0, description="saves a second of running experiments, all of them together, "
                                "at most: with more than save_interval x this many running, "
                                "each saves less often")
    idle_stop: float = Field(300.0, gt=0, description="stop training nobody watches after this")

    # Storage: nobody has an account, so every experiment is anonymous; these bound the disk.
    retention_days: float = Field(
        90.0, ge=0, description="experiments unchanged this long are deleted; 0: keep all")
    max_experiments: int = Field(100_000, ge=1, description="experiments stored at most")
    max_classes: int = Field(10_000, ge=1, description="classes stored at most")
    max_students: int = Field(300, ge=1, le=10_000, description="students per class")

    max_layers: int = Field(12, ge=1, le=64)
    max_units: int = Field(64, ge=1, le=1024, description="units of a dense layer on 2-D "
                           "points, and filters of a conv layer")
    max_image_units: int = Field(128, ge=1, le=4096, description="units of a dense layer in "
                                 "an image network (the page draws no neuron of those)")
    max_samples: int = Field(10_000, ge=10, le=1_000_000)
    max_params: int = Field(1_000_000, ge=1_000, description="trainable parameters of one "
                                                             "network (conv nets grow fast)")
    max_pass_mults: int = Field(
        10_000_000_000, ge=1_000_000, description="multiply-adds of one forward pass over "
        "all the data (examples x the network's per example): about 0.5 s on one core; an "
        "epoch ends with one, which holds the experiments sharing its training process")
    max_images: int = Field(10_000, ge=10, le=70_000, description="images in one upload")
    max_image_values: int = Field(8_000_000, ge=1_000, description="pixels in one upload "
                                  "(images x channels x height x width): 10 000 MNIST digits")
    max_epochs_per_call: int = Field(100_000, ge=1)
    max_wait_epochs: int = Field(20_000, ge=1, description="epochs a train call may wait for")
    max_wait_seconds: float = Field(
        60.0, gt=0, description="longest a step or a train with wait holds its request")
    request_timeout: float = Field(
        90.0, gt=0, description="longest an HTTP request may take, body included (503)")
    evict_after: float = Field(
        600.0, gt=0, description="seconds an experiment nobody uses stays in memory")
    max_predict_points: int = Field(10_000, ge=1)
    max_upload_bytes: int = Field(2_000_000, ge=1_000)
    max_import_bytes: int = Field(
        64_000_000, ge=1_000, description="an import's body: an export of the largest "
        "network allowed (1 000 000 parameters, Adam's two slots) is about 61 MB")
    max_running: int = Field(64, ge=1, description="experiments training at once per server")
    # A class behind one school address shares these two: raise them for such a server.
    max_running_per_client: int = Field(16, ge=1, description="running, per client address")
    max_viewers: int = Field(50, ge=1, description="websocket viewers per experiment")
    max_sockets_per_client: int = Field(100, ge=1, description="websockets per address")
    max_message_bytes: int = Field(65_536, ge=1_024, description="largest websocket message in")

    @model_validator(mode="after")
    def _database_known(self) -> Settings:
        if self.database_url and not self.database_url.startswith(
                ("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("database_url must be empty (SQLite in data_dir), sqlite:///PATH "
                             "or postgresql://USER@HOST:PORT/DB")
        return self

    @property
    def shared(self) -> bool:
        """Replicas share the database (PostgreSQL) and coordinate through it."""
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @model_validator(mode="after")
    def _waits_fit(self) -> Settings:
        if self.request_timeout <= self.max_wait_seconds:
            raise ValueError("request_timeout must exceed max_wait_seconds (a step or a "
                             "train with wait holds its request that long)")
        return self

    def server_options(self) -> dict[str, Any]:
        """uvicorn's options that follow from the settings (serve and the tests use them).
        uvicorn believes X-Forwarded-For from 127.0.0.1 by default, which let anyone on
        the machine pose as any address and slip past the per-address limits."""
        return {"host": self.host, "port": self.port, "ws_max_size": 1 << 20,
                # No per-message deflate: it cost more CPU than it saved bytes.
                "ws_per_message_deflate": False, "timeout_graceful_shutdown": 5,
                "proxy_headers": bool(self.trusted_proxies),
                "forwarded_allow_ips": self.trusted_proxies or None}

    @property
    def limits(self) -> Limits:
        return Limits(max_layers=self.max_layers, max_units=self.max_units,
                      max_image_units=self.max_image_units,
                      max_samples=self.max_samples, max_epochs_per_call=self.max_epochs_per_call,
                      max_params=self.max_params, max_pass_mults=self.max_pass_mults)
