/* curl_printf_probe: prints what libcurl's printf family makes of a set of formats
 * (URLs, request lines, NULL strings, widths, precision, positional arguments, strings
 * around the 256-byte staging run of scripts/patches/curl-printf-runs.patch). Built
 * twice by tests/package/test_curl_patches.py, against Debian's libcurl and against the
 * patched static one of the package; the two outputs must be identical. */
#include <curl/curl.h>
#include <curl/mprintf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void show(const char *tag, char *s)
{
    if (!s) {
        printf("%s: NULL\n", tag);
        return;
    }
    printf("%s: %zu [%s]\n", tag, strlen(s), s);
    curl_free(s);
}
int main(void)
{
    char big[1000], lit[1200];
    for (int i = 0; i < 999; i++)
        big[i] = (char)('a' + i % 26);
    big[999] = 0;
    for (int i = 0; i < 1100; i++)
        lit[i] = (char)('A' + i % 26);
    strcpy(lit + 1100, " %s|%d|%5s|%-5s|%.3s|%%|%#s\n");
    show("url",
         curl_maprintf("%s://%s%s%s%s%s%s%s%s%s%s%s%s%s%s", "https", "user", ":", "pw", "@",
                       "elasticloadbalancing.us-east-1.amazonaws.com", ":", "443", "/", "", "?", "q=1", "#", "f", ""));
    show("req", curl_maprintf("%s %s HTTP/%s\r\n%s%s%s", "POST", "/", "1.1", "Host: x\r\n", (char *)NULL, ""));
    show("null", curl_maprintf("[%s][%.2s][%10s][%-10s]", (char *)NULL, (char *)NULL, (char *)NULL, "ab"));
    show("big", curl_maprintf("<%s>%s<%.500s>", big, big, big));
    show("lit", curl_maprintf(lit, big, 42, "ab", "cd", "efghij", "q"));
    show("mix", curl_maprintf("%d %u %ld %lx %c %c%s %zu %5.2f %p", -5, 7u, 123456789L, 0xbeefL, 'x', 0, "after-nul",
                              (size_t)99, 3.14159, (void *)0));
    show("pos", curl_maprintf("%2$s %1$s %s", "one", "two", "three"));
    show("empty", curl_maprintf("%s", ""));
    show("none", curl_maprintf(""));
    show("star", curl_maprintf("%.*s|%*s|%-*s|", 3, "abcdef", 6, "ab", 4, "c"));
    char buf[8];
    int n = curl_msnprintf(buf, sizeof buf, "%s-%s", "abcdef", "ghij");
    printf("snprintf: %d [%s]\n", n, buf);
    for (int len = 250; len < 262; len++) {
        char *s = malloc((size_t)len + 1);
        memset(s, 'z', (size_t)len);
        s[len] = 0;
        show("edge", curl_maprintf("x%sy%sz", s, s));
        free(s);
    }
    return 0;
}
