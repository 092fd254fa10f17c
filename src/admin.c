/* admin.c - `ragrade admin`: placeholder until the admin commands land. */
#include "conf.h"

#include <stdio.h>

int admin_main(conf *cf, int argc, char **argv);

int admin_main(conf *cf, int argc, char **argv)
{
    (void)cf;
    (void)argc;
    (void)argv;
    fprintf(stderr, "ragrade admin: not built yet\n");
    return 2;
}
