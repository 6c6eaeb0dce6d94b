/* threads_probe.c — see threads_probe.h. */
#include "threads_probe.h"

#include <dirent.h>
#include <time.h>

size_t threads_probe_count(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

size_t threads_probe_settle(size_t expected)
{
    /* A joined thread's tid is cleared (and pthread_join returns) before
     * the kernel removes its task from /proc: on a busy machine it can
     * stay listed a moment longer. */
    size_t n = threads_probe_count();
    for (int i = 0; i < 200 && n != expected; i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
        n = threads_probe_count();
    }
    return n;
}
