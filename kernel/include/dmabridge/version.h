/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _DMABRIDGE_VERSION_H
#define _DMABRIDGE_VERSION_H

/* One version for every module, the library and the CLI of a release. */
#define DMABRIDGE_VERSION "0.1.0"

#endif /* _DMABRIDGE_VERSION_H */
