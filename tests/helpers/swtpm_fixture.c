/* swtpm_fixture.c — see swtpm_fixture.h. */
#include "swtpm_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TRIES 20      /* ports taken between our probe and swtpm's bind */
#define START_WAIT_MS 10000 /* swtpm under a loaded machine can be slow */

bool swtpm_available(void)
{
    const char *path = getenv("PATH");
    char *copy, *save = NULL;
    bool found = false;
    if (!path || !(copy = strdup(path)))
        return false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char exe[4096];
        snprintf(exe, sizeof(exe), "%s/swtpm", dir);
        found = access(exe, X_OK) == 0;
    }
    free(copy);
    return found;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

static bool port_free(int port)
{
    struct sockaddr_in addr = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int swtpm_free_port(void)
{
    struct sockaddr_in addr = loopback(0);
    socklen_t len = sizeof(addr);
    int port = -1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static bool port_accepts(int port)
{
    struct sockaddr_in addr = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void child_exec(const char *dir, int port, int ctrl)
{
    char state[300], server[80], control[80];
    int null = open("/dev/null", O_RDWR);
    /* The TPM must not outlive a test that crashes. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
    }
    snprintf(state, sizeof(state), "dir=%s", dir);
    snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", port);
    snprintf(control, sizeof(control), "type=tcp,port=%d,bindaddr=127.0.0.1", ctrl);
    execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", server, "--ctrl",
           control, "--flags", "not-need-init,startup-clear", (char *)NULL);
    fprintf(stderr, "swtpm_fixture: exec swtpm: %s\n", strerror(errno));
    _exit(127);
}

/* Waits until the child accepts on port (true) or exits (false). */
static bool wait_ready(pid_t pid, int port)
{
    struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
    for (int waited = 0; waited < START_WAIT_MS; waited += 10) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false;
        if (port_accepts(port))
            return true;
        nanosleep(&pause, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "swtpm_fixture: swtpm did not listen within %d ms\n", START_WAIT_MS);
    return false;
}

/* The swtpm TCTI finds the control channel at the server's port + 1. */
static bool start_once(swtpm_fixture *f)
{
    int port = swtpm_free_port(), ctrl = port + 1;
    pid_t pid;
    if (port < 0 || ctrl > 65535 || !port_free(ctrl))
        return false;
    pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
        child_exec(f->dir, port, ctrl);
    if (!wait_ready(pid, port))
        return false;
    f->pid = pid;
    snprintf(f->tcti, sizeof(f->tcti), "swtpm:host=127.0.0.1,port=%d", port);
    return true;
}

bool swtpm_start(swtpm_fixture *f)
{
    if (!f->dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/softse-swtpm.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(f->dir)) {
            fprintf(stderr, "swtpm_fixture: mkdtemp %s: %s\n", f->dir, strerror(errno));
            f->dir[0] = '\0';
            return false;
        }
    }
    for (int i = 0; i < START_TRIES; i++)
        if (start_once(f))
            return true;
    fprintf(stderr, "swtpm_fixture: swtpm did not start on %s\n", f->dir);
    return false;
}

void swtpm_kill(swtpm_fixture *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
    f->tcti[0] = '\0';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void swtpm_stop(swtpm_fixture *f)
{
    swtpm_kill(f);
    if (f->dir[0])
        nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    f->dir[0] = '\0';
}
