"""The ``server`` fixture: one real webui per host named in the environment (see a1111_hosts.py)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from a1111_hosts import (
    READS_YAML,
    STARTUP_TIMEOUT_S,
    free_port,
    host_params,
    install_copy,
    install_forge_standin,
    launch_args,
    link_models,
    model_folder,
    request_ok,
    version,
)


@pytest.fixture(scope="session", params=host_params())
def server(request, tmp_path_factory):
    host, var, path, python = request.param
    if not (path / "launch.py").is_file():
        pytest.skip(f"{var}={path} is not a webui checkout (no launch.py)")
    if not python.is_file():
        pytest.skip(f"no Python for {var}: set {var.replace('_PATH', '_PYTHON')} (tried {python})")
    data_dir = tmp_path_factory.mktemp(f"{host}-data")
    install_copy(data_dir)
    # no live previews: reForge downloads its "Approx NN" preview model on the first generation
    (data_dir / "config.json").write_text(json.dumps({"live_previews_enable": False}))
    models = model_folder()
    checkpoint = link_models(models, data_dir, host) if models is not None else None
    standin = checkpoint is not None and (host in READS_YAML or install_forge_standin(models, data_dir))
    # one thread: on a shared CPU torch's thread pool slows a small model down by 10x or more
    env = {"OMP_NUM_THREADS": "1", **os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    env.pop("COMMANDLINE_ARGS", None)
    if models is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(models), env.get("PYTHONPATH", "")]))
        if (models / "hf-home").is_dir():
            env["HF_HOME"] = str(models / "hf-home")
    port = free_port()
    log_path = data_dir / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(launch_args(python, host, port, data_dir, checkpoint), cwd=path, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited ({process.returncode}):\n{log_path.read_text()[-4000:]}")
            try:
                if request_ok(base + "/sdapi/v1/samplers"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no API after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()[-4000:]}")
            time.sleep(2)
        startup = next((line for line in log_path.read_text().splitlines() if line.startswith("Startup time")), "?")
        print(f"\n{var}: {path} {version(path, host)}; {startup}; checkpoint {checkpoint}")
        yield {"host": host, "var": var, "base": base, "path": path, "python": python, "data_dir": data_dir, "env": env,
               "log": log_path, "checkpoint": checkpoint, "standin": standin}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


