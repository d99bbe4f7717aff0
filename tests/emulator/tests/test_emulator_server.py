# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The process and the server: command line, start-up lines, ready file, SIGTERM, TLS, keep-alive, concurrency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from emulator_helpers import ApiClient
from izuma_emulator.testing import EMULATOR_PYTHONPATH, Emulator, start_in_thread


def _run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": EMULATOR_PYTHONPATH}
    return subprocess.run([sys.executable, "-m", "izuma_emulator", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_cli_prints_settings_first_and_stops_cleanly_on_sigterm(tmp_path) -> None:
    ready_file = tmp_path / "ready.json"
    env = {**os.environ, "PYTHONPATH": EMULATOR_PYTHONPATH}
    command = [sys.executable, "-m", "izuma_emulator", "--port", "0", "--admin-key", "ak_" + "1" * 32,
               "--ready-file", str(ready_file), "--max-applications", "4"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        host_line = process.stdout.readline().strip()
        key_line = process.stdout.readline().strip()
        human_line = process.stdout.readline().strip()
        assert host_line.startswith("IZUMA_API_HOST=http://127.0.0.1:")
        assert key_line == "IZUMA_API_KEY=ak_" + "1" * 32
        assert human_line.startswith("Izuma emulator listening on http://127.0.0.1:")
        ready = json.loads(ready_file.read_text())
        assert ready == {"url": host_line.split("=", 1)[1], "admin_key": "ak_" + "1" * 32, "ca_bundle": None, "pid": process.pid}
        client = ApiClient(ready["url"], ready["admin_key"])
        for index in range(4):
            client.create_application(f"a{index}")
        assert client.post("/v3/applications", json={"name": "a4"}).json()["type"] == "account_limit_exceeded"
        client.session.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert "Izuma emulator stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert not ready_file.exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.1", "example.com"])
def test_cli_refuses_non_loopback_hosts(host: str) -> None:
    result = _run_cli("--host", host)
    assert result.returncode == 2 and "loopback" in result.stderr


def test_cli_refuses_admin_key_without_ak_prefix() -> None:
    result = _run_cli("--admin-key", "secret")
    assert result.returncode == 2 and "ak_" in result.stderr


def test_subprocess_emulator_with_tls() -> None:
    with Emulator(tls=True) as emulator:
        assert emulator.url.startswith("https://127.0.0.1:") and emulator.ca_bundle
        assert emulator.env() == {"IZUMA_API_HOST": emulator.url, "IZUMA_API_KEY": emulator.admin_key, "IZUMA_CA_BUNDLE": emulator.ca_bundle}
        trusted = ApiClient(emulator.url, emulator.admin_key, verify=emulator.ca_bundle)
        assert trusted.get("/v3/applications").status_code == 200
        # localhost is in the certificate too.
        assert ApiClient(emulator.url.replace("127.0.0.1", "localhost"), emulator.admin_key, verify=emulator.ca_bundle).get(
            "/v3/policy-groups").status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            ApiClient(emulator.url, emulator.admin_key).get("/v3/applications")
        # The server survives the failed handshake.
        assert trusted.get("/v3/applications").status_code == 200
        assert [entry["status"] for entry in emulator.log()] == [200, 200, 200]
        process = emulator.process
    assert process is not None and process.returncode == 0


def test_in_thread_emulator_with_tls() -> None:
    with start_in_thread(tls=True) as emulator:
        assert ApiClient(emulator.url, emulator.admin_key, verify=emulator.ca_bundle).get("/v3/applications").status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            ApiClient(emulator.url, emulator.admin_key).get("/v3/applications")
        tls_dir = os.path.dirname(emulator.ca_bundle or "")
    assert not os.path.exists(tls_dir)


def test_keep_alive_reuses_one_connection(api: ApiClient) -> None:
    sockets = set()
    for _attempt in range(5):
        response = api.session.get(api.url + "/v3/policy-groups", headers={"Authorization": f"Bearer {api.admin_key}"}, stream=True)
        sockets.add(id(response.raw.connection.sock))
        response.content  # pylint: disable=pointless-statement
    assert len(sockets) == 1


def test_concurrent_creates_are_consistent(api: ApiClient, emulator) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        client = ApiClient(emulator.url, emulator.admin_key)
        response = client.post("/v3/applications", json={"name": f"parallel-{index}"})
        duplicate = client.post("/v3/applications", json={"name": "contended"})
        with lock:
            results.extend([response.status_code, duplicate.status_code])
        client.session.close()

    threads = [threading.Thread(target=create, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [201] * 21 + [409] * 19
    listed = api.get("/v3/applications", params={"limit": 100, "include": "total_count"}).json()
    assert listed["total_count"] == 21
    assert len({item["id"] for item in listed["data"]}) == 21
    assert len(emulator.writes()) == 40


def test_concurrent_key_uploads_respect_the_limit(api: ApiClient, emulator, certs) -> None:
    application = api.create_application("a")
    pems = [certs.certificate(certs.ec()) for _index in range(10)]
    statuses: list[int] = []

    def upload(index: int) -> None:
        client = ApiClient(emulator.url, emulator.admin_key)
        statuses.append(client.post(f"/v3/applications/{application['id']}/verification-keys",
                                    json={"name": f"k{index}", "certificate": pems[index]}).status_code)
        client.session.close()

    threads = [threading.Thread(target=upload, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [201, 201] + [400] * 8
    assert len(api.get(f"/v3/applications/{application['id']}/verification-keys").json()["data"]) == 2
