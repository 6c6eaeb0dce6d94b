/* store_probe.c — see store_probe.h. */
#include "store_probe.h"

#include "tok.h"

int store_probe_flush_audit(const char *db_path)
{
    tok *t = NULL;
    CK_RV rv = tok_open(db_path, &t);
    if (rv == CKR_OK)
        rv = tok_audit_flush(t);
    tok_close(t);
    return rv == CKR_OK ? 0 : -1;
}
