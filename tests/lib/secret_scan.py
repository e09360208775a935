"""Searches outputs of ./bootstrap for what README.md, "Logs and metrics" says never reaches a log line: the
secret key, the session token (whole, or any piece of WINDOW characters), a SigV4 signature (every
one the fakes received, read from the Authorization headers they recorded, and anything that
looks like "Signature=" or "Credential="), and CloudFormation response URLs with their query
strings and values.

    scan = SecretScan({SECRET: "the secret key", TOKEN: "the session token"})
    scan.response_url(url)            # a presigned URL: all of it, its query, its values
    scan.add("where", text)           # an output; scan.add_proc("where", proc) reads proc.output()
    scan.harvest(fake_elbv2.calls)    # before the fake's calls are reset
    scan.missed(fake.authorizations)  # signatures the fake received that were never harvested
    scan.found() -> [(where, what)]   scan.lines() -> lines scanned

LocalStack (stack.py) keeps one for every output of every ./bootstrap it runs and reports a leak
at exit as a failed case (`not ok - stack_outputs_hold_no_secret: ...`), so every suite on the
local stack checks this; the robustness suites use it directly.
"""
import re

SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")
HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
MARKERS = ("Signature=", "X-Amz-Signature", "Credential=")
WINDOW = 20


def signatures(authorizations):
    """The SigV4 signatures of Authorization header values."""
    return {m.group(1) for m in map(SIGNATURE.search, authorizations) if m}


class SecretScan:
    def __init__(self, secrets=None):
        self.secrets = dict(secrets or {})   # value -> what it is
        self.partial = dict(secrets or {})   # also searched for by pieces of WINDOW characters
        self.signatures = set()
        self.outputs = []                    # (where, text)
        self.procs = []                      # (where, process with .output())

    def secret(self, value, what, pieces=False):
        if value:
            self.secrets[value] = what
            if pieces:
                self.partial[value] = what

    def response_url(self, url):
        """A presigned ResponseURL: the whole URL, its query string and each longer value of it."""
        self.secret(url, "a CloudFormation ResponseURL")
        if "?" in url:
            query = url.split("?", 1)[1]
            self.secret(query, "a ResponseURL's query string")
            for pair in query.split("&"):
                value = pair.split("=", 1)[-1]
                if len(value) >= 12:
                    self.secret(value, "a value of a ResponseURL's query string")

    def harvest(self, calls):
        """Records the signatures of a fake's recorded calls (fake_query.py)."""
        for c in calls:
            self.signatures.update(signatures([c.get("headers", {}).get("authorization", "")]))

    def missed(self, authorizations):
        """The signatures of these Authorization headers that were never harvested: a case whose
        calls were forgotten without harvest() would hide its leaks from found()."""
        return signatures(authorizations) - self.signatures

    def add(self, where, text):
        self.outputs.append((where, text if isinstance(text, str) else text.decode(errors="replace")))

    def add_proc(self, where, proc):
        self.procs.append((where, proc))

    def _texts(self):
        for where, text in self.outputs:
            yield where, text
        for where, proc in self.procs:
            yield where, "".join(proc.output())

    def found(self):
        bad = []
        for where, text in self._texts():
            for value, what in self.secrets.items():
                if value in text:
                    bad.append((where, what))
            for value, what in self.partial.items():
                if len(value) > WINDOW and any(value[i:i + WINDOW] in text for i in range(len(value) - WINDOW + 1)):
                    bad.append((where, "a part of " + what))
            for m in HEX64.finditer(text):
                if m.group(0) in self.signatures:
                    bad.append((where, "a SigV4 signature"))
            for marker in MARKERS:
                if marker in text:
                    bad.append((where, "%r (an Authorization header or a presigned query)" % marker))
        return sorted(set(bad))

    def lines(self):
        return sum(t.count("\n") + (1 if t and not t.endswith("\n") else 0) for _, t in self._texts())

    def report(self, limit=10):
        return "; ".join("%s in %s" % (what, where) for where, what in self.found()[:limit])
