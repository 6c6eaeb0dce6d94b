/*
 * p11.h — what every softse source includes: the PKCS#11 3.0 types from
 * NSS's headers, the vendor ABI, the few macros shared by all rooms and
 * the log (common/log.h).  Part of common/, the library every target of
 * the project links (common/meson.build).
 */
#ifndef SOFTSE_P11_H
#define SOFTSE_P11_H

#include <pkcs11.h>
#include <softse/softse-pkcs11.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef NULL_PTR
#define NULL_PTR NULL
#endif

/* CKA_UNIQUE_ID is PKCS#11 3.0 but absent from NSS's header. */
#ifndef CKA_UNIQUE_ID
#define CKA_UNIQUE_ID 0x00000004UL
#endif

/* PKCS#11 3.0 mechanisms absent from NSS's header. */
#ifndef CKM_DES3_CMAC_GENERAL
#define CKM_DES3_CMAC_GENERAL 0x00000137UL
#endif
#ifndef CKM_DES3_CMAC
#define CKM_DES3_CMAC 0x00000138UL
#endif

#define SOFTSE_EXPORT __attribute__((visibility("default")))
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#include "log.h"

#endif
