/* The floor of the start-up benchmark (tests/bench/bench.py builds it with
 * `cc -static -O2`): a program that does nothing but what every Lambda
 * runtime must do before its first invocation, connect to
 * AWS_LAMBDA_RUNTIME_API and send GET /2018-06-01/runtime/invocation/next.
 * Its exec -> first /next time is what exec, the loader and one local TCP
 * connection cost on this machine; no runtime can start faster.
 *
 * It reads the answer (the benchmark replies 500) and exits 0, or 1 when
 * the API cannot be reached, 2 when AWS_LAMBDA_RUNTIME_API is not an
 * IPv4 host:port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char request[] = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "\r\n";

static int parse_api(const char *api, struct sockaddr_in *sa)
{
    const char *colon = api ? strrchr(api, ':') : NULL;
    char host[INET_ADDRSTRLEN];
    size_t n = colon ? (size_t)(colon - api) : 0;
    if (!colon || n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, api, n);
    host[n] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int main(void)
{
    struct sockaddr_in sa;
    if (parse_api(getenv("AWS_LAMBDA_RUNTIME_API"), &sa) != 0)
        return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return 1;
    if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1))
        return 1;
    char answer[512];
    while (read(fd, answer, sizeof answer) > 0)
        ;
    close(fd);
    return 0;
}
