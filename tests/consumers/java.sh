#!/bin/bash
# Java 17 SunPKCS11 (issue 19): the provider configured by a file naming
# the module and a slotListIndex; keytool lists the empty token, generates
# an EC key pair with a self-signed certificate on it (-genkeypair) and
# lists it; java/SignVerify.java checks the certificate keytool signed on
# the token, signs with the key and with an RSA key pair generated through
# the provider, verifies in software, decrypts on the token what software
# encrypted.  pkcs11-tool sees what keytool stored.
source "$(dirname "$0")/lib.sh"
if ! command -v keytool >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    echo "SKIP: no keytool/java (Debian: openjdk-17-jdk-headless)"
    exit 77
fi
need_tools pkcs11-tool
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$WORK"
# Short-lived JVMs: the quick JIT tier and the serial collector halve the
# time of each keytool and java run.
export JAVA_TOOL_OPTIONS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

TOKEN=java
say "token"
init_token "$TOKEN"

# SunPKCS11 selects by slotListIndex, an index into C_GetSlotList(present):
# softse lists initialized tokens oldest first, then the blank token, so
# the token made first in this store is index 0.
cat >pkcs11.cfg <<CFG
name = softse
library = $MODULE
slotListIndex = 0
CFG
kt() {
    keytool -keystore NONE -storetype PKCS11 -providerName SunPKCS11-softse \
        -addprovider SunPKCS11 -providerArg pkcs11.cfg -storepass "$USER_PIN" "$@"
}

say "keytool"
check "keytool -list of the empty token" kt -list
grep_out "keytool sees the token, empty" "Your keystore contains 0 entries"
check "keytool -genkeypair EC secp256r1 on the token" kt -genkeypair -alias java-ec \
    -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA -dname "CN=softse java test" -validity 2
check "keytool -list shows the key" kt -list
grep_out "the key is a PrivateKeyEntry" "^java-ec, PrivateKeyEntry"
check "pkcs11-tool lists the key keytool made" p11 --token-label "$TOKEN" --login --pin "$USER_PIN" --list-objects
grep_out "an EC private key on the token" "Private Key Object; EC"
grep_out "keytool's certificate on the token" "Certificate Object"

say "a Java program signs on the token, software verifies"
check "java SignVerify.java" java "$HERE/java/SignVerify.java" pkcs11.cfg "$USER_PIN" java-ec
passed && cat "$WORK/last.out"

finish
