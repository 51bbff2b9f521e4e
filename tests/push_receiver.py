#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A stand-in for Pyroscope's /ingest in test_push: stores each upload's query and profile.
"""usage: push_receiver.py PORT DIR

Listens on 127.0.0.1:PORT. Every POST /ingest?QUERY becomes DIR/N.query
(the query string) and DIR/N.pprof (the multipart field "profile", or the
whole body when it is not multipart), N counting from 1 across restarts
(the files already in DIR are counted). Answers 200; 400 for a request
without a profile.
"""
import email.parser
import email.policy
import http.server
import os
import sys
import urllib.parse


def profile_of(ctype, body):
    if not ctype.startswith("multipart/form-data"):
        return body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "profile":
            return part.get_payload(decode=True)
    return None


class Ingest(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        prof = profile_of(self.headers.get("Content-Type", ""), body)
        if url.path != "/ingest" or not prof:
            self.send_response(400)
            self.end_headers()
            return
        d = sys.argv[2]
        n = 1 + sum(1 for f in os.listdir(d) if f.endswith(".query"))
        with open(os.path.join(d, "%d.pprof" % n), "wb") as f:
            f.write(prof)
        # the query last: a reader that sees it sees the profile too
        with open(os.path.join(d, "%d.query.tmp" % n), "w") as f:
            f.write(url.query + "\n")
        os.rename(os.path.join(d, "%d.query.tmp" % n), os.path.join(d, "%d.query" % n))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ingest)
    print("ready", flush=True)
    srv.serve_forever()
