/* The process environment behind the dm_env vtable. */
#include <stdlib.h>

#include "ddbmig/common.h"

static const char *process_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static const dm_env process_env = {process_get, NULL};

const dm_env *dm_env_process(void) { return &process_env; }

const char *dm_env_get(const dm_env *env, const char *name)
{
    if (!env)
        env = &process_env;
    const char *v = env->get(env->ud, name);
    return (v && *v) ? v : NULL;
}
