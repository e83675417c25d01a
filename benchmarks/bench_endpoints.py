"""EndpointBackend client overhead against a fixed-latency local server.

Starts ``tests/openai_stub.py`` (raw asyncio, 100 ms per request) in a subprocess and sends 2,000
chat requests at concurrency 64 through ``EndpointBackend``. Prints the achieved throughput, the
ideal one (64 / 0.1 s = 640 req/s), their ratio (target >= 0.85) and the client's CPU time per
request (target <= 1 ms). Exit status 1 when a target is missed.

    python benchmarks/bench_endpoints.py [--requests 2000] [--concurrency 64] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "tests" / "openai_stub.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_stub(port: int, latency: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(STUB), "--port", str(port), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise SystemExit(f"stub server did not start (got {line!r})")
    return proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--progress", action="store_true", help="show the tqdm bar (as the CLI does)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.pop("HF_HUB_OFFLINE", None)  # offline mode makes huggingface_hub refuse loopback

    from mijabench.run.endpoints import EndpointBackend
    from mijabench.run.types import GenParams

    port = free_port()
    proc = start_stub(port, args.latency)
    try:
        backend = EndpointBackend([f"http://127.0.0.1:{port}"], model="stub-model",
                                  concurrency=args.concurrency)
        backend.check()
        backend.generate([f"warm-up {i}" for i in range(args.concurrency)], GenParams(), progress=False)
        prompts = [f"benchmark prompt {i}" for i in range(args.requests)]
        server0, cpu0, t0 = cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
        out = backend.generate(prompts, GenParams(max_new_tokens=16), progress=args.progress)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        server_cpu = cpu_seconds(proc.pid) - server0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    errors = sum(1 for g in out if g.error)
    achieved = args.requests / wall
    ideal = args.concurrency / args.latency
    ratio = achieved / ideal
    overhead_ms = 1000 * cpu / args.requests
    wall_overhead_ms = 1000 * max(0.0, wall * args.concurrency / args.requests - args.latency)
    print(f"requests            {args.requests} at concurrency {args.concurrency}, "
          f"server latency {args.latency * 1000:.0f} ms, errors {errors}")
    print(f"wall time           {wall:.2f} s")
    print(f"achieved throughput {achieved:.1f} req/s")
    print(f"ideal throughput    {ideal:.1f} req/s")
    print(f"ratio               {ratio:.3f}  (target >= 0.85)")
    print(f"client CPU/request  {overhead_ms:.3f} ms  (target <= 1 ms)")
    print(f"added latency/req   {wall_overhead_ms:.2f} ms  (wall time above the server's latency)")
    print(f"server CPU/request  {1000 * server_cpu / args.requests:.3f} ms  (the stub, for context); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = ratio >= 0.85 and overhead_ms <= 1.0 and errors == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
