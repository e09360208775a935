/* probe: the deployment package's libraries, exercised without the handler.
 *
 *   probe --version      prints the versions of libcurl, OpenSSL, jansson, expat
 *   probe URL [CAFILE]   GETs URL (TLS verified; libcurl's built-in CA bundle
 *                        unless CAFILE), reads the root element of an XML body
 *                        with expat, and prints one JSON object built by jansson
 *
 * scripts/package.sh links it exactly like bootstrap, so the package tests can
 * tell a broken static TLS stack from a handler bug. Exit 0 when a response
 * arrived, 1 when the request failed, 2 on usage. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <expat.h>
#include <jansson.h>
#include <openssl/crypto.h>

typedef struct body {
    XML_Parser parser;
    char root[128];
    int bad_xml;
} body;

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    body *b = ud;
    (void)attrs;
    if (b->root[0] == '\0')
        snprintf(b->root, sizeof b->root, "%s", name);
}

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
    body *b = ud;
    if (!b->bad_xml && XML_Parse(b->parser, data, (int)(size * n), 0) == XML_STATUS_ERROR)
        b->bad_xml = 1;
    return size * n;
}

static json_t *versions(void)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "curl", curl_version(), "openssl", OpenSSL_version(OPENSSL_VERSION),
                     "jansson", jansson_version_str(), "expat", XML_ExpatVersion());
}

static int print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* Runs one GET; fills *status and the parsed root element. */
static CURLcode get(const char *url, const char *cafile, body *b, long *status, char *err)
{
    CURL *h = curl_easy_init();
    CURLcode rc;
    if (!h)
        return CURLE_OUT_OF_MEMORY;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    if (cafile)
        curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    return rc;
}

static int fetch(const char *url, const char *cafile)
{
    body b = {0};
    char err[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    json_t *out = versions();
    int code = 1;

    b.parser = XML_ParserCreateNS(NULL, '|');
    if (!out || !b.parser || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "probe: out of memory\n");
        goto done;
    }
    XML_SetUserData(b.parser, &b);
    XML_SetStartElementHandler(b.parser, on_start);
    rc = get(url, cafile, &b, &status, err);
    json_object_set_new(out, "curlCode", json_integer(rc));
    json_object_set_new(out, "status", json_integer(status));
    json_object_set_new(out, "xmlRoot", b.root[0] && !b.bad_xml ? json_string(b.root) : json_null());
    if (rc != CURLE_OK)
        json_object_set_new(out, "error", json_string(err[0] ? err : curl_easy_strerror(rc)));
    code = print_json(out) == 0 && rc == CURLE_OK ? 0 : 1;
    curl_global_cleanup();
done:
    if (b.parser)
        XML_ParserFree(b.parser);
    json_decref(out);
    return code;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        json_t *v = versions();
        int rc = v && print_json(v) == 0 ? 0 : 1;
        json_decref(v);
        return rc;
    }
    if (argc == 2 || argc == 3)
        return fetch(argv[1], argc == 3 ? argv[2] : NULL);
    fprintf(stderr, "usage: probe --version | probe URL [CAFILE]\n");
    return 2;
}
