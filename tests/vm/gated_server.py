#!/usr/bin/env python3
"""An HTTP server for the VM tests that holds back every block file until /tmp/release
exists (at most 60 s), so that a test can keep reads waiting for the network.

usage: gated_server.py DIR PORT   (serves DIR on 127.0.0.1:PORT)
"""
import http.server
import os
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if "/blocks/" in self.path:
            deadline = time.time() + 60
            while not os.path.exists("/tmp/release") and time.time() < deadline:
                time.sleep(0.05)
        super().do_GET()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.daemon_threads = True
os.chdir(sys.argv[1])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
