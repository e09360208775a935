"""The fake CloudFormation response receiver: stands in for the presigned S3 URL a custom resource
answers to. The local stack runs one (LocalStack.cfn); a suite without the stack starts its own.

    receiver = fake_cfn.CfnReceiver()       # listens on 127.0.0.1, an ephemeral port
    url = receiver.url()                     # presigned-looking; its signature is const.CFN_SIGNATURE
    receiver.fail_next(500)                  # the next PUT answers 500
    [response] = receiver.wait(1)            # dict method, path, headers, body, json, time, status
    receiver.reset(); receiver.stop()
"""
import http.server
import json
import threading
import time

from const import CFN_SIGNATURE

ADDRESS = "127.0.0.1"


class CfnReceiver:
    """Stands in for the presigned S3 URL a custom resource answers to: records every request
    (dict method, path, headers, body, json, time) and answers 200, or a status queued with
    fail_next()."""

    def __init__(self):
        receiver = self
        self.responses = []
        self._fail = []
        self._cond = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                with receiver._cond:
                    status = receiver._fail.pop(0) if receiver._fail else 200
                    receiver.responses.append(dict(method=self.command, path=self.path, body=body, json=parsed,
                                                   headers={k.lower(): v for k, v in self.headers.items()},
                                                   time=time.monotonic(), status=status))
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT

        self._server = http.server.ThreadingHTTPServer((ADDRESS, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="stack-cfn", daemon=True)
        self._thread.start()

    def url(self, path="/cfn-response"):
        """A URL shaped like a presigned S3 URL; its signature must never reach a log line."""
        return "http://%s:%d%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=%s" % (
            ADDRESS, self.port, path, CFN_SIGNATURE)

    def fail_next(self, status, count=1):
        with self._cond:
            self._fail += [status] * count

    def wait(self, count=1, timeout=60.0):
        """The first `count` requests received, once they have arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.responses) >= count, timeout):
                raise TimeoutError("%d CloudFormation response(s) within %.1fs, want %d"
                                   % (len(self.responses), timeout, count))
            return list(self.responses[:count])

    def reset(self):
        with self._cond:
            self.responses, self._fail = [], []

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
