"""A cluster failover staged on the local stack (LocalStack.failover): the writer moves in the fake
RDS, then the cluster endpoint's DNS record follows."""
import threading
import time


class ClusterFailover:
    """A failover staged on the stack: the writer moves in the fake RDS, then the cluster
    endpoint's DNS record follows dns_lead_s later (see LocalStack.failover)."""

    def __init__(self, s, new_writer, dns_lead_s, dns_not_before, dns_cap_s):
        self.s, self.new_writer, self.dns_lead_s = s, new_writer, dns_lead_s
        self.dns_not_before, self.dns_cap_s = dns_not_before, dns_cap_s
        self.api_time = self.dns_time = self.error = None
        self.dns_capped = False  # the DNS move came at dns_cap_s, not after dns_not_before
        self.done = threading.Event()

    def move_api(self):
        try:
            self.s.move_writer(self.new_writer)
            self.api_time = time.monotonic()
            threading.Thread(target=self._move_dns, name="stack-failover", daemon=True).start()
        except Exception as e:  # handed to wait()
            self.error = e
            self.done.set()

    def _move_dns(self):
        try:
            time.sleep(max(0.0, self.api_time + self.dns_lead_s - time.monotonic()))
            if self.dns_not_before is not None:
                self.dns_capped = not self.dns_not_before.wait(max(0.0, self.api_time + self.dns_cap_s
                                                                   - time.monotonic()))
            self.dns_time = self.s.move_cluster_dns(self.new_writer)
        except Exception as e:  # handed to wait()
            self.error = e
        self.done.set()

    def wait(self, timeout=60):
        """(monotonic time the API moved, monotonic time dnsmasq served the new cluster record)."""
        if not self.done.wait(timeout):
            raise TimeoutError("the staged failover did not finish within %s s (API moved: %s)"
                               % (timeout, self.api_time is not None))
        if self.error:
            raise self.error
        return self.api_time, self.dns_time
