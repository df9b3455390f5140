"""The fetcher: a data directory is used as is, downloads are checked against the pinned sha256."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from sulfml.data import sources
from sulfml.data.sources import DataSourceError, resolve_data_dir, source_files


class _Server:
    """Serve `<commit>/<path>` from a folder laid out as `<source>/<file>`, on 127.0.0.1."""

    def __init__(self, root: Path):
        by_url = {f"/{f.commit}/{f.path}": root / f.relpath for f in source_files()}
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                requests.append(self.path)
                path = by_url.get(self.path)
                if path is None or not path.exists():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(root: Path) -> _Server:
        servers.append(_Server(root))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_pins_cover_every_source():
    names = {f.source for f in source_files()}
    assert names == {"obelix", "liverpool", "laskowski"}
    assert all(len(f.sha256) == 64 and len(f.commit) == 40 for f in source_files())
    assert source_files("obelix")[0].url("http://h").startswith("http://h/4eaac889")


def test_download_from_mirror_on_localhost(mirror_dir, serve, tmp_path):
    server = serve(mirror_dir)
    root = resolve_data_dir(None, url_base=server.url, progress=False)
    assert root == tmp_path / "cache" / "datasets"
    for f in source_files():
        assert sources.sha256_of(root / f.relpath) == f.sha256
    assert len(server.requests) == len(source_files())
    # a second call finds everything in the cache and downloads nothing
    resolve_data_dir(None, url_base=server.url, progress=False)
    assert len(server.requests) == len(source_files())


def test_download_checksum_mismatch_names_the_file(mirror_dir, serve, tmp_path):
    fake = tmp_path / "fake"
    for f in source_files():
        (fake / f.relpath).parent.mkdir(parents=True, exist_ok=True)
        (fake / f.relpath).write_bytes((mirror_dir / f.relpath).read_bytes())
    (fake / "liverpool" / "LiIonDatabase.csv").write_text("ID,composition\n1,Li2O\n")
    server = serve(fake)
    with pytest.raises(DataSourceError, match="sha256 mismatch for liverpool/LiIonDatabase.csv"):
        resolve_data_dir(None, url_base=server.url, progress=False)
    # the corrupt file is not left in the cache
    assert not (tmp_path / "cache" / "datasets" / "liverpool" / "LiIonDatabase.csv").exists()


def test_unreachable_host_is_a_clear_error():
    from sulfml.errors import DataUnavailableError

    with pytest.raises(DataUnavailableError, match="cannot download") as caught:
        resolve_data_dir(None, url_base="http://127.0.0.1:9", progress=False)
    # the way out, in the library's words: an environment variable, never a command-line option
    assert "SULFML_DATA_DIR" in str(caught.value) and "--" not in str(caught.value)


def test_data_dir_is_checked_and_missing_files_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SULFML_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataSourceError, match="missing dataset file"):
        resolve_data_dir()


def test_data_dir_with_other_bytes_fails_unless_unverified(mini_data_dir, monkeypatch):
    monkeypatch.setenv("SULFML_VERIFY", "1")
    with pytest.raises(DataSourceError, match="sha256 mismatch"):
        resolve_data_dir(mini_data_dir)
    assert resolve_data_dir(mini_data_dir, verify=False) == mini_data_dir


def test_sha256_of(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"abc")
    assert sources.sha256_of(p) == hashlib.sha256(b"abc").hexdigest()
