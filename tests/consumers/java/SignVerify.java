// Java 17 SunPKCS11 on softse (tests/consumers/java.sh, issue 19): the
// provider from a configuration file, the token as a PKCS11 KeyStore.
// Checks the certificate keytool -genkeypair signed with the token's EC
// key, then signs with that key and with an
// RSA key pair the provider generates on the token, then verifies each
// signature in software (SunEC, SunRsaSign) with the public key; data
// changed by one byte must not verify.  RSA PKCS#1 v1.5 encryption in
// software must decrypt on the token.
//
// usage: java SignVerify.java <pkcs11.cfg> <PIN> <alias>
import java.nio.charset.StandardCharsets;
import java.security.*;
import java.security.cert.Certificate;
import java.util.Arrays;
import javax.crypto.Cipher;

public class SignVerify {
    static int failures = 0;

    static void check(boolean ok, String what) {
        System.out.println((ok ? "ok: " : "FAIL: ") + what);
        if (!ok)
            failures++;
    }

    static void signAndVerify(Provider token, String algorithm, PrivateKey key, PublicKey pub,
                              String software) throws Exception {
        byte[] data = ("signed on softse with " + algorithm).getBytes(StandardCharsets.UTF_8);
        Signature signer = Signature.getInstance(algorithm, token);
        signer.initSign(key);
        signer.update(data);
        byte[] signature = signer.sign();
        check(signer.getProvider() == token, algorithm + " signed by " + token.getName());

        Signature verifier = Signature.getInstance(algorithm, software);
        verifier.initVerify(pub);
        verifier.update(data);
        check(verifier.verify(signature), algorithm + " signature verified by " + software);

        data[0] ^= 1;
        verifier.initVerify(pub);
        verifier.update(data);
        check(!verifier.verify(signature), algorithm + ": changed data does not verify");
    }

    public static void main(String[] args) throws Exception {
        Provider token = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.addProvider(token);
        char[] pin = args[1].toCharArray();
        KeyStore store = KeyStore.getInstance("PKCS11", token);
        store.load(null, pin);
        System.out.println("keystore entries: " + java.util.Collections.list(store.aliases()));

        PrivateKey ecKey = (PrivateKey) store.getKey(args[2], null);
        Certificate ecCert = store.getCertificate(args[2]);
        check(ecKey != null && ecCert != null, "the keytool key and its certificate are on the token");
        try {
            ecCert.verify(ecCert.getPublicKey(), "SunEC");
            check(true, "keytool's self-signed certificate (signed on the token) verifies in SunEC");
        } catch (GeneralSecurityException e) {
            check(false, "keytool's certificate does not verify: " + e);
        }
        signAndVerify(token, "SHA256withECDSA", ecKey, ecCert.getPublicKey(), "SunEC");

        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA", token);
        generator.initialize(2048);
        KeyPair rsa = generator.generateKeyPair();
        signAndVerify(token, "SHA256withRSA", rsa.getPrivate(), rsa.getPublic(), "SunRsaSign");

        byte[] secret = "a secret for the token".getBytes(StandardCharsets.UTF_8);
        Cipher encrypt = Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
        encrypt.init(Cipher.ENCRYPT_MODE, rsa.getPublic());
        Cipher decrypt = Cipher.getInstance("RSA/ECB/PKCS1Padding", token);
        decrypt.init(Cipher.DECRYPT_MODE, rsa.getPrivate());
        check(Arrays.equals(decrypt.doFinal(encrypt.doFinal(secret)), secret),
              "RSA/ECB/PKCS1Padding: encrypted by SunJCE, decrypted on the token");

        if (failures > 0) {
            System.out.println(failures + " check(s) FAILED");
            System.exit(1);
        }
    }
}
