/* envpkg.h - which files a process read are its environment (the system's
 * and the interpreter's code and configuration, docs/RECORD.md
 * "environment"), and the Debian and Python packages they belong to.
 *
 * Runs in the agent, on the host where the files are: the training process
 * never pays for it. dpkg's database (/var/lib/dpkg/info/<pkg>.list and
 * /var/lib/dpkg/status) is read once, on the first environment file of the
 * run; a site-packages directory's *.dist-info / *.egg-info metadata once
 * per directory. Lookups then cost a hash probe. */
#ifndef TT_ENVPKG_H
#define TT_ENVPKG_H

typedef struct tt_envpkg tt_envpkg;

/* New empty cache reading dpkg's database under dpkg_dir (NULL:
 * /var/lib/dpkg), or NULL on ENOMEM. Free with envpkg_free. */
tt_envpkg *envpkg_new(const char *dpkg_dir);
void envpkg_free(tt_envpkg *e);

/* 1 if path (absolute), read by a process whose executable is exe (may be
 * NULL), is part of its environment by the rule of docs/RECORD.md, else 0.
 * A pure function of its arguments: it reads no file. */
int envpkg_is_environment(const char *exe, const char *path);

/* The packages path belongs to: "deb:<name>=<version>" and/or
 * "python:<name>=<version>", space-separated, owned by e (valid until
 * envpkg_free); NULL if none is known or path is package metadata itself
 * (reading a *.dist-info is not using that package). */
const char *envpkg_packages(tt_envpkg *e, const char *path);

#endif
