/* Starts a program and says when: prints CLOCK_MONOTONIC in ns on stdout and
 * puts the same value in RNS_EXEC_NS, then execs argv[1..] at once. The
 * benchmark compares it with the time the first GET /next arrives.
 *
 * Usage: runtime_launch PROGRAM [ARG...] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: runtime_launch PROGRAM [ARG...]\n");
        return 2;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char now[32];
    int n = snprintf(now, sizeof now, "%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    setenv("RNS_EXEC_NS", now, 1);
    now[n] = '\n';
    if (write(STDOUT_FILENO, now, (size_t)n + 1) != n + 1)
        return 127;
    execv(argv[1], argv + 1);
    perror(argv[1]);
    return 127;
}
