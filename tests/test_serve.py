"""The documented run command (`make run`: nginx in front of gunicorn) on free ports, with real
sockets. Issue 14 items 2 and 6: 200 idle and 200 slow-header connections do not keep /health
from answering within 1 s; the front serves /static with long caching and gzip and answers repeat
requests from its cache keyed by URL, encoding and the representation asked for (Accept reduced
to the few the app serves); `make reload` switches to new data with no failed or stalled request
(a second gunicorn, nginx reloaded once it is ready) and keeps serving when the new data is
broken; gunicorn opens no control socket; a killed test run leaves no nginx or gunicorn behind."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from geoapp import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
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

    def state(self) -> dict:
        return json.loads((self.run_dir / "serve.json").read_text(encoding="utf-8"))


def start_make_run(port: int, run_dir: Path, env: dict, log: Path) -> subprocess.Popen:
    """`make run` as the tests start it: in its own session (so the fixture can stop the whole
    group), and with SIGTERM to make when this process dies, even by SIGKILL (PR_SET_PDEATHSIG);
    make runs geoapp.serve with --die-with-parent, which stops nginx and gunicorn. A killed pytest
    leaves no servers behind (test_a_killed_test_run_leaves_no_servers)."""
    from geoapp.serve import die_with_parent
    with open(log, "wb") as out:
        return subprocess.Popen(["make", "-s", "run", f"PORT={port}", "HOST=127.0.0.1", f"RUN_DIR={run_dir}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent)


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if get(url + "/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"make run did not serve /health in {timeout:g} s:\n" + log.read_text(errors="replace"))


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
    process = start_make_run(port, run_dir, env, log)
    server = Served(port, run_dir, process, log, home)
    server.data, server.env = data, env
    try:
        wait_for_health(server.url, process, log)
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
    state = served.state()
    assert (served.run_dir / "nginx.conf").exists() and Path(state["socket"]).is_socket()
    assert f"unix:{state['socket']} " in (served.run_dir / "upstream.conf").read_text()
    assert int((served.run_dir / "gunicorn.pid").read_text()) == state["gunicorn_pid"]


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
    # the images Leaflet's CSS loads are versioned in the CSS text (scripts/version_css_urls.py)
    css = get(served.url + re.search(r'href="(/static/vendor/leaflet-[^"]+/leaflet\.css\?v=\w+)"',
                                     get(served.url + "/")[2].decode()).group(1))[2].decode()
    image = re.search(r"url\((images/layers\.png\?v=[0-9a-f]{12})\)", css).group(1)
    status, headers, body = get(served.url + "/static/vendor/leaflet-1.9.4/" + image)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"


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


def test_origins_share_one_front_cache_entry_with_cors_for_every_origin(served):
    """ATLAS_CORS_ORIGINS=* (make run's default): every Origin gets the same answer (Allow-Origin *),
    so the cache key tells only an Origin from none (geoapp.serve.origin_map), not one per origin."""
    url = served.url + "/ogc/collections/cities/items?limit=2&offset=4"
    answers = [get(url, {"Origin": origin}) for origin in
               ("https://gis.example.org", "http://localhost:8080", "null")]
    assert [a[1]["X-Cache"] for a in answers] == ["MISS", "HIT", "HIT"]
    assert {a[1]["Access-Control-Allow-Origin"] for a in answers} == {"*"}
    assert len({a[2] for a in answers}) == 1
    plain = [get(url), get(url)]  # no Origin: its own entry, without CORS headers
    assert [p[1]["X-Cache"] for p in plain] == ["MISS", "HIT"]
    assert all("Access-Control-Allow-Origin" not in p[1] for p in plain)
    assert plain[0][2] == answers[0][2]


def test_no_control_socket_in_home(served):
    assert not (served.home / ".gunicorn").exists()
    assert not any(p.suffix == ".ctl" for p in served.run_dir.rglob("*"))


# Accept headers of browsers, curl/fetch/requests, GDAL, QGIS, OWSLib and odd ones
ACCEPTS = [
    None, "*/*",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html",
    "application/json", "application/geo+json", "application/schema+json",
    "application/schema+json, application/json", "application/geo+json, application/json",
    "application/json, */*", "application/geo+json, application/json;q=0.9, */*;q=0.8",
    "text/html, application/json;q=0.9", "application/json;q=0.5, text/html", "image/png",
    "application/xml, */*", "application/*", "text/*", "Application/JSON", "nonsense",
]


def test_the_front_sends_the_app_one_of_a_few_accept_values_and_answers_as_the_app_would(served, client):
    """The cache key's Accept part is what the app is sent: one of the five representations it
    chooses between. For the headers real clients send, the answer through the front has the
    type the app itself gives for the raw header (OGC HTML or JSON, queryables as JSON Schema or
    JSON, error page as HTML or JSON)."""
    for accept in ACCEPTS:
        headers = {"Accept": accept} if accept is not None else {}
        for path in ("/ogc/collections/cities", "/ogc/collections/cities/queryables", "/stats?industry=nope"):
            direct = client.get(path, headers=headers)
            status, answer, _ = get(served.url + path, headers)
            assert (status, answer["Content-Type"].split(";")[0]) == (direct.status_code, direct.mimetype), \
                (accept, path)


def test_accept_variants_do_not_fragment_the_front_cache(served):
    url = served.url + "/ogc/collections/districts"
    browsers = ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
                "text/html, */*", "text/html;level=1, application/xhtml+xml, x-attacker/%d" % time.time_ns()]
    json_clients = ["application/json", "application/json, application/geo+json", "Application/JSON",
                    "image/png", "x-attacker/%d" % time.time_ns()]
    for variants, media in ((browsers, "text/html"), (json_clients, "application/json")):
        answers = [get(url, {"Accept": accept}) for accept in variants]
        assert [a[1]["X-Cache"] for a in answers] == ["MISS"] + ["HIT"] * (len(variants) - 1), variants
        assert {a[1]["Content-Type"].split(";")[0] for a in answers} == {media}
        assert len({a[2] for a in answers}) == 1
    # two Accept headers: the app sees only the normalised one, so the entry is the app's answer to it
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(b"GET /ogc/collections/districts HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n"
                  b"Accept: text/html\r\nConnection: close\r\n\r\n" % served.port)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert b"X-Cache: HIT" in reply and b"Content-Type: application/json" in reply


def _load_until(done: threading.Event, url_of, results: list) -> None:
    """Requests in a loop (each URL new, so none is answered from the front cache): (status or
    error, seconds). A request that waits more than 10 s fails (timeout)."""
    n = 0
    while not done.is_set():
        n += 1
        started = time.monotonic()
        try:
            outcome = get(url_of(n), timeout=10)[0]
        except OSError as error:
            outcome = repr(error)
        results.append((outcome, time.monotonic() - started))


def _access_log(run_dir: Path) -> list[dict]:
    rows = []
    for line in (run_dir / "access.log").read_text(errors="replace").splitlines():
        fields = dict(re.findall(r"(\w+)=(\S+)", line.split('" ', 2)[-1]))
        if "end" in fields:
            rows.append({"path": line.split('"')[1].split(" ")[1], **fields})
    return rows


def test_make_reload_switches_to_new_data_without_a_failed_or_stalled_request(served):
    """`make reload` starts a second gunicorn, which loads the changed data while the first keeps
    serving; nginx is switched to it once all its workers have loaded the app. No request fails,
    none waits (a 10 s timeout per request is the failure mode, not a measure), and every request
    the new gunicorn answered reached it after its workers were ready (nginx's access log)."""
    csv = served.data / "parks" / "high_tech_zones.csv"
    old = "Shenyang High-Tech Industrial Development Zone"
    assert old in csv.read_text(encoding="utf-8")
    csv.write_text(csv.read_text(encoding="utf-8").replace(old, old + " (reloaded)"), encoding="utf-8")
    before = served.state()

    done, results, began = threading.Event(), [], time.time()
    threads = [threading.Thread(target=_load_until, args=(done, lambda n, k=k: (
        f"{served.url}/ogc/collections/cities/items?limit=2&bbox=118,38,126,{44 + k / 10 + n / 1e7:.7f}"),
        results)) for k in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        reload = subprocess.run(["make", "-s", "reload", f"RUN_DIR={served.run_dir}"], cwd=ROOT, env=served.env,
                                capture_output=True, text=True, timeout=600)
        # when make reload returns, nginx sends to the new gunicorn: no waiting for the new name
        body = get(f"{served.url}/ogc/collections/high_tech_zones/items?limit=20&bbox=118,38,126,46.5",
                   timeout=30)[2].decode()
        time.sleep(1)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert reload.returncode == 0, reload.stdout + reload.stderr
    assert "reloaded: serving gunicorn" in reload.stdout
    assert "(reloaded)" in body
    after = served.state()
    assert after["generation"] == before["generation"] + 1 and after["reloads"][-1]["ok"]
    assert not Path(f"/proc/{before['gunicorn_pid']}").exists() or \
        Path(f"/proc/{before['gunicorn_pid']}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not Path(before["socket"]).exists()
    failed = [r for r in results if r[0] != 200]
    assert failed == [] and len(results) > 20, (failed[:5], len(results))
    print(f"{len(results)} requests during the reload test, slowest {max(s for _, s in results):.2f} s")

    time.sleep(3)  # nginx writes its access log every 2 s
    ready = max(p.stat().st_mtime for p in Path(served.run_dir, f"ready-{after['generation']}").iterdir())
    new_socket, old_socket = f"unix:{after['socket']}", f"unix:{before['socket']}"
    items = [r for r in _access_log(served.run_dir) if r["path"].startswith("/ogc/collections/cities/items?limit=2&")
             and float(r["end"]) >= began]
    by_new = [r for r in items if r["up_addr"] == new_socket]
    assert by_new and any(r["up_addr"] == old_socket for r in items)  # both sides of the switch
    assert all(float(r["end"]) - float(r["rt"]) >= ready - 0.01 for r in by_new)


def test_a_reload_with_broken_data_keeps_serving_the_old_data(served):
    """Without `make check` first (kill -HUP, or the reload command itself): the new gunicorn
    refuses the data and exits, nothing is switched, the old gunicorn keeps serving."""
    csv = served.data / "parks" / "high_tech_zones.csv"
    good = csv.read_text(encoding="utf-8")
    before = served.state()
    assert ",123.443612,41.712511," in good
    csv.write_text(good.replace(",123.443612,41.712511,", ",323.443612,41.712511,"), encoding="utf-8")
    try:
        reload = subprocess.run([sys.executable, "-m", "geoapp.serve", "--reload", "--run-dir", str(served.run_dir)],
                                cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=600)
    finally:
        csv.write_text(good, encoding="utf-8")
    assert reload.returncode == 1 and "reload failed, still serving" in reload.stderr, reload.stdout + reload.stderr
    after = served.state()
    assert (after["generation"], after["gunicorn_pid"]) == (before["generation"], before["gunicorn_pid"])
    assert get(served.url + "/health")[0] == 200
    assert "problem(s) in the data" in served.log.read_text(errors="replace")


def _process_tree(root: int) -> dict[int, tuple[str, str]]:
    """Descendants of root: pid -> (start time, command line), from /proc."""
    parents, info = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
                info[int(entry.name)] = (fields[19], (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, IndexError, ValueError):
                pass
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree[child] = info[child]
                todo.append(child)
    return tree


def _alive(pid: int, started: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == started and fields[0] != "Z"


def test_a_killed_test_run_leaves_no_servers(tmp_path):
    """A process that starts `make run` as the fixture does, killed with SIGKILL (no teardown runs):
    make, geoapp.serve, nginx and gunicorn with all their workers are gone soon after."""
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix="atlas-test-run-"))
    run_dir.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "make-run.log"
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(TESTS)!r}, {str(ROOT)!r}]
        from pathlib import Path
        from test_serve import start_make_run
        start_make_run({port}, Path({str(run_dir)!r}), {{**__import__("os").environ}}, Path({str(log)!r}))
        time.sleep(3600)
    """), encoding="utf-8")
    env = {**os.environ, "ATLAS_TILES": "none", "HOME": str(home)}
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, start_new_session=True)
    tree = {}
    try:
        wait_for_health(f"http://127.0.0.1:{port}", parent, log)
        tree = _process_tree(parent.pid)
        commands = " | ".join(command for _, command in tree.values())
        assert "make" in commands and "geoapp.serve" in commands and "nginx: worker process" in commands
        assert sum("gunicorn" in command for _, command in tree.values()) == 3, commands  # master + 2 workers
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(_alive(pid, started) for pid, (started, _) in tree.items()):
            time.sleep(0.5)
        left = {pid: command for pid, (started, command) in tree.items() if _alive(pid, started)}
        assert left == {}, left
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid, (started, _) in tree.items():  # only what this test started, by pid
            if _alive(pid, started):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)
