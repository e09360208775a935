/* The logger: configuration from the Lambda variables, and writing each line
 * with one write(2) so lines of concurrent writers never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log_internal.h"
#include "common/utf8.h"

void logger_init(logger *lg, FILE *out)
{
    memset(lg, 0, sizeof *lg);
    lg->out = out;
    const char *format = getenv("AWS_LAMBDA_LOG_FORMAT");
    lg->json = format && strcasecmp(format, "JSON") == 0;
    if (log_parse_level(getenv("AWS_LAMBDA_LOG_LEVEL"), &lg->threshold) != 0)
        lg->threshold = LOG_INFO;
}

void logger_set_request_id(logger *lg, const char *request_id)
{
    if (!lg)
        return;
    /* Cut at a character boundary so a JSON line never carries half of one. */
    size_t len = 0;
    char *clean = request_id ? rns_utf8_clean(request_id, strlen(request_id), sizeof lg->request_id - 1, &len) : NULL;
    memcpy(lg->request_id, clean ? clean : "", len + 1);
    free(clean);
}

int logger_enabled(const logger *lg, log_level level)
{
    return lg && lg->out && level >= lg->threshold;
}

/* Anything the FILE holds goes first, then the line in one write; streams
 * without a descriptor (open_memstream) get one fwrite. */
static void write_line(FILE *out, const char *line, size_t len)
{
    fflush(out);
    int fd = fileno(out);
    if (fd < 0) {
        fwrite(line, 1, len, out);
        fflush(out);
        return;
    }
    while (len > 0) {
        ssize_t n = write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere else to report a failed log write */
        line += n;
        len -= (size_t)n;
    }
}

void log_fields(logger *lg, log_level level, const char *message, const json_t *fields)
{
    if (!logger_enabled(lg, level))
        return;
    size_t len;
    char *line = log_format_line(lg, level, rns_wall_ms(), message, fields, &len);
    if (line)
        write_line(lg->out, line, len);
    free(line);
}

void log_msg(logger *lg, log_level level, const char *fmt, ...)
{
    if (!logger_enabled(lg, level))
        return;
    char small[512], *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof small) {
        msg = malloc((size_t)n + 1);
        if (!msg)
            return;
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    log_fields(lg, level, msg, NULL);
    if (msg != small)
        free(msg);
}

void log_raw_line(logger *lg, const char *line)
{
    if (!lg || !lg->out || !line)
        return;
    size_t n = strlen(line);
    char *copy = malloc(n + 2);
    if (!copy)
        return;
    memcpy(copy, line, n);
    size_t len = n;
    if (n == 0 || line[n - 1] != '\n')
        copy[len++] = '\n';
    write_line(lg->out, copy, len);
    free(copy);
}
