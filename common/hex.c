/*
 * hex.c — see hex.h.
 */
#include "hex.h"

int se_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool se_hex_decode(const char *text, size_t text_len, unsigned char *out, size_t max, size_t *len)
{
    if (text_len % 2 || text_len / 2 > max)
        return false;
    for (size_t i = 0; i < text_len; i += 2)
        if (se_hex_digit(text[i]) < 0 || se_hex_digit(text[i + 1]) < 0)
            return false;
    for (size_t i = 0; i < text_len; i += 2)
        out[i / 2] = (unsigned char)(se_hex_digit(text[i]) << 4 | se_hex_digit(text[i + 1]));
    *len = text_len / 2;
    return true;
}

void se_hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}
