/* shim_path.c - absolute paths and the skip list; see shim.h. */
#include "shim.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void shim_path_normalize(char *path)
{
    /* Output is never longer than input, so rewrite in place. `seg` keeps the
     * start of each emitted component so ".." can drop the last one. */
    char *out = path + 1, *in = path + 1;
    while (*in) {
        while (*in == '/')
            in++;
        char *end = strchrnul(in, '/');
        size_t n = (size_t)(end - in);
        if (n == 1 && in[0] == '.') {
            /* drop */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            if (out > path + 1) {
                out--; /* the '/' after the last component */
                while (out > path + 1 && out[-1] != '/')
                    out--;
            }
        } else if (n > 0) {
            memmove(out, in, n);
            out += n;
            if (*end)
                *out++ = '/';
        }
        in = end;
    }
    if (out > path + 1 && out[-1] == '/')
        out--;
    *out = 0;
}

int shim_path_absolute(int dirfd, const char *path, char *out, size_t cap)
{
    size_t plen = strlen(path);
    size_t blen;
    if (path[0] == '/') {
        blen = 0;
    } else if (dirfd == AT_FDCWD) {
        if (!getcwd(out, cap))
            return -1;
        blen = strlen(out);
    } else {
        char link[32];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t r = readlink(link, out, cap - 1);
        if (r <= 0 || out[0] != '/')
            return -1;
        blen = (size_t)r;
    }
    if (blen + 1 + plen + 1 > cap)
        return -1;
    if (blen)
        out[blen++] = '/';
    memcpy(out + blen, path, plen + 1);
    shim_path_normalize(out);
    return 0;
}

static int under(const char *abs, const char *dir, size_t n)
{
    return strncmp(abs, dir, n) == 0 && (abs[n] == '/' || abs[n] == 0);
}

int shim_path_skip(const char *abs)
{
    return under(abs, "/proc", 5) || under(abs, "/sys", 4) || under(abs, "/dev", 4);
}

int shim_path_ours(const char *abs)
{
    return shim_cfg.python_dir_len && under(abs, shim_cfg.python_dir, shim_cfg.python_dir_len);
}
