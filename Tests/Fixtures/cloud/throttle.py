"""An AWS Query endpoint on 127.0.0.1 that answers every call with Throttling (alv's retry tests).

  throttle.py PORT      serves until killed; prints each action it refused
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

BODY = (b'<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
        b'<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>')


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(min(length, 1 << 16)).decode(errors="replace")
        print("refused", next((p[7:] for p in form.split("&") if p.startswith("Action=")), "?"), flush=True)
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
