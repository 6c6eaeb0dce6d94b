/*
 * vendor_family.h — the one name the core knows of the vendor room
 * (module/families.c).
 */
#ifndef SOFTSE_VENDOR_FAMILY_H
#define SOFTSE_VENDOR_FAMILY_H

#include <stdbool.h>

/* Registers the vendor mechanisms, attributes and key types; false when a
 * table refused them (full, or lookups already begun). */
bool vendor_register(void);

#endif
