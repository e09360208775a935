/* Baselines for the start-up benchmark (tests/bench/runtime_bench.py compiles
 * it itself, static and dynamic): how long after exec main() runs, and, with
 * PROBE_CURL, what curl_global_init() costs. RNS_EXEC_NS comes from
 * tests/tools/runtime_launch. Prints "main_ns N [global_init_ns N]". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef PROBE_CURL
#include <curl/curl.h>
#include <jansson.h>
#endif

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
    long long t_main = now_ns();
    const char *t0 = getenv("RNS_EXEC_NS");
    if (!t0)
        return 2;
    printf("main_ns %lld", t_main - atoll(t0));
#ifdef PROBE_CURL
    long long t = now_ns();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf(" global_init_ns %lld", now_ns() - t);
    json_decref(json_object()); /* keeps libjansson linked, as in the runtime */
    curl_global_cleanup();
#endif
    printf("\n");
    return 0;
}
