# Sourced by shell tests that run an uninstrumented program (pkcs11-tool,
# p11tool, certutil…) on softse-pkcs11.so.  When the module was built with
# AddressSanitizer/UBSan, the sanitizer runtime must be the first library
# loaded, so it is preloaded into those programs.  Leak checks are off
# there: they would report the programs' own allocations, not the module's
# (the C tests, which are instrumented, check the module for leaks).
#
# softse_sanitizer_preload MODULE: sets SOFTSE_PRELOAD (empty for a normal
# build); returns 1 when the runtime cannot be preloaded (the caller skips
# itself with exit 77, meson's "skipped").
softse_sanitizer_preload() {
    local module=$1 runtimes
    SOFTSE_PRELOAD=
    runtimes=$(ldd "$module" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ {print $3}')
    [ -n "$runtimes" ] || return 0
    SOFTSE_PRELOAD=$(echo "$runtimes" | paste -sd:)
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    LD_PRELOAD=$SOFTSE_PRELOAD true 2>/dev/null || return 1
}
