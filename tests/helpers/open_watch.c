/* open_watch.c — see open_watch.h. */
#include "open_watch.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/inotify.h>

bool open_watch_start(open_watch *w, const char *dir)
{
    memset(w, 0, sizeof(*w));
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        return false;
    if (inotify_add_watch(w->fd, dir, IN_OPEN) < 0) {
        close(w->fd);
        w->fd = -1;
        return false;
    }
    return true;
}

static void add_name(open_watch *w, const char *name)
{
    char **grown = realloc(w->names, (w->count + 1) * sizeof(*grown));
    char *copy = strdup(name);
    if (!grown || !copy)
        abort(); /* a test helper: out of memory ends the test */
    w->names = grown;
    w->names[w->count++] = copy;
}

void open_watch_collect(open_watch *w)
{
    _Alignas(struct inotify_event) char buffer[16384];
    ssize_t got;
    while ((got = read(w->fd, buffer, sizeof(buffer))) > 0) {
        for (char *p = buffer; p < buffer + got;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if (e->mask & IN_Q_OVERFLOW)
                abort(); /* counts would be wrong: make the test fail loudly */
            if (e->len == 0)
                w->list_reads++; /* the watched directory itself */
            else
                add_name(w, e->name);
            p += sizeof(*e) + e->len;
        }
    }
}

#else

bool open_watch_start(open_watch *w, const char *dir)
{
    (void)dir;
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    return false;
}

void open_watch_collect(open_watch *w)
{
    (void)w;
}

#endif

void open_watch_reset(open_watch *w)
{
    open_watch_collect(w);
    for (size_t i = 0; i < w->count; i++)
        free(w->names[i]);
    free(w->names);
    w->names = NULL;
    w->count = 0;
    w->list_reads = 0;
}

size_t open_watch_opens(const open_watch *w, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < w->count; i++)
        if (strncmp(w->names[i], prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

void open_watch_stop(open_watch *w)
{
    open_watch_reset(w);
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}
