/* name: the one check of the names padctl accepts from a user, a file or a
 * plugin. Every kind is plain ASCII with no space, quote, slash or control
 * character, so a name is safe in a file name, in a message and in the
 * ledger without escaping; the kinds differ in case, '-', the first
 * character and length:
 *
 *   NAME_WORD       envs, targets, pipelines, steps, seed sets and the
 *                   plugins a pipeline names: [A-Za-z0-9_-], 1 to 63
 *   NAME_IDENT      schemas (an unquoted SQL identifier): [A-Za-z0-9_],
 *                   not starting with a digit, 1 to 63
 *   NAME_PLUGIN     a plugin's own name in its descriptor: [a-z0-9_-], 1 to 64
 *   NAME_PROJECT    `padctl init --name` (it also names the owned schema):
 *                   [a-z0-9_], not starting with a digit, 1 to 63
 *   NAME_MIGRATION  `padctl new NAME`: [a-z0-9_], 1 to 100
 */
#ifndef PADCTL_NAME_H
#define PADCTL_NAME_H

#include <stddef.h>

enum name_kind { NAME_WORD, NAME_IDENT, NAME_PLUGIN, NAME_PROJECT, NAME_MIGRATION };

/* name_valid tells whether s is a valid name of that kind (NULL is not). */
int name_valid(enum name_kind kind, const char *s);
/* name_max is the longest name of that kind, in bytes. */
size_t name_max(enum name_kind kind);

#endif
