/*
 * softse-issuer.h — the issuer (server) side of softse's vendor
 * protocols, in plain OpenSSL: what verifies and recovers what the card
 * made.  Link with libsoftse-issuer.
 */
#ifndef SOFTSE_ISSUER_H
#define SOFTSE_ISSUER_H

#include "issuer-gkea.h" /* docs/spec.md §4 */
#include "issuer-ki.h"   /* docs/spec.md §5 */

#endif
