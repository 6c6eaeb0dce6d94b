/*
 * open_watch.h — which files of a directory a piece of code opens, and how
 * often it reads the directory's list (inotify IN_OPEN), so that a test can
 * assert that the code leaves files alone instead of timing it.
 *
 * Events of every process are seen: start or reset the watch after other
 * processes are done.  Only Linux has inotify: elsewhere, or when the
 * kernel refuses a watch, open_watch_start returns false and the test is
 * skipped.
 */
#ifndef SOFTSE_TEST_OPEN_WATCH_H
#define SOFTSE_TEST_OPEN_WATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct open_watch {
    int fd;
    unsigned long list_reads; /* opens of the directory itself: opendir() */
    char **names;             /* the file opened, once per open */
    size_t count;
} open_watch;

bool open_watch_start(open_watch *w, const char *dir);
/* Collects the opens made so far (inotify queues them before open()
 * returns, so nothing made before this call is missed). */
void open_watch_collect(open_watch *w);
/* Collects, then forgets everything collected. */
void open_watch_reset(open_watch *w);
/* Opens collected of files whose name starts with prefix. */
size_t open_watch_opens(const open_watch *w, const char *prefix);
void open_watch_stop(open_watch *w);

#endif
