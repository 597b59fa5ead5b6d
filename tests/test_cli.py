"""`playground train` end to end, as a subprocess would run it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from backend.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_train_prints_json_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--config", str(ROOT / "examples/spiral.json"), "--epochs", "300",
                 "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["status"] == "trained" and result["epoch"] == 300
    assert result["metrics"]["test_accuracy"] >= 0.9


def test_train_prints_progress(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", str(ROOT / "examples/spiral.json"), "--epochs", "20"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("epoch     20")


def test_custom_data_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "points.csv").write_text("x1,x2,y\n" + "".join(
        f"{i % 7 - 3},{i % 5 - 2},{int(i % 7 > 3)}\n" for i in range(60)))
    config = {"dataset": {"name": "custom", "id": "local"}, "hidden_layers": [{"units": 4}]}
    (tmp_path / "c.json").write_text(json.dumps(config))
    args = ["train", "--config", str(tmp_path / "c.json"), "--epochs", "50", "--json"]
    assert main(args) == 2
    assert "--data" in capsys.readouterr().err
    assert main([*args, "--data", str(tmp_path / "points.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["train_accuracy"] > 0.8


@pytest.mark.parametrize(("content", "message"), [
    ("{", "is not JSON"),
    ('{"hidden_layers": [{"units": 0}]}', "hidden_layers.0.units"),
    ('{"optimizer": {"name": "adamw"}}', "unknown optimizer 'adamw'"),
])
def test_bad_configs_exit_2_with_the_reason(tmp_path: Path, content: str, message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["train", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_divergence_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {"problem": "regression", "dataset": {"name": "reg-plane"}, "batch_size": 1,
              "optimizer": {"name": "sgd", "learning_rate": 10}, "init": {"name": "normal",
                                                                       "scale": 10}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    assert main(["train", "--config", str(path), "--epochs", "100", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "diverged"


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_gpu_without_cupy_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", str(ROOT / "examples/spiral.json"), "--epochs", "1",
                 "--device", "gpu"]) == 2
    assert "CuPy" in capsys.readouterr().err
