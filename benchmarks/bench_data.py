"""The fetch stage: 20 submissions sharing 3 files, against each submission fetching its own.

Usage: python benchmarks/bench_data.py [--count 20] [--mb 8] [--latency 0.05]

Three files are served from 127.0.0.1 (``--latency`` seconds added before each
response stands in for a remote server). Side by side, in one run:

- baseline: every submission calls ``pooch.retrieve`` for its three files into
  a cache of its own, as each notebook would if it downloaded its data itself
  (``count`` x 3 downloads, read in the same chunk size as the fetch stage);
- the fetch stage, cold: ``fetch_inputs`` for all submissions with an empty
  data cache (each distinct file fetched once, in parallel, then verified);
- the fetch stage, all cached: again, with the server stopped (every file is
  hashed, none is requested).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import report

from codeml_repro.run.inputs.transfer import CHUNK


class _Server:
    def __init__(self, folder: Path, latency: float) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                time.sleep(latency)
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _submissions(folder: Path, count: int, files: dict[str, str], url: str) -> list[Any]:
    from codeml_repro.model.submission import Submission, SubmissionSpec

    data = [
        {"url": f"{url}/{name}", "sha256": digest, "path": f"data/{name}"} for name, digest in files.items()
    ]
    subs = []
    for i in range(count):
        spec = SubmissionSpec(title=f"Bench {i}", authors=[{"name": "Bench"}], artifact={"data": data})
        subs.append(Submission(f"bench-{i:03d}", folder / f"bench-{i:03d}", spec))
    return subs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--mb", type=int, default=8, help="size of each of the 3 files")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before each response")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codeml-bench-data-"))
    served = work / "served"
    served.mkdir()
    files = {}
    for i in range(3):
        blob = os.urandom(args.mb * 1024 * 1024)
        (served / f"file{i}.bin").write_bytes(blob)
        files[f"file{i}.bin"] = hashlib.sha256(blob).hexdigest()
    server = _Server(served, args.latency)
    import pooch

    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.run.inputs.fetch import fetch_inputs

    pooch.get_logger().setLevel("WARNING")
    subs = _submissions(work / "submissions", args.count, files, server.url)

    start = time.perf_counter()
    same_chunks = pooch.HTTPDownloader(chunk_size=CHUNK)  # as the fetch stage reads: only sharing differs
    for sub in subs:
        for name, digest in files.items():
            url, own = f"{server.url}/{name}", work / "own" / sub.slug
            pooch.retrieve(url, known_hash=f"sha256:{digest}", path=own, downloader=same_chunks)
    baseline = time.perf_counter() - start
    baseline_requests, server.requests = server.requests, 0

    policy = RunPolicy(allow_private_urls=True, cache=work / "cache")  # 127.0.0.1; the cache starts empty
    start = time.perf_counter()
    cold = fetch_inputs(subs, policy)
    cold_s = time.perf_counter() - start
    cold_requests = server.requests
    server.stop()

    start = time.perf_counter()
    cached = fetch_inputs(subs, policy)
    cached_s = time.perf_counter() - start
    assert not cold.failures and not cached.failures, (cold.failures, cached.failures)

    rows = {
        f"{args.count} x 3 independent pooch.retrieve": baseline,
        "fetch stage, cold cache": cold_s,
        "fetch stage, all cached (server stopped)": cached_s,
    }
    report(f"{args.count} submissions sharing 3 files of {args.mb} MiB, latency {args.latency} s", rows,
           f"{args.count} x 3 independent pooch.retrieve")
    print(f"  downloads: independent {baseline_requests}, fetch stage {cold_requests}, all cached 0")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
