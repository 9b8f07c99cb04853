"""Downloads against a local HTTP server on 127.0.0.1 serving files the test makes."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ganstudio.engine.download import download, download_dataset
from ganstudio.engine.errors import Cancelled, DatasetError

CONTENT = bytes(range(256)) * 4096  # 1 MiB
SHA256 = hashlib.sha256(CONTENT).hexdigest()
MD5 = hashlib.md5(CONTENT).hexdigest()


class Server:
    """Serves CONTENT at /good, /drop (the first answer stops half-way), /stall (headers and a
    little data, then nothing) and 404 elsewhere; Range requests are honoured."""

    def __init__(self):
        self.requests: list[tuple[str, str | None]] = []
        self.release = threading.Event()
        self.drops = 1
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                name = self.path.split("?")[0]
                if name not in ("/good", "/drop", "/stall", "/other"):
                    self.send_error(404, "Not Found")
                    return
                body = CONTENT if name != "/other" else b"not the file" * 100
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                try:
                    if name == "/drop" and server.drops > 0:
                        server.drops -= 1
                        self.wfile.write(body[start : start + len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if name == "/stall":
                        self.wfile.write(body[:1000])
                        self.wfile.flush()
                        server.release.wait(30)
                        return
                    self.wfile.write(body[start:])
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_good_download_lands_verified_with_progress(server, tmp_path):
    seen = []
    path = download([f"{server.base}/good"], tmp_path / "file.bin", sha256=SHA256,
                    progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == CONTENT
    assert not (tmp_path / "file.bin.part").exists()
    assert seen[-1] == (len(CONTENT), len(CONTENT))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # Already there and verified: no second request.
    download([f"{server.base}/good"], path, sha256=SHA256)
    assert len(server.requests) == 1


def test_a_connection_dropped_half_way_is_resumed(server, tmp_path):
    path = download([f"{server.base}/drop"], tmp_path / "file.bin", md5=MD5)
    assert path.read_bytes() == CONTENT
    assert server.requests == [("/drop", None), ("/drop", f"bytes={len(CONTENT) // 2}-")]


def test_a_wrong_checksum_deletes_the_file_and_says_so(server, tmp_path):
    with pytest.raises(DatasetError, match=r"Could not download file\.bin\. .*/other: wrong "
                                           r"sha256 checksum \(expected .*\); the file was "
                                           r"deleted"):
        download([f"{server.base}/other"], tmp_path / "file.bin", sha256=SHA256)
    assert list(tmp_path.iterdir()) == []


def test_a_404_passes_the_turn_to_the_next_mirror(server, tmp_path):
    path = download([f"{server.base}/gone", f"{server.base}/good"], tmp_path / "file.bin",
                    sha256=SHA256)
    assert path.read_bytes() == CONTENT
    assert [p for p, _ in server.requests] == ["/gone", "/good"]


def test_a_stalled_server_times_out_with_a_clear_message(server, tmp_path):
    with pytest.raises(DatasetError, match=r"/stall: gave up after 4 attempts: the server "
                                           r"stalled \(no data for 0\.2 s\)"):
        download([f"{server.base}/stall"], tmp_path / "file.bin", sha256=SHA256, timeout=0.2)
    # Each attempt resumed after the 1,000 bytes it had, and they are kept for the next try.
    assert server.requests[1] == ("/stall", "bytes=1000-")


def test_every_mirror_failing_names_each(server, tmp_path):
    with pytest.raises(DatasetError, match=r"/nope: HTTP 404 .* \| http://127\.0\.0\.1:1/x: "
                                           r"cannot connect"):
        download([f"{server.base}/nope", "http://127.0.0.1:1/x"], tmp_path / "f.bin", md5=MD5)


def test_cancel_keeps_the_part_to_resume_later(server, tmp_path):
    calls = []
    with pytest.raises(Cancelled, match="resumes where it stopped"):
        download([f"{server.base}/good"], tmp_path / "file.bin", sha256=SHA256,
                 progress=lambda done, total: calls.append(done),
                 cancel=lambda: len(calls) >= 3)
    kept = (tmp_path / "file.bin.part").stat().st_size
    assert 0 < kept < len(CONTENT)
    path = download([f"{server.base}/good"], tmp_path / "file.bin", sha256=SHA256)
    assert path.read_bytes() == CONTENT and server.requests[-1] == ("/good", f"bytes={kept}-")


def test_download_dataset_from_the_catalogue(server, tmp_path, monkeypatch):
    from ganstudio.engine.data import catalogue

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    entry = catalogue.CatalogueEntry(
        "tiny", "Tiny", "", "", "", (f"{server.base}/gone-", f"{server.base}/"),
        (catalogue.CatalogueFile("good", len(CONTENT), SHA256, None),
         catalogue.CatalogueFile("drop", len(CONTENT), None, MD5)),
        "", (),
    )
    monkeypatch.setattr(catalogue, "catalogue", lambda: {"tiny": entry})
    seen = []
    folder = download_dataset("tiny", progress=lambda done, total: seen.append((done, total)))
    assert folder == tmp_path / "cache" / "downloads" / "tiny"
    assert (folder / "good").read_bytes() == (folder / "drop").read_bytes() == CONTENT
    assert seen[-1] == (2 * len(CONTENT), 2 * len(CONTENT))
    assert catalogue.resolve_source("tiny") == folder


def test_catalogue_lists_the_standard_sets_with_checksums():
    from ganstudio.engine.data.catalogue import catalogue

    sets = catalogue()
    assert set(sets) == {"mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100"}
    for entry in sets.values():
        assert entry.mirrors and entry.files
        for f in entry.files:
            assert f.sha256 and len(f.sha256) == 64 and f.md5 and len(f.md5) == 32
    assert sets["cifar10"].files[0].md5 == "c58f30108f718f92721af3b95e74349a"
