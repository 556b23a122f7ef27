/* confine: files of the project that symlinks lead out of it.
 *
 * padctl follows symlinks (a shared migrations checkout may use them), but a
 * file that is inside the project by its path and outside it by its target is
 * worth knowing about: its text is echoed in plans and its checksum stored in
 * the ledger, so a planted link could show or record a file from anywhere.
 * Such a file is read, with one warning per file and run. */
#ifndef PADCTL_CONFINE_H
#define PADCTL_CONFINE_H

/* confine_set_root sets the project directory files are checked against
 * (copied; NULL turns the check off). */
void confine_set_root(const char *root);

/* confine_check warns once when path lies in the project by its name but its
 * real path (all symlinks resolved) lies outside the project. Paths outside
 * the project by name (configured so) and missing files are not reported. */
void confine_check(const char *path);

/* confine_plain says whether files below dir, reached from it through no
 * symlink, are ones confine_check never warns about: dir lies outside the
 * project by name, or inside it with no symlink, "." or ".." on the way from
 * the project directory. A reader of many such files (plan reads every
 * migration file) then opens them relative to dir with O_NOFOLLOW and takes
 * only links the slow way. */
int confine_plain(const char *dir);

/* confine_within is for files padctl refuses rather than warns about (seed
 * sets): 1 when path's real path (every symlink resolved) lies in dir's real
 * path, 0 when it lies outside or does not resolve. */
int confine_within(const char *path, const char *dir);

#endif
