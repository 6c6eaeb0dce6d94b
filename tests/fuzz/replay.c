/*
 * replay.c — runs a fuzz target on files without libFuzzer: every file
 * named, and every file of every directory named, in name order, through
 * LLVMFuzzerInitialize once and LLVMFuzzerTestOneInput each.  Built in
 * every build (tests/reliability/meson.build) to replay the seed corpora
 * and the saved crashes (tests/fuzz/regressions/) as ordinary tests.
 *
 * Like libFuzzer's -timeout, an input that runs longer than
 * SOFTSE_FUZZ_TIMEOUT seconds (default 30) fails: a hang is a defect too.
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long replayed;
static const char *current;
static unsigned timeout_seconds = 30;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "replay: FAIL: timeout: this input runs longer than SOFTSE_FUZZ_TIMEOUT: ";
    if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, current, strlen(current)) < 0 ||
        write(2, "\n", 1) < 0) {
    }
    _exit(70);
}

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 4096, len = 0;
    unsigned char *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    if (!data) {
        fprintf(stderr, "replay: out of memory\n");
        exit(1);
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    current = path;
    alarm(timeout_seconds);
    LLVMFuzzerTestOneInput(data, len);
    alarm(0);
    free(data);
    replayed++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return; /* a directory not made yet: nothing to replay */
    if (!S_ISDIR(st.st_mode)) {
        replay_file(path);
        return;
    }
    struct dirent **entries;
    int n = scandir(path, &entries, NULL, by_name);
    for (int i = 0; i < n; i++) {
        if (entries[i]->d_name[0] != '.') {
            char file[4096];
            snprintf(file, sizeof(file), "%s/%s", path, entries[i]->d_name);
            replay_file(file);
        }
        free(entries[i]);
    }
    free(entries);
}

int main(int argc, char **argv)
{
    const char *t = getenv("SOFTSE_FUZZ_TIMEOUT");
    if (t && atoi(t) > 0)
        timeout_seconds = (unsigned)atoi(t);
    signal(SIGALRM, on_alarm);
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++)
        replay_path(argv[i]);
    printf("replay: %lu inputs, no crash\n", replayed);
    return 0;
}
