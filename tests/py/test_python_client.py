#!/usr/bin/python3
"""Debian's python3-socketio against a real gsio-node, over polling and WebSocket."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import socketio

BUILD_DIR = os.environ.get("GSIO_BUILD_DIR",
                           os.path.join(os.path.dirname(__file__), "..", "..", "build"))
NODE = os.path.join(BUILD_DIR, "src", "bin", "gsio-node")


class Node:
    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="gsio-py-")
        self.proc = subprocess.Popen(
            [NODE, "--host", "127.0.0.1", "--port", "0", "--data-dir", self.data_dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = ""
        deadline = time.time() + 15
        self.port = None
        while time.time() < deadline and self.port is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log += line
            m = re.search(r"ready on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            self.stop()
            raise RuntimeError("gsio-node did not start:\n" + self.log)
        # Keep draining stderr so the node never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def run_client(self, transports):
        client = socketio.Client(reconnection=False)
        received = []
        got_entry = threading.Event()
        got_auth = threading.Event()

        @client.on("ledger_entry_added")
        def on_added(entry):
            received.append(entry)
            got_entry.set()

        @client.on("auth")
        def on_auth(payload):
            self.assertEqual(payload, {"who": "python"})
            got_auth.set()

        client.connect(self.node.url, transports=transports, auth={"who": "python"},
                       wait_timeout=10)
        try:
            self.assertEqual(client.transport(), transports[-1])
            self.assertTrue(got_auth.wait(5), "auth event")
            data = {"from": "python", "transport": transports[-1], "text": "héllo ✓"}
            entry = client.call("add_ledger_entry", data, timeout=10)
            self.assertNotIn("error", entry)
            self.assertEqual(entry["data"], data)
            self.assertRegex(entry["hash"], r"^[0-9a-f]{64}$")
            self.assertTrue(got_entry.wait(5), "ledger_entry_added")
            self.assertIn(entry, received)
            chain = client.call("get_ledger", {"from": 0, "limit": 1000}, timeout=10)
            self.assertEqual(chain[-1], entry)
            for i in range(1, len(chain)):
                self.assertEqual(chain[i]["previous_hash"], chain[i - 1]["hash"])
            pong = threading.Event()
            client.on("pong", lambda d: pong.set() if d == {"n": 1} else None)
            client.emit("ping", {"n": 1})
            self.assertTrue(pong.wait(5), "pong")
        finally:
            client.disconnect()

    def test_polling(self):
        self.run_client(["polling"])

    def test_websocket(self):
        self.run_client(["websocket"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
