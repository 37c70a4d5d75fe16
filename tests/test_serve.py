"""The documented run command (`make run`: nginx in front of gunicorn) on free ports, with real
sockets. Issue 14 items 2 and 6: 200 idle and 200 slow-header connections do not keep /health
from answering within 1 s; the front serves /static with long caching and gzip and answers repeat
requests from its cache keyed by URL and encoding; a HUP reloads the data without dropping a
request; gunicorn opens no control socket."""
from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from geoapp import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict | None = None, timeout: float = 10):
    """(status, headers, body) without raising on 3xx/4xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class Served:
    def __init__(self, port: int, run_dir: Path, process: subprocess.Popen, log: Path, home: Path):
        self.port, self.run_dir, self.process, self.log, self.home = port, run_dir, process, log, home
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`make run` on a free port with a data copy (so a test can change it) and its own HOME."""
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix="atlas-test-run-"))  # under /tmp: nginx's workers reach it
    run_dir.chmod(0o755)
    work = tmp_path_factory.mktemp("serve")
    data = work / "data"
    shutil.copytree(DATA_DIR, data)
    home = work / "home"
    home.mkdir()
    log = work / "make-run.log"
    env = {**os.environ, "ATLAS_DATA_DIR": str(data), "ATLAS_TILES": "none", "HOME": str(home)}
    with open(log, "wb") as out:
        process = subprocess.Popen(["make", "-s", "run", f"PORT={port}", "HOST=127.0.0.1",
                                    f"RUN_DIR={run_dir}"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Served(port, run_dir, process, log, home)
    server.data = data
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                if get(server.url + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("make run did not serve /health in 240 s:\n" + log.read_text(errors="replace"))
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the session started above: make, launcher, servers
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_make_run_puts_nginx_in_front(served):
    status, headers, body = get(served.url + "/health")
    assert status == 200 and headers["Server"].startswith("nginx")
    assert (served.run_dir / "nginx.conf").exists() and (served.run_dir / "gunicorn.sock").is_socket()


def test_200_idle_and_slow_header_connections_do_not_block_health(served):
    held = []
    try:
        for _ in range(200):  # connect and say nothing
            held.append(socket.create_connection(("127.0.0.1", served.port), timeout=5))
        for i in range(200):  # start a request and never finish its headers
            s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
            s.sendall(f"GET /stats?n={i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
            held.append(s)
        answered = []
        for _ in range(20):
            started = time.monotonic()
            status, _, body = get(served.url + "/health", timeout=1)  # raises after 1 s
            answered.append((status, time.monotonic() - started))
            assert body == b'{"status":"ok"}\n'
            time.sleep(0.1)
        assert all(status == 200 and seconds < 1 for status, seconds in answered), answered
        # the data routes answer too, not only /health
        assert get(served.url + "/api/layers", timeout=5)[0] == 200
    finally:
        for s in held:
            s.close()


def test_concurrent_health_checks_do_not_queue_behind_each_other(served):
    """/health is no-store; through the cache lock, concurrent requests for it waited for each
    other in 0.5 s steps (18 s under load). It bypasses the front cache."""
    from concurrent.futures import ThreadPoolExecutor

    def timed(_):
        started = time.monotonic()
        status = get(served.url + "/health", timeout=5)[0]
        return status, time.monotonic() - started

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(timed, range(48)))
    assert all(status == 200 for status, _ in results)
    assert max(seconds for _, seconds in results) < 1, sorted(s for _, s in results)[-5:]


def test_static_is_served_by_the_front_long_cached_and_compressed(served):
    page = get(served.url + "/stats")[2].decode()
    href = re.search(r'href="(/static/stats\.css\?v=[0-9a-f]{12})"', page).group(1)
    status, headers, body = get(served.url + href, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Encoding"] == "gzip" and headers["ETag"]
    assert headers["X-Content-Type-Options"] == "nosniff" and "default-src" in headers["Content-Security-Policy"]
    assert gzip.decompress(body) == (ROOT / "geoapp/web/static/stats.css").read_bytes()
    assert "X-Cache" not in headers  # from disk, not through the app
    assert get(served.url + href, {"If-None-Match": headers["ETag"], "Accept-Encoding": "gzip"})[0] == 304
    assert get(served.url + "/static/stats.css")[1]["Cache-Control"] == "public, max-age=300"


def test_repeat_requests_come_from_the_front_cache_per_encoding(served):
    url = served.url + "/ogc/collections/cities/items?limit=3&offset=2"
    first = get(url, {"Accept-Encoding": "gzip"})
    second = get(url, {"Accept-Encoding": "gzip, deflate, br"})  # another spelling, same encoding
    plain = get(url)
    plain_again = get(url)
    assert [first[1]["X-Cache"], second[1]["X-Cache"], plain[1]["X-Cache"], plain_again[1]["X-Cache"]] \
        == ["MISS", "HIT", "MISS", "HIT"]
    assert first[1]["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain[1]
    assert gzip.decompress(second[2]) == plain[2] == plain_again[2]
    assert plain[1]["ETag"] != first[1]["ETag"]
    # a client that has it gets 304 from the front
    assert get(url, {"If-None-Match": plain[1]["ETag"]})[0] == 304
    # health is never cached
    assert "HIT" not in {get(served.url + "/health")[1]["X-Cache"] for _ in range(3)}


def test_the_front_cache_keeps_html_and_json_answers_apart(served):
    url = served.url + "/ogc/collections/cities"
    as_json = get(url, {"Accept": "application/json"})
    as_html = get(url, {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    again_json = get(url, {"Accept": "application/json"})
    assert as_json[1]["Content-Type"].startswith("application/json")
    assert as_html[1]["Content-Type"].startswith("text/html")
    assert again_json[1]["X-Cache"] == "HIT" and again_json[2] == as_json[2]


def test_no_control_socket_in_home(served):
    assert not (served.home / ".gunicorn").exists()
    assert not any(p.suffix == ".ctl" for p in served.run_dir.rglob("*"))


def test_hup_reloads_the_data_without_dropping_requests(served):
    """README: data updates by `kill -HUP $(cat RUN_DIR/gunicorn.pid)`."""
    csv = served.data / "parks" / "high_tech_zones.csv"
    old = "Shenyang High-Tech Industrial Development Zone"
    assert old in csv.read_text(encoding="utf-8")
    csv.write_text(csv.read_text(encoding="utf-8").replace(old, old + " (reloaded)"), encoding="utf-8")

    errors, done, count = [], threading.Event(), [0]

    def load():  # keep requests in flight through the reload (uncached URLs: a counter in bbox)
        n = 0
        while not done.is_set():
            n += 1
            url = f"{served.url}/ogc/collections/cities/items?limit=2&bbox=118,38,126,{44 + n / 1e6}"
            try:  # requests wait (queued, not dropped) while the new workers load the data
                status = get(url, timeout=90)[0]
                if status != 200:
                    errors.append(status)
            except OSError as error:
                errors.append(repr(error))
            count[0] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        master = int((served.run_dir / "gunicorn.pid").read_text())
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + 180
        found = False
        while time.monotonic() < deadline and not found:
            body = get(f"{served.url}/ogc/collections/high_tech_zones/items?limit=20&offset=0"
                       f"&bbox=118,38,126,{46 + time.monotonic() / 1e9}", timeout=90)[2].decode()
            found = "(reloaded)" in body
            time.sleep(1)
        time.sleep(1)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert found, "the changed name was not served after HUP"
    assert errors == [] and count[0] > 20, (errors[:5], count[0])
