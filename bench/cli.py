"""What a new user feels from the command line: start-up, a server that is down, a taken port.

python -m bench.cli [--runs 10] [--models 20]

* ``modeldepot models list`` against a running server (with ``--models`` models): wall
  time and CPU time of each run, next to ``python -c pass`` (the interpreter's own
  floor, and a gauge of how loaded the machine is), and the heavy modules it imports;
* the time ``modeldepot models list`` takes to fail when no server listens;
* what ``modeldepot serve`` prints, and how long it takes to exit, on a taken port.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.server import BenchServer, free_port, percentile

MODELDEPOT = shutil.which("modeldepot") or "modeldepot"
# Modules a read command has no use for; the first three are what made it slow.
HEAVY = ("httpx", "rich", "pygments", "numpy", "sqlalchemy", "fastapi", "uvicorn")
WHICH_IMPORTED = """
import sys
sys.argv = ["modeldepot", "models", "list"]
from modeldepot.cli.main import main
try:
    main()
except SystemExit:
    pass
heavy = {heavy!r}
print("IMPORTED", ",".join(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
print("MODULES", len(sys.modules))
"""


def timed(
    argv: list[str], env: dict[str, str]
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the child, result) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(percentile(values, 50), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--models", type=int, default=20)
    args = parser.parse_args()
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="md-bench-cli-") as tmp:
        root = Path(tmp)
        server = BenchServer(root / "data")
        try:
            env = dict(os.environ, MODELDEPOT_URL=server.url, MODELDEPOT_CACHE_DIR=str(root / "c"))
            for i in range(args.models):
                subprocess.run(
                    [MODELDEPOT, "models", "create", f"bench/m{i}", "-d", f"model {i}"],
                    env=env,
                    capture_output=True,
                    check=True,
                )
            floor_wall, floor_cpu, listing_wall, listing_cpu = [], [], [], []
            for _ in range(args.runs):
                wall, cpu, _ = timed([sys.executable, "-c", "pass"], env)
                floor_wall.append(wall)
                floor_cpu.append(cpu)
                wall, cpu, result = timed([MODELDEPOT, "models", "list"], env)
                assert result.returncode == 0, result.stderr
                listing_wall.append(wall)
                listing_cpu.append(cpu)
            probe = subprocess.run(
                [sys.executable, "-c", WHICH_IMPORTED.format(heavy=HEAVY)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found = dict(line.split(" ", 1) for line in probe.splitlines() if " " in line)
            report["models_list"] = {
                "wall_s": summary(listing_wall),
                "cpu_s": summary(listing_cpu),
                "heavy_modules_imported": [m for m in found.get("IMPORTED", "").split(",") if m],
                "modules_imported": int(found.get("MODULES", "0")),
            }
            report["python_c_pass"] = {"wall_s": summary(floor_wall), "cpu_s": summary(floor_cpu)}

            down = dict(env, MODELDEPOT_URL=f"http://127.0.0.1:{free_port()}")
            wall, _, result = timed([MODELDEPOT, "models", "list"], down)
            report["server_down"] = {
                "seconds_to_fail": round(wall, 3),
                "exit_status": result.returncode,
                "stderr": result.stderr.strip(),
            }

            wall, _, result = timed(
                [MODELDEPOT, "serve", "--port", str(server.port), "--data-dir", str(root / "d2")],
                env,
            )
            report["serve_on_taken_port"] = {
                "seconds_to_exit": round(wall, 3),
                "exit_status": result.returncode,
                "output": (result.stdout + result.stderr).strip().splitlines(),
            }
        finally:
            server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
