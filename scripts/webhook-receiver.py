#!/usr/bin/env python3
"""A merchant endpoint for trying payhub by hand: prints every event it receives and whether
its Standard Webhooks signature verifies.

    scripts/webhook-receiver.py 9000 whsec_...   # then register http://127.0.0.1:9000/
"""
import base64
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
SECRET = sys.argv[2] if len(sys.argv) > 2 else ""


def signature_ok(headers, body):
    if not SECRET:
        return None
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return expected in headers.get("webhook-signature", "").split(" ")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        event = json.loads(body)
        verdict = {None: "unchecked", True: "signature ok", False: "BAD SIGNATURE"}[signature_ok(self.headers, body)]
        print(f"{event['type']:<20} {event['resource_id']}  status={event['data'].get('status')}  ({verdict})", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
