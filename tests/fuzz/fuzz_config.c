/* fuzz_config: the YAML loader of padctl.yml, envs/NAME.yml and pipelines/NAME.yml
 * (config.c). The first byte picks the file the rest of the input becomes;
 * the other two files stay valid, so the env and pipeline parsers are reached. */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"
#include "log.h"

static const char project_yml[] =
	"project: fz\nschemas:\n  owned: [app]\n  protected: [ref]\nseeds:\n  allow_in_prod: [common]\n";
static const char env_yml[] = "tier: nonprod\npipeline: p\ntargets:\n  t1:\n    database: {host: 127.0.0.1, port: 5432}\n";
static const char pipeline_yml[] = "steps:\n  - validate: preflight\n  - migrate\non_failure: stop\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int which = data[0] % 3;
	data++;
	size--;
	fuzz_write("padctl.yml", which == 0 ? data : (const uint8_t *)project_yml,
		   which == 0 ? size : strlen(project_yml));
	fuzz_write("envs/e.yml", which == 1 ? data : (const uint8_t *)env_yml, which == 1 ? size : strlen(env_yml));
	fuzz_write("pipelines/p.yml", which == 2 ? data : (const uint8_t *)pipeline_yml,
		   which == 2 ? size : strlen(pipeline_yml));
	struct cfg_project p;
	if (config_load_project(fuzz_dir(), &p) == 0) {
		struct cfg_env e;
		if (config_load_env(&p, "e", &e) == 0) {
			struct cfg_pipeline pl;
			if (config_load_pipeline(&p, e.pipeline, &e, &pl) == 0)
				config_pipeline_release(&pl);
			config_env_release(&e);
		}
		config_project_release(&p);
	}
	err_clear();
	return 0;
}
