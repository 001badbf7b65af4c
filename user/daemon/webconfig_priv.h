/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What webconfig.c (the text) and webconfig_io.c (the files, the passwords) share. */
#ifndef STRAND_WEBCONFIG_PRIV_H
#define STRAND_WEBCONFIG_PRIV_H

/* Joins and cleans as Go's filepath.Join does: "." and ".." taken out where they can be;
 * out has room for strlen(in) + 2 bytes. */
void web_config__clean_path(const char *in, char *out);

#endif /* STRAND_WEBCONFIG_PRIV_H */
