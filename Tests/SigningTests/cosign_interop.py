#!/usr/bin/python3
"""An independent implementation of cosign's key and signature formats, for pushctl's tests.

Written from the formats (go-securesystemslib `encrypted`, cosign `pkg/cosign/keys.go`, the
simple-signing payload), not from pushctl's code, with Debian's python3-cryptography (ECDSA,
PKCS#8, SubjectPublicKeyInfo, scrypt) and python3-nacl (secretbox). Run with /usr/bin/python3.

Subcommands (all output on stdout; exit 0 on success):
  make-key  --passphrase P --key FILE --pub FILE [--pem-type T]   write an encrypted key pair; print the key id
  decrypt   --key FILE --passphrase P                              print the key id of the decrypted key
                                                                   (exit 3 and "wrong passphrase" if it does not open)
  sign      --key FILE --passphrase P --payload FILE               print the base64 DER signature
  verify    --pub FILE --payload FILE --signature B64              print "ok" (exit 0) or "bad" (exit 1)
  key-id    --pub FILE                                             print the key id of a PEM public key
  payload   --digest D --identity REF                              print the simple-signing payload cosign writes
  manifest  --manifest FILE --config FILE                          print a JSON summary of a signature manifest,
                                                                   after checking it (config digest, diff_ids)
"""
import argparse
import base64
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
import nacl.exceptions
import nacl.secret

SIGSTORE_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"


def pem_encode(kind, der):
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, "\n".join(lines), kind)


def pem_decode(text):
    lines = text.strip().splitlines()
    kind = lines[0][len("-----BEGIN "):-len("-----")]
    assert lines[-1] == "-----END %s-----" % kind, "bad PEM end line"
    return kind, base64.b64decode("".join(lines[1:-1]))


def scrypt_key(passphrase, salt, n, r, p):
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def encrypt(plaintext, passphrase):
    salt = os.urandom(32)
    nonce = os.urandom(24)
    key = scrypt_key(passphrase, salt, 32768, 8, 1)
    sealed = nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext  # MAC || ciphertext
    body = {
        "kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decrypt(body, passphrase):
    data = json.loads(body)
    assert data["kdf"]["name"] == "scrypt" and data["cipher"]["name"] == "nacl/secretbox"
    params = data["kdf"]["params"]
    key = scrypt_key(passphrase, base64.b64decode(data["kdf"]["salt"]), params["N"], params["r"], params["p"])
    return nacl.secret.SecretBox(key).decrypt(base64.b64decode(data["ciphertext"]), base64.b64decode(data["cipher"]["nonce"]))


def key_id(public_key):
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def load_private(path, passphrase):
    kind, body = pem_decode(open(path).read())
    assert kind in (SIGSTORE_TYPE, COSIGN_TYPE), "unexpected PEM type " + kind
    try:
        pkcs8 = decrypt(body, passphrase.encode())
    except nacl.exceptions.CryptoError:
        print("wrong passphrase")
        sys.exit(3)
    key = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    return key


def load_public(path):
    key = serialization.load_pem_public_key(open(path, "rb").read())
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    return key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--passphrase")
    parser.add_argument("--key")
    parser.add_argument("--pub")
    parser.add_argument("--pem-type", default=SIGSTORE_TYPE)
    parser.add_argument("--payload")
    parser.add_argument("--signature")
    parser.add_argument("--digest")
    parser.add_argument("--identity")
    parser.add_argument("--manifest")
    parser.add_argument("--config")
    args = parser.parse_args()

    if args.command == "make-key":
        key = ec.generate_private_key(ec.SECP256R1())
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        fd = os.open(args.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pem_encode(args.pem_type, encrypt(pkcs8, args.passphrase.encode())))
        with open(args.pub, "w") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
        print(key_id(key.public_key()))
    elif args.command == "decrypt":
        print(key_id(load_private(args.key, args.passphrase).public_key()))
    elif args.command == "sign":
        key = load_private(args.key, args.passphrase)
        payload = open(args.payload, "rb").read()
        print(base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode())
    elif args.command == "verify":
        payload = open(args.payload, "rb").read()
        try:
            load_public(args.pub).verify(base64.b64decode(args.signature), payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            print("bad")
            sys.exit(1)
        print("ok")
    elif args.command == "key-id":
        print(key_id(load_public(args.pub)))
    elif args.command == "payload":
        payload = {
            "critical": {
                "identity": {"docker-reference": args.identity},
                "image": {"docker-manifest-digest": args.digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
        sys.stdout.write(json.dumps(payload, separators=(",", ":")))
    elif args.command == "manifest":
        manifest = json.load(open(args.manifest))
        config = open(args.config, "rb").read()
        assert manifest["schemaVersion"] == 2
        assert manifest["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest(), "config digest"
        assert manifest["config"]["size"] == len(config), "config size"
        layers = manifest["layers"]
        assert json.loads(config)["rootfs"]["diff_ids"] == [layer["digest"] for layer in layers], "diff_ids"
        summary = [
            {"digest": layer["digest"], "size": layer["size"], "mediaType": layer["mediaType"],
             "signature": layer.get("annotations", {}).get(SIGNATURE_ANNOTATION)}
            for layer in layers
        ]
        print(json.dumps({"mediaType": manifest.get("mediaType"), "layers": summary}, sort_keys=True))
    else:
        parser.error("unknown command " + args.command)


if __name__ == "__main__":
    main()
