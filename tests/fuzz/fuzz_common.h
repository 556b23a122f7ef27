/* fuzz_common: a scratch directory per fuzz process for harnesses whose
 * parser reads files (the config loader, meta.yml). */
#ifndef PADCTL_FUZZ_COMMON_H
#define PADCTL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* fuzz_dir returns the process's scratch directory (created on first use,
 * removed at exit); borrowed. */
const char *fuzz_dir(void);
/* fuzz_write writes size bytes to fuzz_dir()/rel (parents created); aborts on failure. */
void fuzz_write(const char *rel, const uint8_t *data, size_t size);

#endif
