/* Signs one fixed ELBv2 RegisterTargets request (as the Lambda function sends
 * it: session credentials, form body) again and again and prints the rate.
 *
 *   sigv4_bench [SECONDS]      (default 2)
 *
 * Output, one line: `signatures_per_second RATE signatures N seconds S`,
 * then the Authorization of the last signing, so a caller can check that the
 * request signed is the one it expects. tests/bench/sigv4_bench.py signs the
 * same request with botocore. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4/sigv4.h"

static const char body[] =
    "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3A"
    "eu-west-1%3A111122223333%3Atargetgroup%2Fpg-writer-tg%2F5d2c7e41a9b3f086"
    "&Targets.member.1.Id=10.20.2.118&Targets.member.1.Port=5432";

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const sigv4_header headers[] = {
        {"Host", "elasticloadbalancing.eu-west-1.amazonaws.com"},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
    };
    const sigv4_request req = {"POST", "/", headers, 2, body, sizeof body - 1};
    const sigv4_credentials creds = {
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQExampleSessionToken+/="};
    const sigv4_params params = {"eu-west-1", "elasticloadbalancing", "20150830T123600Z"};
    double seconds = argc > 1 ? atof(argv[1]) : 2.0, start, took;
    sigv4_signer *signer = sigv4_signer_new();
    sigv4_signature sig = {0};
    char err[256], last[512] = "";
    unsigned long n = 0;

    if (!signer || seconds <= 0) {
        fprintf(stderr, "usage: sigv4_bench [SECONDS > 0]\n");
        return 2;
    }
    start = now();
    do {
        for (int i = 0; i < 1000; i++, n++) {
            if (sigv4_sign(signer, &req, &creds, &params, &sig, err, sizeof err) != 0) {
                fprintf(stderr, "sigv4_bench: %s\n", err);
                return 1;
            }
            if (i == 999)
                snprintf(last, sizeof last, "%s", sig.authorization);
            sigv4_signature_free(&sig);
        }
        took = now() - start;
    } while (took < seconds);
    printf("signatures_per_second %.0f signatures %lu seconds %.3f\n%s\n", (double)n / took, n, took, last);
    sigv4_signer_free(signer);
    return 0;
}
