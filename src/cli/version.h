/* ddbmig --version: what this binary is and what it was built with. */
#ifndef DDBMIG_CLI_VERSION_H
#define DDBMIG_CLI_VERSION_H

#include <stdio.h>

/* Prints the version on its first line ("ddbmig 0.1.0", which scripts may
 * read), then the git commit, how it was linked, and each library's
 * version at build time (its headers) and at run time (its own call). */
void cli_print_version(FILE *f);

#endif
